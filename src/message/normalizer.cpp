// Streaming line-ending normalizer (see normalizer.hpp).
#include "message/normalizer.hpp"

#include <algorithm>

namespace mx::message {

void Normalizer::end_line(std::string& out) {
  out.append("\r\n", 2);
  stats_.size += 2;
  ++stats_.lines;
  stats_.longest_line = std::max(stats_.longest_line, line_len_);
  if (line_len_ > kMaxLineOctets) {
    if (stats_.long_lines == 0) stats_.first_long_line = stats_.lines;
    ++stats_.long_lines;
  }
  line_len_ = 0;
}

void Normalizer::feed(std::string_view in, std::string& out) {
  const std::size_t n = in.size();
  std::size_t i = 0;
  if (pending_cr_ && n > 0) {
    // The previous chunk ended in CR: CRLF split across chunks is one line end, a CR followed
    // by anything else is a bare CR, which is a line end of its own.
    pending_cr_ = false;
    end_line(out);
    if (in[0] == '\n') i = 1;
  }
  while (i < n) {
    std::size_t j = i;
    for (; j < n; ++j) {
      const auto c = static_cast<unsigned char>(in[j]);
      if (c == '\r' || c == '\n') break;
      if (c == 0) {
        stats_.has_nul = true;
      } else if (c >= 0x80) {
        stats_.eight_bit = true;
      }
    }
    out.append(in.data() + i, j - i);
    line_len_ += j - i;
    stats_.size += j - i;
    if (j == n) break;
    if (in[j] == '\n') {
      end_line(out);
      i = j + 1;
    } else if (j + 1 == n) {
      pending_cr_ = true;  // decided by the next chunk or by finish()
      i = n;
    } else {
      end_line(out);
      i = in[j + 1] == '\n' ? j + 2 : j + 1;
    }
  }
}

void Normalizer::finish(std::string& out) {
  if (pending_cr_) {
    pending_cr_ = false;
    end_line(out);
  } else if (line_len_ > 0) {
    end_line(out);
  }
}

}  // namespace mx::message
