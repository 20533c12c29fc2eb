// SMTP reply parser: line framing, code checks and size caps (RFC 5321 §4.2, §4.5.3.1.5).
#include "smtp/reply.hpp"

#include <algorithm>

namespace mx::smtp {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Checks as much of a line as is present, so garbage fails before a newline arrives.
// Returns "" when the available prefix is acceptable.
std::string check_prefix(std::string_view line, bool complete) {
  // A partial line may end with the CR of a CRLF still in flight ("250\r" then "\n").
  if (!complete && !line.empty() && line.back() == '\r') line.remove_suffix(1);
  for (std::size_t i = 0; i < 3; ++i) {
    if (i >= line.size()) {
      return complete ? "reply line shorter than a 3-digit code" : std::string();
    }
    if (!is_digit(line[i])) return "reply line does not start with a 3-digit code";
  }
  // RFC 5321 §4.2: the first digit is 2-5 for every reply an SMTP client can receive.
  if (line[0] < '2' || line[0] > '5')
    return "reply code " + std::string(line.substr(0, 3)) + " out of range";
  if (line.size() > 3 && line[3] != ' ' && line[3] != '-')
    return "no space or hyphen after the reply code";
  return {};
}

// Server text ends up in logs and terminals: neutralise control characters.
std::string sanitize(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) c = '?';
  }
  return out;
}

}  // namespace

std::string_view enhanced_code_prefix(std::string_view text) {
  // RFC 3463 §2: class "." subject "." detail; class is 2, 4 or 5, the others 1-3 digits.
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') {
    return {};
  }
  std::size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    std::size_t start = i;
    while (i < text.size() && is_digit(text[i]) && i - start < 4) ++i;
    if (i == start || i - start > 3) return {};
    if (part == 0) {
      if (i >= text.size() || text[i] != '.') return {};
      ++i;
    }
  }
  if (i < text.size() && text[i] != ' ') return {};
  return text.substr(0, i);
}

std::string Reply::text() const {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (!enhanced.empty()) {
      auto prefix = enhanced_code_prefix(line);
      line.remove_prefix(prefix.size());
      if (!prefix.empty() && !line.empty() && line.front() == ' ') line.remove_prefix(1);
    }
    if (i) out += '\n';
    out += line;
  }
  return out;
}

void ReplyParser::feed(std::string_view bytes) {
  if (error_) return;
  buf_.append(bytes);
}

Unexpected ReplyParser::fail_with(std::string detail) {
  Error e;
  e.stage = Stage::smtp;
  e.permanence = Permanence::temporary;
  e.reason = Reason::protocol;
  e.detail = "malformed server reply: " + detail;
  error_ = e;
  // Stop buffering: nothing after a framing error can be trusted.
  buf_.clear();
  buf_.shrink_to_fit();
  head_ = line_start_ = searched_ = 0;
  pending_ = Reply{};
  return fail(std::move(e));
}

Result<std::optional<Reply>> ReplyParser::next() {
  if (error_) return fail(*error_);
  for (;;) {
    std::size_t nl = buf_.find('\n', std::max(searched_, line_start_));
    if (nl == std::string::npos) {
      searched_ = buf_.size();
      std::string_view partial(buf_.data() + line_start_, buf_.size() - line_start_);
      if (auto bad = check_prefix(partial, false); !bad.empty()) return fail_with(bad);
      // +1: the partial line may end with the CR of its CRLF.
      if (partial.size() > kMaxLineBytes + 1) return fail_with("line longer than 64 KiB");
      if (buf_.size() - head_ > kMaxReplyBytes) return fail_with("reply longer than 64 KiB");
      return std::optional<Reply>();
    }
    // RFC 5321 §2.3.8 requires CRLF; bare LF is accepted (lenient on input).
    std::string_view line(buf_.data() + line_start_, nl - line_start_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLineBytes) return fail_with("line longer than 64 KiB");
    if (nl + 1 - head_ > kMaxReplyBytes) return fail_with("reply longer than 64 KiB");
    if (auto bad = check_prefix(line, true); !bad.empty()) return fail_with(bad);

    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    // RFC 5321 §4.2.1: every line of a multi-line reply carries the same code.
    if (!pending_.lines.empty() && code != pending_.code) {
      return fail_with("multi-line reply changes its code from " + std::to_string(pending_.code) +
                       " to " + std::to_string(code));
    }
    pending_.code = code;
    std::string text = sanitize(line.size() > 4 ? line.substr(4) : std::string_view());
    std::string_view enh = enhanced_code_prefix(text);
    // An enhanced code whose class contradicts the reply code (e.g. "250 5.0.0") is not one.
    if (!enh.empty() && enh[0] != line[0]) enh = {};
    if (enh.empty()) {
      pending_enhanced_ = false;
    } else if (pending_.lines.empty()) {
      pending_.enhanced = std::string(enh);
    }
    pending_.lines.push_back(std::move(text));
    line_start_ = nl + 1;
    searched_ = line_start_;

    bool last = line.size() == 3 || line[3] == ' ';
    if (!last) continue;
    Reply done = std::move(pending_);
    if (!pending_enhanced_) done.enhanced.clear();
    pending_ = Reply{};
    pending_enhanced_ = true;
    // Many pipelined replies can arrive in one read: erasing each from the front would be
    // quadratic, so consumed bytes are dropped only once they are the larger half.
    head_ = line_start_;
    if (head_ == buf_.size()) {
      buf_.clear();
      head_ = line_start_ = searched_ = 0;
    } else if (head_ > buf_.size() / 2) {
      buf_.erase(0, head_);
      head_ = line_start_ = searched_ = 0;
    }
    return std::optional<Reply>(std::move(done));
  }
}

}  // namespace mx::smtp
