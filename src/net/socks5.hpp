// SOCKS5 client codec (RFC 1928, RFC 1929 username/password), sans I/O: builds the client's
// messages and parses the proxy's, so the dialer only moves bytes and tests need no sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "net/socket.hpp"

namespace mx::net::socks5 {

inline constexpr std::uint8_t kVersion = 0x05;      // RFC 1928 §3
inline constexpr std::uint8_t kAuthVersion = 0x01;  // RFC 1929 §2

/// Authentication methods (RFC 1928 §3).
inline constexpr std::uint8_t kMethodNone = 0x00;
inline constexpr std::uint8_t kMethodUserPass = 0x02;
inline constexpr std::uint8_t kMethodNoAcceptable = 0xff;

/// Address types (RFC 1928 §5).
inline constexpr std::uint8_t kAtypIpv4 = 0x01;
inline constexpr std::uint8_t kAtypDomain = 0x03;
inline constexpr std::uint8_t kAtypIpv6 = 0x04;

/// Octets of a method selection reply and of an RFC 1929 status reply.
inline constexpr std::size_t kMethodReplySize = 2;
inline constexpr std::size_t kAuthReplySize = 2;

struct Credentials {
  std::string username;  // 1-255 octets (RFC 1929 §2)
  std::string password;  // 1-255 octets
};

/// The version/method-selection message: offers "no authentication", plus username/password
/// when `with_credentials`.
std::string build_greeting(bool with_credentials);

/// Parses the 2-octet method selection (exactly kMethodReplySize octets). Returns the chosen
/// method; fails when the version is wrong, when no offered method is acceptable (0xFF), or
/// when the proxy picked a method we did not offer. `proxy` names the proxy in messages.
Result<std::uint8_t> parse_method_selection(std::string_view reply, bool offered_credentials,
                                            std::string_view proxy);

/// The RFC 1929 §2 sub-negotiation request; fails (permanent, Stage::config) when the
/// username or password is empty or longer than 255 octets.
Result<std::string> build_auth_request(const Credentials& credentials, std::string_view proxy);

/// Parses the RFC 1929 §2 status reply (exactly kAuthReplySize octets); STATUS 0 is success.
Result<void> parse_auth_reply(std::string_view reply, std::string_view proxy);

/// CONNECT to an IP literal (ATYP 1 or 4). Never a domain name: the address comes from our own
/// validated lookup and the proxy must not resolve anything. A non-literal is a permanent
/// Stage::config error.
Result<std::string> build_connect(const Endpoint& to, std::string_view proxy);

/// A complete CONNECT reply with REP = 0 (RFC 1928 §6).
struct ConnectReply {
  std::uint8_t atyp = 0;
  std::string bound_address;  // IPv4/IPv6 text, or the domain with non-printables as '?'
  std::uint16_t bound_port = 0;
  std::size_t consumed = 0;  // octets of the reply; anything after it is the tunnelled stream
};

/// Incremental CONNECT reply parse over the octets received so far.
/// - a ConnectReply when `data` holds a whole successful reply (`consumed` may be less than
///   data.size(): the rest belongs to the tunnelled stream and must be kept);
/// - std::nullopt with `*need` set to the total octet count required for the next step. `*need`
///   never exceeds the reply's length, so reading exactly `*need - data.size()` more octets
///   never consumes stream data;
/// - an error for a bad version, an unknown ATYP, or any REP other than 0 (as soon as the REP
///   octet is known: some proxies close after a short failure reply).
Result<std::optional<ConnectReply>> parse_connect_reply(std::string_view data, std::size_t* need,
                                                        std::string_view proxy);

/// The text for a REP code: "connection not allowed by ruleset" and so on.
std::string reply_text(std::uint8_t code);

/// The Error for a non-zero REP: Stage::connect, "SOCKS5 proxy <proxy>: <text> (reply N)".
Error reply_error(std::uint8_t code, std::string_view proxy);

}  // namespace mx::net::socks5
