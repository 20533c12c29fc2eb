// Name and character checks shared by the MTA-STS parsers, the cache (file names) and discovery.
#pragma once

#include <string>
#include <string_view>

namespace mx::mtasts {

/// RFC 5321 §4.1.2 "Domain": dot-separated labels of letters, digits and '-', each starting and
/// ending with a letter or digit, at most 63 octets, 253 in all, no trailing dot.
bool valid_hostname(std::string_view name);

/// RFC 8461 §3.1/§3.2 WSP: space or tab.
inline bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}
/// ALPHA / DIGIT.
inline bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
/// sts-ext-name / sts-policy-ext-name (RFC 8461 §3.1, §3.2):
/// (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
bool valid_extension_name(std::string_view name);

}  // namespace mx::mtasts
