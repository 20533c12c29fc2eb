// The dialing seam: how a TCP connection to an MX address is made — directly, or through a
// proxy that only carries bytes (DNS, DANE/MTA-STS decisions and TLS stay in this process).
#pragma once

#include <memory>
#include <string>

#include "core/deadline.hpp"
#include "core/fd.hpp"
#include "core/result.hpp"
#include "net/child_process.hpp"
#include "net/socket.hpp"

namespace mx::net {

/// A dialed connection and what must live exactly as long as it: for a CommandDialer the
/// child process carrying the bytes. Keep the Connection (or at least `child`) alive until
/// the fd, or the stream it was moved into, is closed; destroying `child` then lets the child
/// exit on the EOF, kills it after a grace period if it does not, and reaps it.
struct Connection {
  std::unique_ptr<ChildProcess> child;  // declared first: destroyed after `fd` is closed
  Fd fd;
};

class Dialer {
 public:
  virtual ~Dialer() = default;
  /// A connected, non-blocking stream socket to `to` (an IP literal and port) or an Error
  /// (Stage::connect; permanence per the failure).
  virtual Result<Fd> dial(const Endpoint& to, Deadline deadline) = 0;
  /// Like dial(), but also hands over what keeps the connection alive (see Connection).
  /// Prefer this where the caller can hold a Connection; dial() on a CommandDialer leaves the
  /// child with the dialer, which reaps it later (on the next dial or when destroyed).
  virtual Result<Connection> connect(const Endpoint& to, Deadline deadline) {
    auto fd = dial(to, deadline);
    if (!fd) return fail(std::move(fd).error());
    return Connection{nullptr, std::move(*fd)};
  }
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
