// Fuzz target: the DNS message codec (dns/wire.hpp). Odd first octet: parse arbitrary responses
// and turn them into Answers; even: build a query for an arbitrary name and parse it back.
#include <string>

#include "dns/records.hpp"
#include "dns/wire.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = mx::fuzz::as_view(data, size);
  const std::uint8_t sel = mx::fuzz::take_byte(in);

  if (sel & 1) {
    auto msg = mx::dns::wire::parse_message(in);
    if (!msg) {
      MX_FUZZ_CHECK(msg.error().stage == mx::Stage::dns);
      MX_FUZZ_CHECK(msg.error().temporary());
      return 0;
    }
    MX_FUZZ_CHECK(msg->rcode >= 0 && msg->rcode <= 15);
    for (const auto& rr : msg->answers) {
      MX_FUZZ_CHECK(mx::dns::normalize_name(rr.owner) == rr.owner);
      // Decompressed names inside known types must be plain wire names again.
      if (rr.type == mx::dns::rrtype::CNAME) MX_FUZZ_CHECK(rr.rdata.size() <= 255);
    }
    for (std::uint16_t qtype : {msg->qtype, mx::dns::rrtype::MX, mx::dns::rrtype::CNAME}) {
      auto a = mx::dns::wire::to_answer(*msg, msg->qname, qtype);
      MX_FUZZ_CHECK(a.qname == msg->qname);
      MX_FUZZ_CHECK(a.rdata.size() <= msg->answers.size());
      MX_FUZZ_CHECK(a.rcode == msg->rcode);
    }
    return 0;
  }

  std::uint16_t type = 0;
  if (in.size() >= 2) {
    type = static_cast<std::uint16_t>((static_cast<unsigned char>(in[0]) << 8) |
                                      static_cast<unsigned char>(in[1]));
    in.remove_prefix(2);
  }
  auto q = mx::dns::wire::build_query(0x1234, in, type);
  if (!q) return 0;
  auto back = mx::dns::wire::parse_message(*q);
  MX_FUZZ_CHECK(back.has_value());
  MX_FUZZ_CHECK(back->id == 0x1234);
  MX_FUZZ_CHECK(!back->qr && !back->tc && back->ad);
  MX_FUZZ_CHECK(back->qname == mx::dns::normalize_name(in));
  MX_FUZZ_CHECK(back->qtype == type);
  MX_FUZZ_CHECK(back->qclass == mx::dns::wire::kClassIn);
  MX_FUZZ_CHECK(back->answers.empty());
  return 0;
}
