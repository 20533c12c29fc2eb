// The dialing seam: how a TCP connection to an MX address is made — directly, or through a
// proxy that only carries bytes (DNS, DANE/MTA-STS decisions and TLS stay in this process).
#pragma once

#include <string>

#include "core/deadline.hpp"
#include "core/fd.hpp"
#include "core/result.hpp"
#include "net/socket.hpp"

namespace mx::net {

class Dialer {
 public:
  virtual ~Dialer() = default;
  /// A connected, non-blocking stream socket to `to` (an IP literal and port) or an Error
  /// (Stage::connect; permanence per the failure).
  virtual Result<Fd> dial(const Endpoint& to, Deadline deadline) = 0;
  /// For the transcript: "directly", "through SOCKS5 proxy 127.0.0.1:1080", ...
  virtual std::string describe() const = 0;
};

/// connect_tcp() with no proxy.
class DirectDialer final : public Dialer {
 public:
  Result<Fd> dial(const Endpoint& to, Deadline deadline) override {
    return connect_tcp(to, deadline);
  }
  std::string describe() const override { return "directly"; }
};

}  // namespace mx::net
