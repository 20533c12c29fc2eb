// Which hosts to try, in which order, for a recipient domain: MX lookup, null MX, implicit MX,
// the A/AAAA addresses of every host with their DNSSEC status, and each host's TLSA records
// (RFC 5321 §5.1, RFC 7505, RFC 7672 §2.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/result.hpp"
#include "dns/records.hpp"
#include "dns/resolver.hpp"

namespace mx::dns {

inline constexpr std::size_t kMaxMxHosts = 10;

struct HostAddress {
  std::string ip;
  int family = 0;  // AF_INET or AF_INET6
};

/// What the TLSA lookup of a host found (RFC 7672 §2.2.3).
enum class TlsaState : std::uint8_t {
  not_looked_up,  // the host's addresses are not DNSSEC-secure: no DANE possible
  none,           // secure denial (NXDOMAIN or NODATA): no TLSA records
  found,          // a secure non-empty TLSA RRset (its records may still all be unusable)
  insecure,       // the TLSA answer is not DNSSEC-secure: ignored
  failed,         // bogus, SERVFAIL, timeout: the host is temporarily unusable under DANE
};

const char* tlsa_state_name(TlsaState state);

struct MxHost {
  std::string name;  // MX exchange as published (lowercase, no trailing dot)
  std::string
      expanded_name;  // after CNAME expansion of the host's A/AAAA lookups (== name if none)
  std::uint16_t preference = 0;
  bool addresses_secure = false;       // every A/AAAA answer for the host was DNSSEC-secure
  std::vector<HostAddress> addresses;  // AAAA and A interleaved (v6 first, then v4, alternating)
  std::optional<Error> lookup_error;   // why the host has no usable addresses, if it has none
  /// The CNAME chain from name to expanded_name validated secure. Each answer's DNSSEC status
  /// covers its whole chain, so this equals addresses_secure (also when there is no CNAME).
  bool expanded_secure = false;

  TlsaState tlsa_state = TlsaState::not_looked_up;
  std::vector<TlsaRecord> tlsa;  // found: the RRset's well-formed records (usable or not)
  /// The TLSA base domain (RFC 7671 §7): the name whose _<port>._tcp TLSA answer decided the
  /// state (expanded_name or name); empty when not_looked_up.
  std::string tlsa_base;
  std::optional<Error> tlsa_error;  // failed: why (Stage::dns, temporary)
  std::size_t tlsa_malformed = 0;   // found: records that could not be parsed and were skipped
};

struct Destinations {
  std::string domain;           // the recipient domain as asked (lowercase, no trailing dot)
  std::string expanded_domain;  // after a CNAME at the domain (== domain if none)
  /// The MX answer was secure; for an implicit MX, also the domain's A/AAAA answers.
  bool domain_secure = false;
  bool implicit_mx = false;   // no MX records: the domain itself is the only host (RFC 5321 §5.1)
  std::vector<MxHost> hosts;  // in delivery order
  std::size_t hosts_dropped = 0;  // MX hosts beyond kMaxMxHosts, not considered (worth a note)
  std::size_t mx_malformed = 0;   // MX records that could not be parsed and were skipped
};

/// A uniformly distributed 32-bit number from a per-thread generator seeded from
/// std::random_device.
std::uint32_t default_random();

inline constexpr std::uint16_t kSmtpPort = 25;

/// "_<port>._tcp.<base>": where the TLSA records of a TLSA base domain live (RFC 6698 §3).
std::string tlsa_owner(std::uint16_t port, std::string_view base);

/// Resolves the MX set of `domain`, then the addresses and the _<tlsa_port>._tcp TLSA records
/// of all its hosts in one batch, and for hosts that are secure CNAMEs the TLSA records of the
/// expanded names in a second batch (RFC 7672 §2.2.2, RFC 7671 §7).
/// Errors: NXDOMAIN and null MX are permanent (Reason::no_such_domain); SERVFAIL, bogus and
/// timeouts of the MX lookup are temporary. Per-host problems land in MxHost::lookup_error and
/// MxHost::tlsa_error. `random` shuffles hosts of equal preference (RFC 5321 §5.1).
Result<Destinations> gather_destinations(Resolver& resolver, std::string_view domain,
                                         std::function<std::uint32_t()> random = default_random,
                                         std::uint16_t tlsa_port = kSmtpPort);

}  // namespace mx::dns
