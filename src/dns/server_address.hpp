// Addresses of DNS servers as written on the command line and in resolv.conf: "IP" or
// "IP@port" (the notation libunbound's ub_ctx_set_fwd accepts).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mx::dns {

struct ServerAddress {
  std::string ip;  // canonical text form (inet_ntop)
  int family = AF_INET;
  std::uint16_t port = 53;

  /// 127.0.0.0/8 or ::1: the only servers whose answers never cross a network.
  bool loopback() const;
  /// "IP@port" as ub_ctx_set_fwd wants it.
  std::string to_string() const;
  /// Fills a sockaddr_in / sockaddr_in6; returns its length.
  socklen_t to_sockaddr(sockaddr_storage& out) const;
};

/// Parses "IP" or "IP@port" (port 1..65535). Anything else is Error{Stage::config, permanent}.
Result<ServerAddress> parse_server_address(std::string_view text);

/// The address of the first "nameserver" line of a resolv.conf text (resolv.conf(5)),
/// or nullopt when there is none.
std::optional<std::string> first_nameserver(std::string_view resolv_conf);

}  // namespace mx::dns
