// SMTP reply parsing (RFC 5321 §4.2): turns the server's byte stream into complete replies.
// Pure: it is fed bytes and never reads or writes anything itself.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace mx::smtp {

struct Reply {
  int code = 0;
  /// RFC 3463 enhanced status code ("5.1.1") when syntactically present on every line, else "".
  /// Whether to trust it (ENHANCEDSTATUSCODES advertised) is the session's decision.
  std::string enhanced;
  /// The text after "NNN " / "NNN-" of each line, control characters replaced by '?'.
  std::vector<std::string> lines;

  /// The lines joined by "\n", with the enhanced code stripped from each line.
  std::string text() const;

  bool positive_completion() const { return code >= 200 && code < 300; }
  bool positive_intermediate() const { return code >= 300 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500 && code < 600; }
};

/// Largest reply and largest single line we buffer; beyond either the server is broken.
inline constexpr std::size_t kMaxReplyBytes = 64 * 1024;
inline constexpr std::size_t kMaxLineBytes = 64 * 1024;

class ReplyParser {
 public:
  /// Appends server bytes. Ignored once the parser has failed.
  void feed(std::string_view bytes);
  /// One complete reply if available, nullopt if more bytes are needed. A protocol error is
  /// sticky: every later call returns it again.
  Result<std::optional<Reply>> next();
  /// Bytes received but not yet returned as part of a reply.
  std::size_t buffered() const { return buf_.size() - head_; }

 private:
  Unexpected fail_with(std::string detail);

  std::string buf_;
  std::size_t head_ = 0;        // start of the reply being assembled; bytes before it are consumed
  std::size_t line_start_ = 0;  // start of the first line not yet added to pending_
  std::size_t searched_ = 0;    // bytes before this offset hold no '\n' past line_start_
  Reply pending_;               // lines of the reply being assembled
  bool pending_enhanced_ = true;
  std::optional<Error> error_;
};

/// The RFC 3463 code at the start of `text` ("4.7.1 ..."), or "" if none.
std::string_view enhanced_code_prefix(std::string_view text);

}  // namespace mx::smtp
