// SOCKS5 client codec (RFC 1928 and RFC 1929): message builders and exact-length parsers.
#include "net/socks5.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace mx::net::socks5 {

namespace {

std::string prefix(std::string_view proxy) {
  return "SOCKS5 proxy " + std::string(proxy) + ": ";
}

Error protocol_error(std::string_view proxy, const std::string& what) {
  Error e = temporary_error(Stage::connect, prefix(proxy) + what);
  e.reason = Reason::protocol;
  return e;
}

std::string hex_octet(std::uint8_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[v >> 4] + kDigits[v & 0xf];
}

std::uint8_t octet(std::string_view s, std::size_t i) {
  return static_cast<std::uint8_t>(s[i]);
}

}  // namespace

std::string build_greeting(bool with_credentials) {
  std::string out;
  out += static_cast<char>(kVersion);
  if (with_credentials) {
    out += static_cast<char>(2);
    out += static_cast<char>(kMethodNone);
    out += static_cast<char>(kMethodUserPass);
  } else {
    out += static_cast<char>(1);
    out += static_cast<char>(kMethodNone);
  }
  return out;
}

Result<std::uint8_t> parse_method_selection(std::string_view reply, bool offered_credentials,
                                            std::string_view proxy) {
  if (reply.size() != kMethodReplySize)
    return fail(protocol_error(proxy, "method selection reply of " + std::to_string(reply.size()) +
                                          " octets, expected 2"));
  if (octet(reply, 0) != kVersion)
    return fail(protocol_error(proxy, "not a SOCKS5 proxy (version " + hex_octet(octet(reply, 0)) +
                                          " in its method selection)"));
  const std::uint8_t method = octet(reply, 1);
  if (method == kMethodNoAcceptable) {
    // Temporary like every proxy failure: the message is fine, the local proxy settings are
    // not; a queueing caller should keep it while they are fixed.
    return fail(temporary_error(
        Stage::connect,
        prefix(proxy) + (offered_credentials ? "rejected our authentication methods "
                                               "(none, username/password)"
                                             : "requires authentication; give user:pass@ in the "
                                               "proxy URL")));
  }
  if (method == kMethodNone) return method;
  if (method == kMethodUserPass && offered_credentials) return method;
  // RFC 1928 §3: the server selects from the methods the client offered.
  return fail(protocol_error(
      proxy, "selected authentication method " + hex_octet(method) + ", which we did not offer"));
}

Result<std::string> build_auth_request(const Credentials& credentials, std::string_view proxy) {
  // RFC 1929 §2: ULEN and PLEN are single octets of at least 1.
  auto check = [&](const std::string& field, const char* name) -> Result<void> {
    if (field.empty() || field.size() > 255)
      return fail(permanent_error(Stage::config, prefix(proxy) + name +
                                                     " must be 1 to 255 octets (" +
                                                     std::to_string(field.size()) + " given)"));
    return {};
  };
  if (auto r = check(credentials.username, "username"); !r) return fail(std::move(r).error());
  if (auto r = check(credentials.password, "password"); !r) return fail(std::move(r).error());
  std::string out;
  out += static_cast<char>(kAuthVersion);
  out += static_cast<char>(credentials.username.size());
  out += credentials.username;
  out += static_cast<char>(credentials.password.size());
  out += credentials.password;
  return out;
}

Result<void> parse_auth_reply(std::string_view reply, std::string_view proxy) {
  if (reply.size() != kAuthReplySize)
    return fail(protocol_error(
        proxy, "authentication reply of " + std::to_string(reply.size()) + " octets, expected 2"));
  // RFC 1929 §2 says VER is 0x01, but some servers echo the SOCKS version 0x05; accept both.
  if (octet(reply, 0) != kAuthVersion && octet(reply, 0) != kVersion)
    return fail(
        protocol_error(proxy, "bad authentication reply version " + hex_octet(octet(reply, 0))));
  if (octet(reply, 1) != 0) {
    Error e = temporary_error(Stage::connect, prefix(proxy) +
                                                  "username/password authentication failed "
                                                  "(status " +
                                                  std::to_string(octet(reply, 1)) + ")");
    return fail(std::move(e));
  }
  return {};
}

Result<std::string> build_connect(const Endpoint& to, std::string_view proxy) {
  std::string out;
  out += static_cast<char>(kVersion);
  out += static_cast<char>(0x01);  // CMD CONNECT
  out += static_cast<char>(0x00);  // RSV
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, to.ip.c_str(), &a4) == 1) {
    out += static_cast<char>(kAtypIpv4);
    out.append(reinterpret_cast<const char*>(&a4), sizeof a4);
  } else if (inet_pton(AF_INET6, to.ip.c_str(), &a6) == 1) {
    out += static_cast<char>(kAtypIpv6);
    out.append(reinterpret_cast<const char*>(&a6), sizeof a6);
  } else {
    return fail(permanent_error(Stage::config, prefix(proxy) + "refusing to CONNECT to \"" + to.ip +
                                                   "\": not an IP address (the proxy must not "
                                                   "resolve names)"));
  }
  out += static_cast<char>(to.port >> 8);  // network order
  out += static_cast<char>(to.port & 0xff);
  return out;
}

std::string reply_text(std::uint8_t code) {
  switch (code) {  // RFC 1928 §6
    case 0x00:
      return "succeeded";
    case 0x01:
      return "general SOCKS server failure";
    case 0x02:
      return "connection not allowed by ruleset";
    case 0x03:
      return "network unreachable";
    case 0x04:
      return "host unreachable";
    case 0x05:
      return "connection refused";
    case 0x06:
      return "TTL expired";
    case 0x07:
      return "command not supported";
    case 0x08:
      return "address type not supported";
    default:
      return "unknown reply code";
  }
}

Error reply_error(std::uint8_t code, std::string_view proxy) {
  // 0x07 and 0x08 say our request itself cannot be served by this proxy (no CONNECT, or no
  // IPv4/IPv6 addresses): the same request through it can never succeed, so retrying is
  // pointless. Everything else depends on the network or the proxy's state: temporary.
  const bool request_invalid = code == 0x07 || code == 0x08;
  std::string detail = prefix(proxy) + reply_text(code) + " (reply " + std::to_string(code) + ")";
  return request_invalid ? permanent_error(Stage::connect, std::move(detail))
                         : temporary_error(Stage::connect, std::move(detail));
}

Result<std::optional<ConnectReply>> parse_connect_reply(std::string_view data, std::size_t* need,
                                                        std::string_view proxy) {
  // RFC 1928 §6: VER REP RSV ATYP BND.ADDR BND.PORT.
  constexpr std::size_t kHead = 4;
  if (!data.empty() && octet(data, 0) != kVersion)
    return fail(
        protocol_error(proxy, "not a SOCKS5 reply (version " + hex_octet(octet(data, 0)) + ")"));
  if (data.size() >= 2 && octet(data, 1) != 0) return fail(reply_error(octet(data, 1), proxy));
  if (data.size() < kHead) {
    *need = kHead;
    return std::optional<ConnectReply>{};
  }
  // RSV (octet 2) carries nothing; it is ignored, as curl and most clients do.
  ConnectReply reply;
  reply.atyp = octet(data, 3);
  std::size_t addr_len = 0;
  std::size_t addr_start = kHead;
  switch (reply.atyp) {
    case kAtypIpv4:
      addr_len = 4;
      break;
    case kAtypIpv6:
      addr_len = 16;
      break;
    case kAtypDomain:
      if (data.size() < kHead + 1) {
        *need = kHead + 1;
        return std::optional<ConnectReply>{};
      }
      addr_len = octet(data, kHead);
      addr_start = kHead + 1;
      break;
    default:
      return fail(
          protocol_error(proxy, "reply with unknown address type " + hex_octet(reply.atyp)));
  }
  const std::size_t total = addr_start + addr_len + 2;
  if (data.size() < total) {
    *need = total;
    return std::optional<ConnectReply>{};
  }
  std::string_view addr = data.substr(addr_start, addr_len);
  if (reply.atyp == kAtypDomain) {
    for (char c : addr) {
      auto u = static_cast<unsigned char>(c);
      reply.bound_address += (u >= 0x21 && u < 0x7f) ? c : '?';
    }
  } else {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(reply.atyp == kAtypIpv4 ? AF_INET : AF_INET6, addr.data(), text, sizeof text);
    reply.bound_address = text;
  }
  reply.bound_port =
      static_cast<std::uint16_t>(octet(data, total - 2) << 8 | octet(data, total - 1));
  reply.consumed = total;
  *need = total;
  return std::optional<ConnectReply>(std::move(reply));
}

}  // namespace mx::net::socks5
