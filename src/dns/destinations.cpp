// gather_destinations: the MX / null MX / implicit MX rules and the TLSA base domain rules of
// RFC 7672 §2.2 over the Resolver interface.
#include "dns/destinations.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <random>
#include <utility>

#include "dns/records.hpp"

namespace mx::dns {
namespace {

Error dns_error(Permanence permanence, std::string detail) {
  Error e;
  e.stage = Stage::dns;
  e.permanence = permanence;
  e.detail = std::move(detail);
  return e;
}

Error no_such_domain(std::string detail) {
  Error e = dns_error(Permanence::permanent, std::move(detail));
  e.reason = Reason::no_such_domain;
  return e;
}

std::string bogus_detail(const std::string& name, std::uint16_t type, const Answer& a) {
  return "DNSSEC validation failed for " + name + " " + type_name(type) + ": " +
         (a.why_bogus.empty() ? std::string("no reason given") : a.why_bogus);
}

/// Sorts by preference, keeps the first (most preferred) record of each exchange and shuffles
/// hosts of equal preference so that load spreads as RFC 5321 §5.1 asks.
std::vector<MxRecord> order_mx(std::vector<MxRecord> records,
                               const std::function<std::uint32_t()>& random) {
  std::stable_sort(records.begin(), records.end(), [](const MxRecord& a, const MxRecord& b) {
    return a.preference < b.preference;
  });
  std::vector<MxRecord> unique;
  for (auto& r : records) {
    const bool seen = std::any_of(unique.begin(), unique.end(),
                                  [&](const MxRecord& u) { return u.exchange == r.exchange; });
    if (!seen) unique.push_back(std::move(r));
  }
  for (std::size_t begin = 0; begin < unique.size();) {
    std::size_t end = begin + 1;
    while (end < unique.size() && unique[end].preference == unique[begin].preference) ++end;
    for (std::size_t k = end - begin - 1; k > 0; --k) {  // Fisher-Yates within the group
      const std::size_t j = random() % (k + 1);
      std::swap(unique[begin + k], unique[begin + j]);
    }
    begin = end;
  }
  return unique;
}

/// Fills addresses, expanded_name, addresses_secure and lookup_error of `host` from its AAAA
/// and A results (in that order).
void apply_addresses(MxHost& host, const Result<Answer>& aaaa, const Result<Answer>& a) {
  std::vector<std::string> found[2];  // [0] = IPv6, [1] = IPv4
  bool secure = true;
  std::optional<Error> error;
  const Result<Answer>* results[2] = {&aaaa, &a};
  const std::uint16_t types[2] = {rrtype::AAAA, rrtype::A};
  for (int f = 0; f < 2; ++f) {
    const auto& res = *results[f];
    if (!res) {
      if (!error) error = res.error();
      continue;
    }
    const Answer& ans = *res;
    if (ans.security == Security::bogus) {
      // A bogus answer means someone tampers with this host's records: do not use it at all.
      if (!error) error = dns_error(Permanence::temporary, bogus_detail(host.name, types[f], ans));
      continue;
    }
    if (ans.rcode != rcode::noerror && ans.rcode != rcode::nxdomain) {
      if (!error) {
        error = dns_error(Permanence::temporary, "DNS lookup of " + host.name + " " +
                                                     type_name(types[f]) +
                                                     " failed: " + rcode_name(ans.rcode));
      }
      continue;
    }
    if (ans.security != Security::secure) secure = false;
    if (!ans.canonical_name.empty() && !same_name(ans.canonical_name, host.name)) {
      host.expanded_name = normalize_name(ans.canonical_name);
    }
    for (const auto& rdata : ans.rdata) {
      auto ip = types[f] == rrtype::AAAA ? parse_aaaa(rdata) : parse_a(rdata);
      if (ip) found[f].push_back(std::move(*ip));  // malformed records are skipped
    }
  }
  if (error) {
    error->host = host.name;
    host.lookup_error = std::move(error);
    host.addresses_secure = false;
    return;
  }
  // Alternate the families, IPv6 first (RFC 8305 §4 interleaving, RFC 6724 preference).
  for (std::size_t k = 0; k < std::max(found[0].size(), found[1].size()); ++k) {
    if (k < found[0].size()) host.addresses.push_back({found[0][k], AF_INET6});
    if (k < found[1].size()) host.addresses.push_back({found[1][k], AF_INET});
  }
  host.addresses_secure = secure;
  // Every answer that carried the CNAME chain was secure (the validator judges the chain with
  // the answer), so the expansion is exactly as secure as the addresses.
  host.expanded_secure = secure;
  if (host.addresses.empty()) {
    Error e = dns_error(Permanence::permanent, "no address records for " + host.name);
    e.host = host.name;
    host.lookup_error = std::move(e);
  }
}

/// One TLSA answer, judged (RFC 7672 §2.2.3).
struct TlsaLookup {
  TlsaState state = TlsaState::not_looked_up;
  std::vector<TlsaRecord> records;
  std::size_t malformed = 0;
  std::optional<Error> error;
};

TlsaLookup judge_tlsa(const std::string& owner, const Result<Answer>& res) {
  TlsaLookup out;
  if (!res) {
    out.state = TlsaState::failed;
    out.error = res.error();
    return out;
  }
  const Answer& ans = *res;
  if (ans.security == Security::bogus) {
    out.state = TlsaState::failed;
    out.error = dns_error(Permanence::temporary, bogus_detail(owner, rrtype::TLSA, ans));
    return out;
  }
  if (ans.rcode != rcode::noerror && ans.rcode != rcode::nxdomain) {
    // §2.2.3: a server that fails TLSA queries (SERVFAIL) for a signed zone could be an
    // attacker suppressing them, so the host is not used rather than used without DANE.
    out.state = TlsaState::failed;
    out.error = dns_error(Permanence::temporary,
                          "DNS lookup of " + owner + " TLSA failed: " + rcode_name(ans.rcode));
    return out;
  }
  if (ans.security != Security::secure) {
    out.state = TlsaState::insecure;  // §2.2: insecure TLSA records are ignored
    return out;
  }
  if (ans.nxdomain() || ans.rdata.empty()) {
    out.state = TlsaState::none;
    return out;
  }
  out.state = TlsaState::found;
  for (const auto& rdata : ans.rdata) {
    auto r = parse_tlsa(rdata);
    if (r) {
      out.records.push_back(std::move(*r));
    } else {
      ++out.malformed;  // RFC 7671 §4: malformed records are unusable, the rest still count
    }
  }
  return out;
}

void apply_tlsa(MxHost& host, TlsaLookup lookup, const std::string& base) {
  host.tlsa_state = lookup.state;
  host.tlsa = std::move(lookup.records);
  host.tlsa_malformed = lookup.malformed;
  host.tlsa_base = base;
  host.tlsa_error = std::move(lookup.error);
  if (host.tlsa_error) host.tlsa_error->host = host.name;
}

}  // namespace

const char* tlsa_state_name(TlsaState state) {
  switch (state) {
    case TlsaState::not_looked_up:
      return "not looked up";
    case TlsaState::none:
      return "none";
    case TlsaState::found:
      return "found";
    case TlsaState::insecure:
      return "insecure";
    case TlsaState::failed:
      return "failed";
  }
  return "?";
}

std::string tlsa_owner(std::uint16_t port, std::string_view base) {
  return "_" + std::to_string(port) + "._tcp." + std::string(base);
}

std::uint32_t default_random() {
  thread_local std::mt19937 gen{std::random_device{}()};
  return static_cast<std::uint32_t>(gen());
}

Result<Destinations> gather_destinations(Resolver& resolver, std::string_view domain_in,
                                         std::function<std::uint32_t()> random,
                                         std::uint16_t tlsa_port) {
  if (!random) random = default_random;
  Destinations dest;
  dest.domain = normalize_name(domain_in);
  if (dest.domain.empty() || !encode_name(dest.domain, NameSyntax::hostname)) {
    Error e =
        permanent_error(Stage::input, "invalid domain name \"" + std::string(domain_in) + "\"");
    e.reason = Reason::bad_data;
    return fail(std::move(e));
  }
  const std::string& domain = dest.domain;

  const Question mx_question{domain, rrtype::MX};
  auto mx_results = resolver.resolve(std::span<const Question>(&mx_question, 1));
  if (mx_results.size() != 1) {
    return fail(temporary_error(Stage::internal, "resolver returned a wrong number of answers"));
  }
  if (!mx_results[0]) return fail(std::move(mx_results[0]).error());
  const Answer& mx = *mx_results[0];
  if (mx.security == Security::bogus) {
    return fail(dns_error(Permanence::temporary, bogus_detail(domain, rrtype::MX, mx)));
  }
  if (mx.nxdomain()) return fail(no_such_domain("domain " + domain + " does not exist"));
  if (mx.rcode != rcode::noerror) {
    return fail(dns_error(Permanence::temporary,
                          "DNS lookup of " + domain + " MX failed: " + rcode_name(mx.rcode)));
  }
  dest.expanded_domain = mx.canonical_name.empty() ? domain : normalize_name(mx.canonical_name);
  dest.domain_secure = mx.security == Security::secure;

  std::vector<MxRecord> records;
  for (const auto& rdata : mx.rdata) {
    auto r = parse_mx(rdata);
    if (!r) {
      ++dest.mx_malformed;
      continue;
    }
    // RFC 7505 §3: a null MX must be the only MX; if it is mixed with others the domain
    // still declared that it takes no mail, so honour that.
    if (r->exchange.empty()) {
      Error e = no_such_domain(domain + " does not accept mail (null MX, RFC 7505)");
      e.smtp_code = 556;  // RFC 7505 §4.2 (RFC 7504)
      e.enhanced = "5.1.10";
      return fail(std::move(e));
    }
    records.push_back(std::move(*r));
  }
  if (records.empty() && dest.mx_malformed > 0) {
    return fail(dns_error(Permanence::temporary, "every MX record of " + domain + " is malformed"));
  }

  if (records.empty()) {
    dest.implicit_mx = true;  // RFC 5321 §5.1: the domain is its own MX with preference 0
    MxHost host;
    host.name = domain;
    host.expanded_name = domain;
    dest.hosts.push_back(std::move(host));
  } else {
    for (auto& r : order_mx(std::move(records), random)) {
      MxHost host;
      host.name = r.exchange;
      host.expanded_name = r.exchange;
      host.preference = r.preference;
      dest.hosts.push_back(std::move(host));
    }
    if (dest.hosts.size() > kMaxMxHosts) {
      dest.hosts_dropped = dest.hosts.size() - kMaxMxHosts;
      dest.hosts.resize(kMaxMxHosts);
    }
  }

  // All hosts' addresses and TLSA records in one batch, so the lookups run concurrently. The
  // TLSA answers are only used for hosts whose addresses turn out secure (RFC 7672 §2.2.2).
  constexpr std::size_t kPerHost = 3;
  std::vector<Question> questions;
  for (const auto& h : dest.hosts) {
    questions.push_back({h.name, rrtype::AAAA});
    questions.push_back({h.name, rrtype::A});
    questions.push_back({tlsa_owner(tlsa_port, h.name), rrtype::TLSA});
  }
  auto answers = resolver.resolve(questions);
  if (answers.size() != questions.size()) {
    return fail(temporary_error(Stage::internal, "resolver returned a wrong number of answers"));
  }
  std::vector<TlsaLookup> at_name(dest.hosts.size());
  std::vector<std::size_t> expand;  // hosts whose TLSA base is first their expanded name
  for (std::size_t i = 0; i < dest.hosts.size(); ++i) {
    MxHost& host = dest.hosts[i];
    apply_addresses(host, answers[kPerHost * i], answers[kPerHost * i + 1]);
    if (host.lookup_error || !host.addresses_secure) continue;  // not_looked_up
    at_name[i] = judge_tlsa(questions[kPerHost * i + 2].name, answers[kPerHost * i + 2]);
    // RFC 7671 §7, RFC 7672 §2.2.2: a securely expanded CNAME makes the expanded name the
    // preferred TLSA base domain; an insecure expansion leaves only the original name.
    if (host.expanded_name != host.name && host.expanded_secure) {
      expand.push_back(i);
    } else {
      apply_tlsa(host, std::move(at_name[i]), host.name);
    }
  }

  if (!expand.empty()) {
    std::vector<Question> expanded;
    for (std::size_t i : expand) {
      expanded.push_back({tlsa_owner(tlsa_port, dest.hosts[i].expanded_name), rrtype::TLSA});
    }
    auto expanded_answers = resolver.resolve(expanded);
    if (expanded_answers.size() != expanded.size()) {
      return fail(temporary_error(Stage::internal, "resolver returned a wrong number of answers"));
    }
    for (std::size_t k = 0; k < expand.size(); ++k) {
      MxHost& host = dest.hosts[expand[k]];
      TlsaLookup there = judge_tlsa(expanded[k].name, expanded_answers[k]);
      // The first secure RRset decides and a failure stops; only when the expanded name has no
      // secure TLSA RRset (denial or an insecure answer) does the original name count.
      if (there.state == TlsaState::found || there.state == TlsaState::failed) {
        apply_tlsa(host, std::move(there), host.expanded_name);
      } else {
        apply_tlsa(host, std::move(at_name[expand[k]]), host.name);
      }
    }
  }

  if (dest.implicit_mx) {
    const MxHost& self = dest.hosts.front();
    if (self.lookup_error && self.lookup_error->permanent()) {
      return fail(no_such_domain("no MX and no address for " + domain));
    }
    dest.domain_secure = dest.domain_secure && !self.lookup_error && self.addresses_secure;
  }
  return dest;
}

}  // namespace mx::dns
