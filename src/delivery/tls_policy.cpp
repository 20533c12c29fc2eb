// See tls_policy.hpp. Every branch cites the rule it implements; the summary line states the
// decision so that no downgrade is ever silent.
#include "delivery/tls_policy.hpp"

#include "dane/tlsa.hpp"
#include "mtasts/policy.hpp"

namespace mx::delivery {
namespace {

constexpr std::pair<std::string_view, Level> kLevels[] = {
    {"none", Level::none},     {"may", Level::may},   {"encrypt", Level::encrypt},
    {"verify", Level::verify}, {"dane", Level::dane}, {"dane-only", Level::dane_only},
};

Error skip_error(Stage stage, Permanence permanence, std::string detail, const dns::MxHost& h) {
  Error e;
  e.stage = stage;
  e.permanence = permanence;
  e.detail = std::move(detail);
  e.host = h.name;
  return e;
}

void add_name(std::vector<std::string>& names, const std::string& n) {
  if (n.empty()) return;
  for (const auto& have : names)
    if (have == n) return;
  names.push_back(n);
}

bool sts_enforce(const mtasts::Policy* sts) {
  return sts && sts->mode == mtasts::Mode::enforce;
}
bool sts_testing(const mtasts::Policy* sts) {
  return sts && sts->mode == mtasts::Mode::testing;
}

void opportunistic(HostPolicy& p) {
  p.tls = smtp::TlsMode::opportunistic;
  p.handshake.verify = tls::Verify::none;
  p.plaintext_fallback = true;  // RFC 7435 §2: better unauthenticated TLS, or else plaintext
}

void pkix(HostPolicy& p, const dns::MxHost& h) {
  p.tls = smtp::TlsMode::required;
  p.handshake.verify = tls::Verify::pkix;
  p.handshake.reference_names = {h.name};
  p.auth = Authentication::pkix;
}

}  // namespace

Result<Level> parse_level(std::string_view name) {
  for (const auto& [n, l] : kLevels)
    if (n == name) return l;
  return fail(
      permanent_error(Stage::usage, "unknown TLS policy '" + std::string(name) +
                                        "' (use dane, dane-only, verify, encrypt, may or none)"));
}

const char* level_name(Level level) {
  for (const auto& [n, l] : kLevels)
    if (l == level) return n.data();
  return "?";
}

HostPolicy decide_host_policy(const DomainFacts& d, const dns::MxHost& h) {
  HostPolicy p;
  p.handshake.sni = h.name;
  // RFC 8689 §5: "TLS-Required: No" asks that policy failures be ignored: opportunistic TLS.
  Level level = d.tls_required_no ? Level::may : d.level;
  switch (level) {
    case Level::none:
      p.tls = smtp::TlsMode::none;
      p.summary = "TLS disabled by --tls-policy none";
      break;
    case Level::may:
      opportunistic(p);
      p.summary = d.tls_required_no ? "opportunistic TLS (the message says TLS-Required: No)"
                                    : "opportunistic TLS (--tls-policy may)";
      break;
    case Level::encrypt:
      p.tls = smtp::TlsMode::required;
      p.summary = "TLS required, unauthenticated (--tls-policy encrypt)";
      break;
    case Level::verify:
      pkix(p, h);
      p.summary =
          "TLS required with a PKIX-valid certificate for " + h.name + " (--tls-policy verify)";
      break;
    case Level::dane:
    case Level::dane_only: {
      const dane::DaneDecision decision = dane::decide(h);
      p.dane = decision != dane::DaneDecision::no_dane;
      switch (decision) {
        case dane::DaneDecision::host_unusable:
          // RFC 7672 §2.2: a failed TLSA lookup for a secure host must not become plaintext.
          p.skip = skip_error(Stage::dane, Permanence::temporary,
                              "the TLSA lookup for " + h.name + " failed" +
                                  (h.tlsa_error ? ": " + h.tlsa_error->detail : std::string()) +
                                  "; the host is skipped rather than used without DANE",
                              h);
          p.summary = "DANE: TLSA lookup failed, host skipped";
          return p;
        case dane::DaneDecision::authenticate: {
          p.tls = smtp::TlsMode::required;
          p.handshake.verify = tls::Verify::dane;
          p.handshake.tlsa = dane::classify(h.tlsa).usable;
          // RFC 7672 §3.2.2 reference identifiers; SNI is the TLSA base domain (§8.1).
          p.handshake.sni = h.tlsa_base.empty() ? h.name : h.tlsa_base;
          add_name(p.handshake.reference_names, p.handshake.sni);
          add_name(p.handshake.reference_names, h.name);
          add_name(p.handshake.reference_names, h.expanded_name);
          if (d.implicit_mx) add_name(p.handshake.reference_names, d.next_hop);
          p.auth = Authentication::dane;
          // RFC 7672 §2.2.1 allows DANE via an insecure MX RRset (Postfix's default); say so.
          p.dane_trusted_only = !d.mx_secure;
          p.summary =
              "DANE: " + std::to_string(p.handshake.tlsa.size()) +
              " usable TLSA record(s) at _25._tcp." + p.handshake.sni +
              ": TLS required and authenticated" +
              (p.dane_trusted_only ? " (MX RRset insecure: \"trusted\", not \"verified\")" : "");
          break;
        }
        case dane::DaneDecision::encrypt_only:
          if (level == Level::dane_only) {
            p.skip =
                skip_error(Stage::dane, Permanence::temporary,
                           "no usable TLSA record for " + h.name + " (--tls-policy dane-only)", h);
            return p;
          }
          // RFC 7672 §2.2: a secure TLSA RRset with no usable record still means TLS is mandatory.
          p.tls = smtp::TlsMode::required;
          p.summary = "DANE: TLSA records published but none usable: TLS required, unauthenticated";
          break;
        case dane::DaneDecision::no_dane:
          if (level == Level::dane_only) {
            p.skip = skip_error(
                Stage::dane, Permanence::temporary,
                "no DNSSEC-secure TLSA records for " + h.name + " (--tls-policy dane-only)", h);
            return p;
          }
          if (d.sts_unavailable && !d.sts) {
            p.skip = *d.sts_unavailable;
            p.skip->permanence = Permanence::temporary;
            p.skip->detail = "cannot check MTA-STS: " + p.skip->detail;
            p.summary = "MTA-STS could not be checked on this machine: host deferred";
            return p;
          }
          if (sts_enforce(d.sts)) {
            // RFC 8461 §4.1-4.2: only hosts the policy names, with a PKIX-valid certificate.
            if (!d.sts->matches(h.name)) {
              p.skip = skip_error(
                  Stage::tls, Permanence::temporary,
                  "MTA-STS policy of " + d.next_hop + " (enforce) does not list " + h.name, h);
              p.summary = "MTA-STS enforce: host not in the policy, skipped";
              return p;
            }
            pkix(p, h);
            p.summary = "MTA-STS enforce: TLS required with a PKIX-valid certificate for " + h.name;
          } else if (sts_testing(d.sts)) {
            opportunistic(p);
            p.sts_testing = true;
            p.sts_mx_mismatch = !d.sts->matches(h.name);
            p.summary =
                std::string("MTA-STS testing: opportunistic TLS; failures are only reported") +
                (p.sts_mx_mismatch ? " (host not in the policy)" : "");
          } else {
            opportunistic(p);
            p.summary = "no DANE or MTA-STS policy: opportunistic TLS";
          }
          break;
      }
      break;
    }
  }
  // RFC 8689 §4.2.1: REQUIRETLS needs DANE over a DNSSEC-secure MX, or an MTA-STS enforce policy
  // that names the host (or PKIX over a secure MX), never opportunistic TLS.
  if (d.require_tls && !d.tls_required_no) {
    bool ok = (p.auth == Authentication::dane && d.mx_secure) ||
              (p.auth == Authentication::pkix &&
               (d.mx_secure || (sts_enforce(d.sts) && d.sts->matches(h.name))));
    if (!ok) {
      p.skip = skip_error(Stage::tls, Permanence::permanent,
                          "REQUIRETLS: " + h.name +
                              " cannot be authenticated through DANE over a secure MX "
                              "or an MTA-STS enforce policy",
                          h);
      p.skip->enhanced = "5.7.30";
      return p;
    }
    p.plaintext_fallback = false;
  }
  return p;
}

}  // namespace mx::delivery
