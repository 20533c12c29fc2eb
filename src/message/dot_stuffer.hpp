// Streaming SMTP transparency (RFC 5321 §4.5.2) for the DATA body: doubles a leading "." on
// every line and appends the terminating ".\r\n".
#pragma once

#include <string>
#include <string_view>

namespace mx::message {

/// Input must already be CRLF-normalized (see Normalizer); chunk boundaries may fall anywhere.
/// Lines are never split or otherwise altered, whatever their length.
class DotStuffer {
 public:
  /// Appends the stuffed form of `in` to `out`.
  void feed(std::string_view in, std::string& out);
  /// Appends the end-of-data ".\r\n". If the input did not end with a line end, a CRLF is
  /// added first so the terminator is still recognised as one (RFC 5321 §4.1.1.4).
  void finish(std::string& out);

 private:
  bool at_line_start_ = true;
};

}  // namespace mx::message
