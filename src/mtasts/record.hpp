// The `_mta-sts.<domain>` TXT record (RFC 8461 §3.1): TXT RDATA decoding, the record syntax and
// the choice of the one "v=STSv1" record among a TXT RRset. Pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace mx::mtasts {

struct StsRecord {
  std::string id;  // 1-32 alphanumerics; a change means a new policy to fetch
  std::vector<std::pair<std::string, std::string>> extensions;  // other fields, in order
};

/// Concatenates the character-strings of one TXT RDATA (RFC 1035 §3.3.14; RFC 8461 §3.1 says
/// the strings of one record form one value).
Result<std::string> txt_rdata_text(std::string_view rdata);

/// Parses one record's text strictly per the RFC 8461 §3.1 ABNF: "v=STSv1" first, fields
/// separated by *WSP ";" *WSP, an optional trailing delimiter, exactly the listed characters.
/// An "id" field is required; when it repeats, the first one counts (RFC 8461 §3.2).
Result<StsRecord> parse_record(std::string_view text);

/// True when `text` starts with the version field ("v=STSv1" ended by ';', WSP or the end), the
/// filter RFC 8461 §3.1 applies before counting records.
bool looks_like_sts_record(std::string_view text);

/// Among the TXT RDATAs of `_mta-sts.<domain>`, keeps those that look like MTA-STS records;
/// exactly one must remain and be valid, else there is no usable record (RFC 8461 §3.1).
Result<StsRecord> select_record(std::span<const std::string> rdatas);

}  // namespace mx::mtasts
