// The MTA-STS policy file (RFC 8461 §3.2) and MX host matching against its patterns (§4.1).
// Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace mx::mtasts {

enum class Mode : std::uint8_t { enforce, testing, none };

/// "enforce", "testing" or "none".
const char* mode_name(Mode mode);

/// Largest max_age allowed (RFC 8461 §3.2: about one year).
inline constexpr std::uint32_t kMaxMaxAge = 31557600;

struct Policy {
  Mode mode = Mode::none;
  std::vector<std::string> mx;  // lower case; "mail.example.com" or "*.example.com"
  std::uint32_t max_age = 0;    // seconds

  /// RFC 8461 §4.1: `mx_host` (a trailing dot is ignored) equals a pattern case-insensitively,
  /// or a "*.suffix" pattern where the host is exactly one extra label before suffix.
  bool matches(std::string_view mx_host) const;
};

/// Parses a policy body per the RFC 8461 §3.2 ABNF: "key: value" lines ended by LF or CRLF (the
/// last one may be unterminated), trailing spaces allowed, no blank lines, fields in any order.
/// version ("STSv1"), mode and max_age (1-10 digits, at most kMaxMaxAge) are required, and at
/// least one mx unless mode is none. Unknown keys are ignored. A repeated single-valued key
/// must still be well-formed, but only its first instance counts (RFC 8461 §3.2).
Result<Policy> parse_policy(std::string_view text);

}  // namespace mx::mtasts
