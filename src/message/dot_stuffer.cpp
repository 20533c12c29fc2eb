// Streaming SMTP dot-stuffing (see dot_stuffer.hpp).
#include "message/dot_stuffer.hpp"

namespace mx::message {

void DotStuffer::feed(std::string_view in, std::string& out) {
  std::size_t i = 0;
  while (i < in.size()) {
    // RFC 5321 §4.5.2: a line that starts with "." gets one more "." in front.
    if (at_line_start_ && in[i] == '.') out.push_back('.');
    const std::size_t nl = in.find('\n', i);
    if (nl == std::string_view::npos) {
      out.append(in.substr(i));
      at_line_start_ = false;
      return;
    }
    out.append(in.substr(i, nl + 1 - i));
    at_line_start_ = true;
    i = nl + 1;
  }
}

void DotStuffer::finish(std::string& out) {
  if (!at_line_start_) out.append("\r\n");
  out.append(".\r\n");
  at_line_start_ = true;
}

}  // namespace mx::message
