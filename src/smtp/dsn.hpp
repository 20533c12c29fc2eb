// RFC 3461 DSN parameter encoding: xtext, ENVID, RET, NOTIFY and ORCPT values for MAIL and RCPT.
// Everything here yields text that is safe to paste into a command line.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mx::smtp {

struct Notify;

/// RFC 3461 §4: xtext. "!".."~" except "+" and "=" stay; every other octet becomes "+HH".
std::string xtext_encode(std::string_view raw);

/// RFC 3461 §4.4 ENVID value: printable US-ASCII (no space, no controls), at most 100
/// characters once xtext-encoded. Errors: Stage::input, permanent, Reason::bad_data.
Result<std::string> encode_envid(std::string_view envid);

/// RFC 3461 §4.3 RET value: "FULL" or "HDRS" in any case, returned upper-case. Same errors.
Result<std::string> encode_ret(std::string_view ret);

/// RFC 3461 §4.1 NOTIFY value: "NEVER" or a comma list in the order SUCCESS,FAILURE,DELAY.
std::string notify_value(const Notify& notify);

/// RFC 3461 §4.2 ORCPT value. ASCII: "rfc822;" + xtext. With UTF-8 (RFC 6533 §3):
/// "utf-8;" + utf-8-addr-xtext, non-ASCII and specials as "\x{HEX}". Controls, invalid UTF-8,
/// an empty address or more than 500 characters encoded are errors (as encode_envid).
Result<std::string> encode_orcpt(std::string_view original_recipient);

}  // namespace mx::smtp
