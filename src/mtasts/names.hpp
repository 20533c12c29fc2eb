// Host name checks shared by the MTA-STS parsers, the cache (file names) and discovery.
#pragma once

#include <string>
#include <string_view>

namespace mx::mtasts {

/// RFC 5321 §4.1.2 "Domain": dot-separated labels of letters, digits and '-', each starting and
/// ending with a letter or digit, at most 63 octets, 253 in all, no trailing dot.
bool valid_hostname(std::string_view name);

/// ASCII lower case.
std::string lower(std::string_view s);

}  // namespace mx::mtasts
