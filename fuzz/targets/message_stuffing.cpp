// Fuzz target: line-ending normalizer + dot stuffer. Invariants: the normalized output has no
// bare CR or LF whatever the chunking, its statistics add up, and removing the dot-stuffing
// (RFC 5321 §4.5.2) gives back exactly the normalized message.
#include <string>

#include "fuzz_support.hpp"
#include "message/dot_stuffer.hpp"
#include "message/normalizer.hpp"

namespace {

using mx::message::DotStuffer;
using mx::message::Normalizer;

void check_crlf_only(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') MX_FUZZ_CHECK(i + 1 < s.size() && s[i + 1] == '\n');
    if (s[i] == '\n') MX_FUZZ_CHECK(i > 0 && s[i - 1] == '\r');
  }
}

// The receiver's side of RFC 5321 §4.5.2: strip one leading "." per line, stop at ".".
std::string unstuff(std::string_view s) {
  std::string out;
  while (true) {
    std::size_t end = s.find("\r\n");
    MX_FUZZ_CHECK(end != std::string_view::npos);  // the terminator must come first
    std::string_view line = s.substr(0, end);
    s.remove_prefix(end + 2);
    if (line == ".") break;
    if (!line.empty() && line[0] == '.') line.remove_prefix(1);
    out.append(line);
    out.append("\r\n");
  }
  MX_FUZZ_CHECK(s.empty());  // nothing after the terminator
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = mx::fuzz::as_view(data, size);
  const std::uint8_t seed = mx::fuzz::take_byte(in);

  std::string whole;
  Normalizer n1;
  n1.feed(in, whole);
  n1.finish(whole);

  std::string pieces;
  Normalizer n2;
  for (auto chunk : mx::fuzz::split(in, seed)) n2.feed(chunk, pieces);
  n2.finish(pieces);

  MX_FUZZ_CHECK(whole == pieces);
  check_crlf_only(whole);
  MX_FUZZ_CHECK(whole.empty() || whole.ends_with("\r\n"));

  const auto& st = n2.stats();
  MX_FUZZ_CHECK(st.size == whole.size());
  std::uint64_t lines = 0, longest = 0, nul = 0, high = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i + 1 < whole.size(); ++i) {
    if (whole[i] == '\r' && whole[i + 1] == '\n') {
      ++lines;
      longest = std::max<std::uint64_t>(longest, i - start);
      start = i + 2;
    }
  }
  for (char c : whole) {
    nul += c == '\0';
    high += static_cast<unsigned char>(c) >= 0x80;
  }
  MX_FUZZ_CHECK(st.lines == lines);
  MX_FUZZ_CHECK(st.longest_line == longest);
  MX_FUZZ_CHECK(st.has_nul == (nul != 0));
  MX_FUZZ_CHECK(st.eight_bit == (high != 0));
  MX_FUZZ_CHECK((st.long_lines == 0) == (longest <= Normalizer::kMaxLineOctets));

  std::string stuffed;
  DotStuffer ds;
  for (auto chunk : mx::fuzz::split(whole, seed ^ 0x5a)) ds.feed(chunk, stuffed);
  ds.finish(stuffed);
  check_crlf_only(stuffed);
  MX_FUZZ_CHECK(stuffed.ends_with(".\r\n"));
  MX_FUZZ_CHECK(unstuff(stuffed) == whole);
  return 0;
}
