// EHLO capabilities (RFC 5321 §4.1.1.1): what the server announced in its 250 reply to EHLO.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply.hpp"

namespace mx::smtp {

/// One EHLO keyword line: the keyword upper-cased and its parameters as sent.
struct Extension {
  std::string keyword;
  std::vector<std::string> params;
};

/// RFC 9422 LIMITS values; nullopt when not announced (or malformed).
struct Limits {
  std::optional<std::uint32_t> rcptmax;
  std::optional<std::uint32_t> mailmax;
  std::optional<std::uint32_t> rcptdomainmax;
};

struct Capabilities {
  std::string greeting;     // first line of the EHLO reply: the server's name and any text
  bool starttls = false;    // RFC 3207
  bool pipelining = false;  // RFC 2920
  std::optional<std::uint64_t> size;  // RFC 1870: nullopt = no SIZE, 0 = no limit announced
  bool eightbitmime = false;          // RFC 6152
  bool smtputf8 = false;              // RFC 6531
  bool enhancedstatuscodes = false;   // RFC 2034
  bool chunking = false;              // RFC 3030
  bool dsn = false;                   // RFC 3461
  bool requiretls = false;            // RFC 8689
  std::vector<std::string> auth;      // RFC 4954 mechanisms, upper-cased, no duplicates
  Limits limits;                      // RFC 9422
  std::vector<Extension> extensions;  // every well-formed keyword line, unknown ones included
  std::vector<std::string> raw;       // every line after the greeting, as received

  /// Whether `keyword` was announced (case-insensitive, RFC 5321 §2.4).
  bool has(std::string_view keyword) const;
  /// The extension line for `keyword`, or nullptr.
  const Extension* find(std::string_view keyword) const;
};

/// Reads a positive EHLO reply. Malformed lines and parameters are skipped, never fatal.
Capabilities parse_capabilities(const Reply& ehlo_reply);

}  // namespace mx::smtp
