// The DNS seam: a Resolver answers batches of questions concurrently and says, for each
// answer, whether DNSSEC proved it (secure), proved it unsigned (insecure) or failed (bogus).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace mx::dns {

namespace rrtype {
inline constexpr std::uint16_t A = 1;
inline constexpr std::uint16_t CNAME = 5;
inline constexpr std::uint16_t MX = 15;
inline constexpr std::uint16_t TXT = 16;
inline constexpr std::uint16_t AAAA = 28;
inline constexpr std::uint16_t TLSA = 52;
}  // namespace rrtype

namespace rcode {
inline constexpr int noerror = 0;
inline constexpr int servfail = 2;
inline constexpr int nxdomain = 3;
}  // namespace rcode

/// DNSSEC status of one answer (RFC 4035 §4.3).
enum class Security : std::uint8_t { secure, insecure, bogus };

struct Question {
  std::string name;  // absolute or relative, ASCII (A-labels); a trailing dot is optional
  std::uint16_t type = 0;
};

struct Answer {
  std::string qname;  // as asked, lower case, no trailing dot
  std::uint16_t qtype = 0;
  int rcode = rcode::noerror;
  Security security = Security::insecure;
  std::string canonical_name;      // owner after following CNAMEs; == qname when none
  std::vector<std::string> rdata;  // uncompressed wire-format RDATA, one per record
  std::uint32_t ttl = 0;
  std::string why_bogus;  // validator's reason when security == bogus

  bool nxdomain() const { return rcode == rcode::nxdomain; }
  bool nodata() const { return rcode == rcode::noerror && rdata.empty(); }
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  /// Resolves every question concurrently and returns one Result per question, in order.
  /// An Error means no answer at all (timeout, resolver unreachable): always temporary.
  /// SERVFAIL and bogus answers come back as Answers, so callers can say why.
  virtual std::vector<Result<Answer>> resolve(std::span<const Question> questions) = 0;
};

}  // namespace mx::dns
