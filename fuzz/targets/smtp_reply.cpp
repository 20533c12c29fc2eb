// Fuzz target: the SMTP reply parser fed in random splits must give exactly what it gives for
// the whole input at once, and every reply it returns must be well formed.
#include <optional>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "smtp/reply.hpp"

namespace {

using mx::smtp::Reply;
using mx::smtp::ReplyParser;

struct Outcome {
  std::vector<Reply> replies;
  std::optional<std::string> error;
  std::size_t buffered = 0;
};

void drain(ReplyParser& p, Outcome& o) {
  while (!o.error) {
    auto r = p.next();
    if (!r) {
      o.error = r.error().detail;
      MX_FUZZ_CHECK(r.error().stage == mx::Stage::smtp);
      // Errors are sticky.
      auto again = p.next();
      MX_FUZZ_CHECK(!again && again.error().detail == *o.error);
      return;
    }
    if (!r->has_value()) return;
    o.replies.push_back(std::move(**r));
  }
}

void check_reply(const Reply& r) {
  MX_FUZZ_CHECK(r.code >= 200 && r.code <= 599);
  MX_FUZZ_CHECK(!r.lines.empty());
  for (const auto& line : r.lines) {
    for (char c : line) {
      auto u = static_cast<unsigned char>(c);
      MX_FUZZ_CHECK((u >= 0x20 || c == '\t') && u != 0x7f);
    }
  }
  if (!r.enhanced.empty()) {
    MX_FUZZ_CHECK(r.enhanced[0] == static_cast<char>('0' + r.code / 100));
    MX_FUZZ_CHECK(mx::smtp::enhanced_code_prefix(r.enhanced) == r.enhanced);
  }
  std::string text = r.text();
  MX_FUZZ_CHECK(text.find('\r') == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = mx::fuzz::as_view(data, size);
  const std::uint8_t seed = mx::fuzz::take_byte(in);

  Outcome whole;
  ReplyParser a;
  a.feed(in);
  drain(a, whole);
  whole.buffered = a.buffered();
  for (const auto& r : whole.replies) check_reply(r);

  Outcome pieces;
  ReplyParser b;
  for (auto chunk : mx::fuzz::split(in, seed)) {
    b.feed(chunk);
    drain(b, pieces);
  }
  pieces.buffered = b.buffered();

  // Beyond the 64 KiB caps the point of failure may legitimately depend on the chunking.
  if (in.size() < mx::smtp::kMaxReplyBytes) {
    // Only the failure itself must not depend on chunking; its wording may ("25\r" fails as
    // "does not start with a 3-digit code" when the CR arrives alone, else as "shorter than").
    MX_FUZZ_CHECK(whole.error.has_value() == pieces.error.has_value());
    MX_FUZZ_CHECK(whole.replies.size() == pieces.replies.size());
    for (std::size_t i = 0; i < whole.replies.size(); ++i) {
      MX_FUZZ_CHECK(whole.replies[i].code == pieces.replies[i].code);
      MX_FUZZ_CHECK(whole.replies[i].enhanced == pieces.replies[i].enhanced);
      MX_FUZZ_CHECK(whole.replies[i].lines == pieces.replies[i].lines);
    }
    if (!whole.error) MX_FUZZ_CHECK(whole.buffered == pieces.buffered);
  }
  return 0;
}
