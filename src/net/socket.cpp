// TCP connect and the plain socket Stream; every wait is a poll() bounded by a Deadline.
#include "net/socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace mx::net {

namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

Error connect_error(const Endpoint& ep, const std::string& why) {
  return temporary_error(Stage::connect, "connect to " + ep.to_string() + ": " + why);
}

Error timed_out_waiting() {
  return temporary_error(Stage::connect, "timed out waiting for the server");
}

Error released_error() {
  return temporary_error(Stage::internal, "socket stream used after release_fd()");
}

}  // namespace

std::string Endpoint::to_string() const {
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

bool is_ip_literal(std::string_view text) {
  std::string s(text);
  in6_addr a6{};
  in_addr a4{};
  return inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

bool set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return false;
  if (flags & O_NONBLOCK) return true;
  return ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

Result<bool> wait_ready(int fd, Io io, Deadline deadline) {
  pollfd p{};
  p.fd = fd;
  p.events = io == Io::read ? POLLIN : POLLOUT;
  for (;;) {
    int n = ::poll(&p, 1, deadline.poll_timeout_ms());
    if (n > 0) {
      if (p.revents & POLLNVAL) return fail(temporary_error(Stage::internal, "poll: bad fd"));
      return true;
    }
    if (n == 0) return false;
    if (errno != EINTR) return fail(temporary_error(Stage::internal, "poll: " + errno_text(errno)));
  }
}

Result<Fd> connect_tcp(const Endpoint& endpoint, Deadline deadline) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, endpoint.ip.c_str(), &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(endpoint.port);
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, endpoint.ip.c_str(), &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(endpoint.port);
    len = sizeof(sockaddr_in6);
  } else {
    return fail(permanent_error(Stage::config, "not an IP address: \"" + endpoint.ip + "\""));
  }

  Fd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail(connect_error(endpoint, "socket: " + errno_text(errno)));

  // SMTP sends small separate writes; Nagle would hold each for a delayed ACK (~40 ms).
  int one = 1;
  if (::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    return fail(connect_error(endpoint, "setsockopt(TCP_NODELAY): " + errno_text(errno)));

  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) == 0) return fd;
  // EINTR on a non-blocking connect also means "completing in the background".
  if (errno != EINPROGRESS && errno != EINTR)
    return fail(connect_error(endpoint, errno_text(errno)));

  auto ready = wait_ready(fd.get(), Io::write, deadline);
  if (!ready) return fail(std::move(ready).error());
  if (!*ready) return fail(connect_error(endpoint, "timed out"));

  int err = 0;
  socklen_t err_len = sizeof err;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) err = errno;
  if (err != 0) return fail(connect_error(endpoint, errno_text(err)));
  return fd;
}

SocketStream::SocketStream(Fd fd) : fd_(std::move(fd)) {
  // A blocking socket would ignore the deadlines; failure here shows up as an I/O error later.
  if (fd_.valid()) set_nonblocking(fd_.get());
}

Fd SocketStream::release_fd() {
  return std::move(fd_);
}

Result<std::size_t> SocketStream::read_some(std::span<char> buf, Deadline deadline) {
  if (!fd_.valid()) return fail(released_error());
  if (buf.empty()) return fail(temporary_error(Stage::internal, "read_some with an empty buffer"));
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return fail(temporary_error(Stage::connect, "read from server: " + errno_text(errno)));
    auto ready = wait_ready(fd_.get(), Io::read, deadline);
    if (!ready) return fail(std::move(ready).error());
    if (!*ready) return fail(timed_out_waiting());
  }
}

Result<void> SocketStream::write_all(std::string_view data, Deadline deadline) {
  if (!fd_.valid()) return fail(released_error());
  while (!data.empty()) {
    // MSG_NOSIGNAL: a closed peer yields EPIPE instead of killing the process.
    ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return fail(temporary_error(Stage::connect, "write to server: " + errno_text(errno)));
    auto ready = wait_ready(fd_.get(), Io::write, deadline);
    if (!ready) return fail(std::move(ready).error());
    if (!*ready) return fail(timed_out_waiting());
  }
  return {};
}

}  // namespace mx::net
