// Per-host TLS policy (pure): from the security level asked for, the host's DNSSEC/DANE facts
// and the domain's MTA-STS policy, decide how to talk to one MX host — as Postfix's
// smtp_tls_security_level=dane does (RFC 7672 §2.2, RFC 8461 §4-5, RFC 8689).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "dns/destinations.hpp"
#include "smtp/session.hpp"
#include "tls/tls_stream.hpp"

namespace mx::mtasts {
struct Policy;
}

namespace mx::delivery {

/// --tls-policy: Postfix-like security levels.
enum class Level : unsigned char {
  none,       // never TLS
  may,        // opportunistic TLS, unauthenticated, plaintext fallback
  encrypt,    // TLS required, unauthenticated
  verify,     // TLS required, PKIX-verified MX host name
  dane,       // default: DANE where published, else MTA-STS, else opportunistic
  dane_only,  // DANE required: hosts without usable TLSA are skipped
};

Result<Level> parse_level(std::string_view name);
const char* level_name(Level level);

/// What the domain-level inputs say.
struct DomainFacts {
  Level level = Level::dane;
  bool tls_required_no = false;         // the message has "TLS-Required: No" (RFC 8689 §5)
  bool require_tls = false;             // --require-tls: REQUIRETLS (RFC 8689 §4)
  const mtasts::Policy* sts = nullptr;  // the domain's MTA-STS policy (mode none counts as absent)
  // Set when the policy could not be looked up for a local reason (libcurl cannot be loaded):
  // hosts that would rely on MTA-STS are deferred rather than treated as policy-free.
  const Error* sts_unavailable = nullptr;
  bool mx_secure = false;  // the MX RRset (or implicit MX) was DNSSEC-secure
  std::string next_hop;    // the recipient domain (reference name without MX)
  bool implicit_mx = false;
};

enum class Authentication : unsigned char { none, dane, pkix };

struct HostPolicy {
  std::optional<Error> skip;  // the host must not be used (temporary failure for it)
  smtp::TlsMode tls = smtp::TlsMode::opportunistic;
  tls::HandshakeParams handshake;
  bool plaintext_fallback = false;  // a failed handshake may be retried without TLS
  Authentication auth = Authentication::none;
  bool dane = false;               // the host's TLSA RRset decided (RFC 7672), usable or not
  bool dane_trusted_only = false;  // DANE via an insecure MX: "trusted", not "verified"
  bool sts_testing = false;        // MTA-STS testing: deliver, but report what would fail
  bool sts_mx_mismatch = false;    // testing mode: the host is not in the policy's mx list
  std::string summary;             // one line for the transcript: the decision and why
};

HostPolicy decide_host_policy(const DomainFacts& domain, const dns::MxHost& host);

}  // namespace mx::delivery
