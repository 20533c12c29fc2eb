// Fuzz target: header-section parsing, address lists and the streaming Bcc stripper. The
// stripper must give the same output for any chunking, and its output must parse to the
// original fields minus Bcc and Resent-Bcc.
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "message/headers.hpp"

namespace {

using mx::message::HeaderField;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

void check_addresses(const std::vector<std::string>& list) {
  for (const auto& a : list) {
    MX_FUZZ_CHECK(a.find('@') != std::string::npos);
    MX_FUZZ_CHECK(a.front() != '@' && a.back() != '@');
    for (char c : a) MX_FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = mx::fuzz::as_view(data, size);
  const std::uint8_t seed = mx::fuzz::take_byte(in);

  if (auto list = mx::message::parse_address_list(in)) check_addresses(*list);
  if (auto rcpts = mx::message::extract_recipients(in)) check_addresses(*rcpts);

  std::string whole;
  mx::message::BccStripper s1;
  s1.feed(in, whole);
  s1.finish(whole);

  std::string pieces;
  mx::message::BccStripper s2;
  for (auto chunk : mx::fuzz::split(in, seed)) s2.feed(chunk, pieces);
  s2.finish(pieces);
  MX_FUZZ_CHECK(whole == pieces);
  MX_FUZZ_CHECK(whole.size() <= in.size());

  std::vector<HeaderField> want;
  for (auto& f : mx::message::parse_header_fields(in)) {
    if (!iequals(f.name, "bcc") && !iequals(f.name, "resent-bcc")) want.push_back(std::move(f));
  }
  const auto got = mx::message::parse_header_fields(whole);
  MX_FUZZ_CHECK(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    MX_FUZZ_CHECK(got[i].name == want[i].name);
    MX_FUZZ_CHECK(got[i].value == want[i].value);
  }
  return 0;
}
