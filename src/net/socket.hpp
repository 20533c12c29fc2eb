// Plain TCP transport: non-blocking connect to an IP literal, a poll() helper that honours
// deadlines, and SocketStream, the unencrypted Stream used before STARTTLS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/deadline.hpp"
#include "core/fd.hpp"
#include "core/result.hpp"
#include "net/stream.hpp"

namespace mx::net {

/// An IP literal (IPv4 dotted quad or IPv6, no brackets, no zone) and a port.
struct Endpoint {
  std::string ip;
  std::uint16_t port = 0;
  /// "1.2.3.4:25" or "[::1]:25".
  std::string to_string() const;
};

/// True when `text` is an IPv4 or IPv6 literal that inet_pton accepts.
bool is_ip_literal(std::string_view text);

/// Connects with a non-blocking connect() bounded by the deadline. The fd stays non-blocking,
/// is close-on-exec and has TCP_NODELAY set. No name resolution: a bad literal is a
/// permanent Stage::config error; connect failures are temporary Stage::connect errors.
Result<Fd> connect_tcp(const Endpoint& endpoint, Deadline deadline);

enum class Io { read, write };

/// Waits until `fd` is readable or writable (errors and hang-ups count as ready, so the next
/// I/O call reports them). Returns false when the deadline passed first.
Result<bool> wait_ready(int fd, Io io, Deadline deadline);

/// Puts `fd` into non-blocking mode; false when fcntl fails.
bool set_nonblocking(int fd);

/// A Stream over a connected TCP socket. All I/O uses poll() with the caller's deadline and
/// send(MSG_NOSIGNAL), so a peer that went away never raises SIGPIPE.
class SocketStream final : public Stream {
 public:
  /// Takes ownership of a connected socket and makes it non-blocking.
  explicit SocketStream(Fd fd);

  Result<std::size_t> read_some(std::span<char> buf, Deadline deadline) override;
  Result<void> write_all(std::string_view data, Deadline deadline) override;

  /// Hands the socket over (to the TLS layer after STARTTLS); the stream is unusable after.
  Fd release_fd();
  int fd() const { return fd_.get(); }

 private:
  Fd fd_;
};

}  // namespace mx::net
