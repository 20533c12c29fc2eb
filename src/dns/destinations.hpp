// Which hosts to try, in which order, for a recipient domain: MX lookup, null MX, implicit MX
// and the A/AAAA addresses of every host, with their DNSSEC status (RFC 5321 §5.1, RFC 7505,
// RFC 7672 §2.2).
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
#include "dns/resolver.hpp"

namespace mx::dns {

inline constexpr std::size_t kMaxMxHosts = 10;

struct HostAddress {
  std::string ip;
  int family = 0;  // AF_INET or AF_INET6
};

struct MxHost {
  std::string name;  // MX exchange as published (lowercase, no trailing dot)
  std::string
      expanded_name;  // after CNAME expansion of the host's A/AAAA lookups (== name if none)
  std::uint16_t preference = 0;
  bool addresses_secure = false;       // every A/AAAA answer for the host was DNSSEC-secure
  std::vector<HostAddress> addresses;  // AAAA and A interleaved (v6 first, then v4, alternating)
  std::optional<Error> lookup_error;   // why the host has no usable addresses, if it has none
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

/// Resolves the MX set of `domain`, then the addresses of all its hosts in one batch.
/// Errors: NXDOMAIN and null MX are permanent (Reason::no_such_domain); SERVFAIL, bogus and
/// timeouts of the MX lookup are temporary. Per-host problems land in MxHost::lookup_error.
/// `random` shuffles hosts of equal preference (RFC 5321 §5.1).
Result<Destinations> gather_destinations(Resolver& resolver, std::string_view domain,
                                         std::function<std::uint32_t()> random = default_random);

}  // namespace mx::dns
