// Parsing of DNS server addresses and of resolv.conf nameserver lines.
#include "dns/server_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <charconv>
#include <cstring>

namespace mx::dns {

bool ServerAddress::loopback() const {
  if (family == AF_INET) {
    in_addr a{};
    if (inet_pton(AF_INET, ip.c_str(), &a) != 1) return false;
    return (ntohl(a.s_addr) >> 24) == 127;  // RFC 1122 §3.2.1.3 (g)
  }
  in6_addr a{};
  if (inet_pton(AF_INET6, ip.c_str(), &a) != 1) return false;
  return IN6_IS_ADDR_LOOPBACK(&a) != 0;  // RFC 4291 §2.5.3
}

std::string ServerAddress::to_string() const {
  return ip + "@" + std::to_string(port);
}

socklen_t ServerAddress::to_sockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof(out));
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &sin->sin_addr);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  inet_pton(AF_INET6, ip.c_str(), &sin6->sin6_addr);
  return sizeof(sockaddr_in6);
}

Result<ServerAddress> parse_server_address(std::string_view text) {
  auto bad = [&](const char* why) {
    return fail(permanent_error(Stage::config,
                                "bad DNS server address \"" + std::string(text) + "\": " + why));
  };
  ServerAddress out;
  std::string_view host = text;
  if (const auto at = text.find('@'); at != std::string_view::npos) {
    host = text.substr(0, at);
    const std::string_view port = text.substr(at + 1);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return bad("port must be a number from 1 to 65535");
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  const std::string host_str(host);
  std::array<unsigned char, sizeof(in6_addr)> bin{};
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (inet_pton(AF_INET, host_str.c_str(), bin.data()) == 1) {
    out.family = AF_INET;
  } else if (inet_pton(AF_INET6, host_str.c_str(), bin.data()) == 1) {
    out.family = AF_INET6;
  } else {
    return bad("not an IPv4 or IPv6 address");
  }
  inet_ntop(out.family, bin.data(), buf.data(), buf.size());
  out.ip = buf.data();
  return out;
}

std::optional<std::string> first_nameserver(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    constexpr std::string_view kw = "nameserver";
    if (!line.starts_with(kw) || line.size() == kw.size() || !is_space(line[kw.size()])) continue;
    line.remove_prefix(kw.size());
    while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    std::size_t end = 0;
    while (end < line.size() && !is_space(line[end]) && line[end] != '#' && line[end] != ';') ++end;
    if (end > 0) return std::string(line.substr(0, end));
  }
  return std::nullopt;
}

}  // namespace mx::dns
