// The header section of a message (RFC 5322 §2.2, §3.4, §3.6.3) for sendmail's -t: field
// unfolding, recipient extraction from address lists, and streaming removal of Bcc fields.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace mx::message {

struct HeaderField {
  std::string name;   // as written, without the colon or any space before it
  std::string value;  // after the colon, unfolded (RFC 5322 §2.2.3): line ends removed
};

/// The fields of the header section of a CRLF message: every line up to the first empty line.
/// A line that is neither a field ("name:", name = printable ASCII except ':', optionally
/// followed by spaces before the colon, RFC 5322 §3.6.8 / §4.5.3) nor a continuation (starts
/// with space or tab) ends the header section as well, as it does for sendmail; that line
/// belongs to the body. Bare LF line ends are tolerated. Never fails.
std::vector<HeaderField> parse_header_fields(std::string_view message);

/// The addr-specs ("local@domain") in an RFC 5322 §3.4 address-list: display names, angle
/// addresses, groups, nested comments, quoted strings and the obsolete forms (routes, empty list
/// elements, spaces around dots) are understood. Quoted local parts stay quoted as written;
/// UTF-8 is accepted (RFC 6532). An empty list yields no addresses. Errors (a missing "@",
/// unbalanced quotes, brackets or parentheses, stray specials, control characters in quoted
/// strings or domain literals) are Stage::input, permanent,
/// Reason::bad_data, with `what` (e.g. the field name) in the detail.
Result<std::vector<std::string>> parse_address_list(std::string_view value,
                                                    std::string_view what = "address list");

/// sendmail -t: the recipients named in To, Cc and Bcc, or - when any field whose name starts
/// with "Resent-" exists - in Resent-To, Resent-Cc and Resent-Bcc only. Field names are
/// case-insensitive. Duplicates (same local part, domain compared case-insensitively) are
/// dropped, first occurrence kept. Errors name the field that failed to parse.
Result<std::vector<std::string>> extract_recipients(std::string_view message);

/// Copies a CRLF message, dropping the Bcc and Resent-Bcc fields (continuation lines included)
/// from its header section (RFC 5322 §3.6.3: blind recipients must not be shown). Uses the same
/// header-section rule as parse_header_fields; the body passes untouched. Chunk boundaries may
/// fall anywhere.
class BccStripper {
 public:
  /// Appends the filtered form of `in` to `out`.
  void feed(std::string_view in, std::string& out);
  /// Flushes a held-back partial line (a message ending inside a field name).
  void finish(std::string& out);

 private:
  enum class State { line_start, name, keep_line, drop_line, body };
  void decide_name(std::string& out);

  State state_ = State::line_start;
  bool have_field_ = false;  // some field started in the header section
  bool dropping_ = false;    // the current field is a Bcc field
  bool in_wsp_ = false;      // held_ has reached spaces after the field name
  std::string held_;         // the start of a line whose field name is not yet known
};

}  // namespace mx::message
