// Fuzz target: the SOCKS5 reply parsers. A CONNECT reply parsed from the whole input must equal
// the one reached by reading exactly what the parser asks for, and never consume more.
#include <optional>
#include <string>

#include "fuzz_support.hpp"
#include "net/socks5.hpp"

namespace {

namespace socks5 = mx::net::socks5;
constexpr std::string_view kProxy = "192.0.2.1:1080";
constexpr std::size_t kLongestReply = 4 + 1 + 255 + 2;

struct Outcome {
  std::optional<socks5::ConnectReply> reply;
  std::optional<std::string> error;
  bool incomplete = false;
};

Outcome whole(std::string_view in) {
  Outcome o;
  std::size_t need = 0;
  auto r = socks5::parse_connect_reply(in, &need, kProxy);
  if (!r) {
    MX_FUZZ_CHECK(r.error().stage == mx::Stage::connect);
    MX_FUZZ_CHECK(!r.error().detail.empty());
    o.error = r.error().detail;
  } else if (*r) {
    o.reply = **r;
  } else {
    MX_FUZZ_CHECK(need > in.size() && need <= kLongestReply);
    o.incomplete = true;
  }
  return o;
}

// What the dialer does: read exactly `need - have` more octets each step.
Outcome stepwise(std::string_view in) {
  std::string have;
  for (;;) {
    Outcome o = whole(have);
    if (!o.incomplete) return o;
    std::size_t need = 0;
    (void)socks5::parse_connect_reply(have, &need, kProxy);
    // The input may end inside the reply: then what there is arrives as the last read.
    have.append(in.substr(have.size(), need - have.size()));
    if (need > in.size()) return whole(have);
  }
}

void check_reply(const socks5::ConnectReply& r, std::string_view in) {
  MX_FUZZ_CHECK(r.consumed <= in.size() && r.consumed <= kLongestReply);
  switch (r.atyp) {
    case socks5::kAtypIpv4:
      MX_FUZZ_CHECK(r.consumed == 10);
      break;
    case socks5::kAtypIpv6:
      MX_FUZZ_CHECK(r.consumed == 22);
      break;
    case socks5::kAtypDomain:
      MX_FUZZ_CHECK(r.consumed == 7u + static_cast<std::uint8_t>(in[4]));
      break;
    default:
      MX_FUZZ_CHECK(false);
  }
  for (char c : r.bound_address) MX_FUZZ_CHECK(c > 0x20 && c < 0x7f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = mx::fuzz::as_view(data, size);
  const std::uint8_t mode = mx::fuzz::take_byte(in);

  if (mode & 1) {
    // Fixed-size replies: only exact sizes are accepted, and never throw or crash.
    auto m = socks5::parse_method_selection(in, (mode & 2) != 0, kProxy);
    if (m) {
      MX_FUZZ_CHECK(in.size() == 2);
      MX_FUZZ_CHECK(*m == socks5::kMethodNone || (*m == socks5::kMethodUserPass && (mode & 2)));
    }
    auto a = socks5::parse_auth_reply(in, kProxy);
    if (a) MX_FUZZ_CHECK(in.size() == 2 && in[1] == 0);
    return 0;
  }

  Outcome a = whole(in);
  Outcome b = stepwise(in);
  MX_FUZZ_CHECK(a.error.has_value() == b.error.has_value());
  MX_FUZZ_CHECK(a.reply.has_value() == b.reply.has_value());
  MX_FUZZ_CHECK(a.incomplete == b.incomplete);
  if (a.error) MX_FUZZ_CHECK(*a.error == *b.error);
  if (a.reply) {
    check_reply(*a.reply, in);
    MX_FUZZ_CHECK(a.reply->consumed == b.reply->consumed);
    MX_FUZZ_CHECK(a.reply->bound_address == b.reply->bound_address);
    MX_FUZZ_CHECK(a.reply->bound_port == b.reply->bound_port);
    // The reply alone parses the same: nothing after it was looked at.
    Outcome c = whole(in.substr(0, a.reply->consumed));
    MX_FUZZ_CHECK(c.reply && c.reply->consumed == a.reply->consumed);
  }
  return 0;
}
