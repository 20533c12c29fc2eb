// Fuzz target: DNS RDATA and name parsers (dns/records.hpp). The first octet picks the parser;
// whatever parses must re-encode to the same wire octets.
#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "core/ascii.hpp"
#include "dns/records.hpp"
#include "fuzz_support.hpp"

namespace {

using mx::dns::NameSyntax;

// `name` (from read_name) encodes back to `wire`, up to ASCII case.
void check_name_roundtrip(const std::string& name, std::string_view wire) {
  auto enc = mx::dns::encode_name(name);
  MX_FUZZ_CHECK(enc.has_value());
  MX_FUZZ_CHECK(enc->size() == wire.size());
  for (std::size_t i = 0; i < wire.size(); ++i)
    MX_FUZZ_CHECK((*enc)[i] == mx::ascii_lower(wire[i]));
  MX_FUZZ_CHECK(mx::dns::normalize_name(name) == name);
  MX_FUZZ_CHECK(mx::dns::same_name(name, name + "."));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = mx::fuzz::as_view(data, size);
  const std::uint8_t sel = mx::fuzz::take_byte(in);
  const NameSyntax syntax = (sel & 0x80) ? NameSyntax::printable : NameSyntax::hostname;

  switch (sel % 8) {
    case 0: {
      const std::size_t start = in.empty() ? 0 : static_cast<unsigned char>(in[0]) % in.size();
      std::size_t offset = start;
      auto name = mx::dns::read_name(in, offset, syntax);
      if (!name) {
        MX_FUZZ_CHECK(offset == start);
        break;
      }
      MX_FUZZ_CHECK(offset > start && offset <= in.size());
      check_name_roundtrip(*name, in.substr(start, offset - start));
      break;
    }
    case 1: {
      auto name = mx::dns::parse_name(in, syntax);
      if (name) check_name_roundtrip(*name, in);
      break;
    }
    case 2: {
      auto mx = mx::dns::parse_mx(in);
      if (!mx) break;
      MX_FUZZ_CHECK(in.size() >= 3);
      MX_FUZZ_CHECK(mx->preference ==
                    ((static_cast<unsigned char>(in[0]) << 8) | static_cast<unsigned char>(in[1])));
      check_name_roundtrip(mx->exchange, in.substr(2));
      break;
    }
    case 3: {
      auto t = mx::dns::parse_tlsa(in);
      if (!t) break;
      MX_FUZZ_CHECK(in.size() >= 4);
      MX_FUZZ_CHECK(t->usage == static_cast<unsigned char>(in[0]));
      MX_FUZZ_CHECK(t->selector == static_cast<unsigned char>(in[1]));
      MX_FUZZ_CHECK(t->mtype == static_cast<unsigned char>(in[2]));
      MX_FUZZ_CHECK(t->data == in.substr(3));
      break;
    }
    case 4: {
      auto a = mx::dns::parse_a(in);
      MX_FUZZ_CHECK(a.has_value() == (in.size() == 4));
      if (!a) break;
      unsigned char back[4];
      MX_FUZZ_CHECK(inet_pton(AF_INET, a->c_str(), back) == 1);
      MX_FUZZ_CHECK(std::memcmp(back, in.data(), 4) == 0);
      break;
    }
    case 5: {
      auto a = mx::dns::parse_aaaa(in);
      MX_FUZZ_CHECK(a.has_value() == (in.size() == 16));
      if (!a) break;
      unsigned char back[16];
      MX_FUZZ_CHECK(inet_pton(AF_INET6, a->c_str(), back) == 1);
      MX_FUZZ_CHECK(std::memcmp(back, in.data(), 16) == 0);
      break;
    }
    default: {
      // Text to wire and back.
      auto wire = mx::dns::encode_name(in, syntax);
      if (!wire) break;
      std::size_t offset = 0;
      auto name = mx::dns::read_name(*wire, offset, NameSyntax::printable);
      MX_FUZZ_CHECK(name.has_value());
      MX_FUZZ_CHECK(offset == wire->size());
      MX_FUZZ_CHECK(*name == mx::dns::normalize_name(in));
      MX_FUZZ_CHECK(mx::dns::same_name(*name, in));
      break;
    }
  }
  return 0;
}
