// A minimal DNS message codec (RFC 1035 §4) for the trust-AD compatibility resolver: builds
// one-question queries with EDNS0 DO and AD set, and reads the answer section of responses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "dns/resolver.hpp"

namespace mx::dns::wire {

inline constexpr std::uint16_t kClassIn = 1;
inline constexpr std::uint16_t kTypeOpt = 41;
inline constexpr std::uint16_t kEdnsUdpSize = 1232;  // DNS flag day 2020 recommendation

struct ResourceRecord {
  std::string owner;  // lower case, no trailing dot
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
  std::uint32_t ttl = 0;
  std::string rdata;  // names inside known types decompressed (RFC 3597 §4)
};

struct Message {
  std::uint16_t id = 0;
  bool qr = false;
  bool tc = false;
  bool ad = false;
  int rcode = 0;      // the 4 header bits
  std::string qname;  // lower case, no trailing dot
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  std::vector<ResourceRecord> answers;
};

/// A recursive query (RD) for name/type IN with AD set (RFC 6840 §5.7) and an OPT record
/// carrying DO (RFC 3225 §3), so that a validating resolver reports its verdict in AD.
Result<std::string> build_query(std::uint16_t id, std::string_view name, std::uint16_t type);

/// Parses header, question and answer section; malformed input is a temporary dns Error.
Result<Message> parse_message(std::string_view wire);

/// The Answer for (qname, qtype) in `msg`: follows the CNAME chain in the answer section from
/// qname (canonical_name), keeps only RRs of qtype owned by the end of the chain, and takes
/// the AD bit as the DNSSEC verdict (secure if set, insecure otherwise).
Answer to_answer(const Message& msg, std::string_view qname, std::uint16_t qtype);

}  // namespace mx::dns::wire
