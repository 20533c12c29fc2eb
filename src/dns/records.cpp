// Parsing of wire-format RDATA into typed records; pure functions, no I/O.
#include "dns/records.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>

#include "core/ascii.hpp"
#include "dns/resolver.hpp"

namespace mx::dns {
namespace {

constexpr std::size_t kMaxLabel = 63;      // RFC 1035 §2.3.4
constexpr std::size_t kMaxWireName = 255;  // RFC 1035 §2.3.4, including length octets

Error malformed(std::string what) {
  return temporary_error(Stage::dns, "malformed DNS data: " + std::move(what));
}

bool allowed(char c, NameSyntax syntax) {
  const auto u = static_cast<unsigned char>(c);
  if (syntax == NameSyntax::printable) return u > 0x20 && u < 0x7f && c != '.' && c != '\\';
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

std::uint16_t u16(std::string_view s, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(s[at]) << 8) |
                                    static_cast<unsigned char>(s[at + 1]));
}

}  // namespace

Result<std::string> read_name(std::string_view wire, std::size_t& offset, NameSyntax syntax) {
  std::string out;
  std::size_t pos = offset;
  std::size_t wire_len = 0;
  while (true) {
    if (pos >= wire.size()) return fail(malformed("domain name runs past the end"));
    const auto len = static_cast<unsigned char>(wire[pos]);
    if ((len & 0xC0) != 0) {
      // RDATA from libunbound is uncompressed; 0x40/0x80 prefixes are not in use (RFC 6891 §5).
      return fail(malformed("compressed or extended label in domain name"));
    }
    wire_len += 1 + len;
    if (wire_len > kMaxWireName) return fail(malformed("domain name longer than 255 octets"));
    ++pos;
    if (len == 0) break;
    if (pos + len > wire.size()) return fail(malformed("label runs past the end"));
    if (!out.empty()) out += '.';
    for (std::size_t i = 0; i < len; ++i) {
      const char c = wire[pos + i];
      if (!allowed(c, syntax)) return fail(malformed("invalid character in domain name label"));
      out += ascii_lower(c);
    }
    pos += len;
  }
  offset = pos;
  return out;
}

Result<std::string> parse_name(std::string_view rdata, NameSyntax syntax) {
  std::size_t offset = 0;
  auto name = read_name(rdata, offset, syntax);
  if (!name) return name;
  if (offset != rdata.size()) return fail(malformed("trailing octets after domain name"));
  return name;
}

Result<std::string> encode_name(std::string_view name, NameSyntax syntax) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out;
  if (!name.empty()) {
    std::size_t start = 0;
    while (true) {
      const std::size_t dot = name.find('.', start);
      const std::string_view label =
          name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
      if (label.empty()) return fail(malformed("empty label in \"" + std::string(name) + "\""));
      if (label.size() > kMaxLabel) return fail(malformed("label longer than 63 octets"));
      for (char c : label) {
        if (!allowed(c, syntax)) {
          return fail(malformed("invalid character in \"" + std::string(name) + "\""));
        }
      }
      out += static_cast<char>(label.size());
      out += label;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  out += '\0';
  if (out.size() > kMaxWireName) return fail(malformed("domain name longer than 255 octets"));
  return out;
}

Result<MxRecord> parse_mx(std::string_view rdata) {
  // RFC 1035 §3.3.9: PREFERENCE (16 bits) then EXCHANGE (a domain name).
  if (rdata.size() < 3) return fail(malformed("MX record too short"));
  MxRecord mx;
  mx.preference = u16(rdata, 0);
  auto exchange = parse_name(rdata.substr(2), NameSyntax::hostname);
  if (!exchange) return fail(malformed("MX exchange: " + exchange.error().detail));
  mx.exchange = std::move(*exchange);
  return mx;
}

Result<std::string> parse_a(std::string_view rdata) {
  if (rdata.size() != 4) return fail(malformed("A record is not 4 octets"));
  std::array<char, INET_ADDRSTRLEN> buf{};
  if (inet_ntop(AF_INET, rdata.data(), buf.data(), buf.size()) == nullptr) {
    return fail(malformed("A record"));
  }
  return std::string(buf.data());
}

Result<std::string> parse_aaaa(std::string_view rdata) {
  if (rdata.size() != 16) return fail(malformed("AAAA record is not 16 octets"));
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (inet_ntop(AF_INET6, rdata.data(), buf.data(), buf.size()) == nullptr) {
    return fail(malformed("AAAA record"));
  }
  return std::string(buf.data());
}

Result<TlsaRecord> parse_tlsa(std::string_view rdata) {
  // RFC 6698 §2.1: usage, selector, matching type (one octet each), then the data. Empty
  // data could never match a certificate, so it is treated as malformed.
  if (rdata.size() < 4) return fail(malformed("TLSA record too short"));
  TlsaRecord r;
  r.usage = static_cast<std::uint8_t>(rdata[0]);
  r.selector = static_cast<std::uint8_t>(rdata[1]);
  r.mtype = static_cast<std::uint8_t>(rdata[2]);
  r.data = std::string(rdata.substr(3));
  return r;
}

std::string type_name(std::uint16_t type) {
  switch (type) {
    case rrtype::A:
      return "A";
    case rrtype::CNAME:
      return "CNAME";
    case rrtype::MX:
      return "MX";
    case rrtype::TXT:
      return "TXT";
    case rrtype::AAAA:
      return "AAAA";
    case rrtype::TLSA:
      return "TLSA";
    default:
      return "TYPE" + std::to_string(type);
  }
}

std::string rcode_name(int rcode) {
  switch (rcode) {
    case 0:
      return "NOERROR";
    case 1:
      return "FORMERR";
    case 2:
      return "SERVFAIL";
    case 3:
      return "NXDOMAIN";
    case 4:
      return "NOTIMP";
    case 5:
      return "REFUSED";
    default:
      return "RCODE" + std::to_string(rcode);
  }
}

std::string normalize_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool same_name(std::string_view a, std::string_view b) {
  return normalize_name(a) == normalize_name(b);
}

}  // namespace mx::dns
