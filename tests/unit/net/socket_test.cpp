// Tests for net/socket: loopback connect, refused/timeout/bad-literal errors, and the
// SocketStream read/write paths (EOF, timeouts, EINTR, large and partial writes, SIGPIPE).
#include "net/socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace mx::net {
namespace {

using namespace std::chrono_literals;

// A listening TCP socket on a loopback address with a kernel-chosen port.
struct Listener {
  Fd fd;
  std::uint16_t port = 0;

  static Listener make(int family = AF_INET, int backlog = 16) {
    Listener l;
    l.fd.reset(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!l.fd.valid()) return l;
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
      sin->sin_family = AF_INET;
      sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(sockaddr_in);
    } else {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_addr = in6addr_loopback;
      len = sizeof(sockaddr_in6);
    }
    if (::bind(l.fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::listen(l.fd.get(), backlog) != 0) {
      l.fd.reset();
      return l;
    }
    ::getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    l.port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                     : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return l;
  }

  Fd accept_one() const {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return Fd();
    return Fd(::accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  }
};

// A connected client stream and the server's end of the same TCP connection.
struct Pair {
  std::unique_ptr<SocketStream> client;
  Fd server;
};

Pair connected_pair() {
  Pair p;
  Listener l = Listener::make();
  if (!l.fd.valid()) return p;
  auto fd = connect_tcp({"127.0.0.1", l.port}, Deadline::after(5s));
  if (!fd) return p;
  p.client = std::make_unique<SocketStream>(std::move(*fd));
  p.server = l.accept_one();
  return p;
}

TEST(Endpoint, FormatsIpv4AndBracketsIpv6) {
  EXPECT_EQ((Endpoint{"192.0.2.1", 25}.to_string()), "192.0.2.1:25");
  EXPECT_EQ((Endpoint{"::1", 25}.to_string()), "[::1]:25");
  EXPECT_EQ((Endpoint{"2001:db8::5", 587}.to_string()), "[2001:db8::5]:587");
}

TEST(IsIpLiteral, AcceptsOnlyLiterals) {
  EXPECT_TRUE(is_ip_literal("127.0.0.1"));
  EXPECT_TRUE(is_ip_literal("::1"));
  EXPECT_TRUE(is_ip_literal("2001:db8::1"));
  EXPECT_FALSE(is_ip_literal("mx.example.test"));
  EXPECT_FALSE(is_ip_literal("1.2.3"));
  EXPECT_FALSE(is_ip_literal("[::1]"));
  EXPECT_FALSE(is_ip_literal(""));
}

TEST(ConnectTcp, ConnectsToLoopbackListenerWithSocketOptions) {
  Listener l = Listener::make();
  ASSERT_TRUE(l.fd.valid());
  auto fd = connect_tcp({"127.0.0.1", l.port}, Deadline::after(5s));
  ASSERT_TRUE(fd) << fd.error().describe();
  Fd server = l.accept_one();
  ASSERT_TRUE(server.valid());

  int nodelay = 0;
  socklen_t len = sizeof nodelay;
  ASSERT_EQ(::getsockopt(fd->get(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0);
  EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(::fcntl(fd->get(), F_GETFL) & O_NONBLOCK);
}

TEST(ConnectTcp, RefusedIsTemporaryConnectError) {
  std::uint16_t port = 0;
  {
    // Bind without listening, note the port, then close: nothing listens there now.
    Fd s(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    socklen_t len = sizeof sin;
    ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&sin), &len);
    port = ntohs(sin.sin_port);
  }
  auto fd = connect_tcp({"127.0.0.1", port}, Deadline::after(5s));
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().stage, Stage::connect);
  EXPECT_TRUE(fd.error().temporary());
  EXPECT_EQ(fd.error().detail,
            "connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused");
}

TEST(ConnectTcp, BadLiteralIsPermanentConfigError) {
  for (const char* bad : {"localhost", "mx.example.test", "1.2.3", "256.1.1.1", "[::1]", "",
                          "fe80::1%lo", " 127.0.0.1"}) {
    auto fd = connect_tcp({bad, 25}, Deadline::after(1s));
    ASSERT_FALSE(fd) << bad;
    EXPECT_EQ(fd.error().stage, Stage::config) << bad;
    EXPECT_TRUE(fd.error().permanent()) << bad;
  }
}

TEST(ConnectTcp, TimesOutWhenTheListenQueueIsFull) {
  // A full accept queue makes Linux drop further SYNs, so connect() hangs: the loopback way
  // to see a connect timeout without sending traffic anywhere else.
  Listener l = Listener::make(AF_INET, 0);
  ASSERT_TRUE(l.fd.valid());
  std::vector<Fd> held;
  for (int i = 0; i < 16; ++i) {
    auto start = Clock::now();
    auto fd = connect_tcp({"127.0.0.1", l.port}, Deadline::after(300ms));
    if (fd) {
      held.push_back(std::move(*fd));
      continue;
    }
    EXPECT_EQ(fd.error().stage, Stage::connect);
    EXPECT_TRUE(fd.error().temporary());
    EXPECT_EQ(fd.error().detail, "connect to 127.0.0.1:" + std::to_string(l.port) + ": timed out");
    EXPECT_GE(Clock::now() - start, 250ms);
    return;
  }
  GTEST_SKIP() << "the kernel accepted every connection; cannot provoke a connect timeout";
}

TEST(ConnectTcp, Ipv6Loopback) {
  Listener l = Listener::make(AF_INET6);
  if (!l.fd.valid()) GTEST_SKIP() << "IPv6 loopback (::1) is not available here";
  auto fd = connect_tcp({"::1", l.port}, Deadline::after(5s));
  ASSERT_TRUE(fd) << fd.error().describe();
  Fd server = l.accept_one();
  ASSERT_TRUE(server.valid());
  SocketStream s(std::move(*fd));
  ASSERT_TRUE(s.write_all("hi", Deadline::after(5s)));
  char buf[8];
  ASSERT_EQ(::recv(server.get(), buf, sizeof buf, 0), 2);
}

TEST(SocketStream, ReadsWhatThePeerSent) {
  Pair p = connected_pair();
  ASSERT_TRUE(p.client && p.server.valid());
  ASSERT_EQ(::send(p.server.get(), "220 hi\r\n", 8, 0), 8);
  char buf[64];
  auto n = p.client->read_some(buf, Deadline::after(5s));
  ASSERT_TRUE(n) << n.error().describe();
  EXPECT_EQ(std::string(buf, *n), "220 hi\r\n");
}

TEST(SocketStream, ReadReturnsZeroAtEof) {
  Pair p = connected_pair();
  ASSERT_TRUE(p.client && p.server.valid());
  p.server.reset();
  char buf[64];
  auto n = p.client->read_some(buf, Deadline::after(5s));
  ASSERT_TRUE(n) << n.error().describe();
  EXPECT_EQ(*n, 0u);
}

TEST(SocketStream, ResetByPeerIsAnError) {
  Pair p = connected_pair();
  ASSERT_TRUE(p.client && p.server.valid());
  linger lg{1, 0};  // close() now sends RST instead of FIN
  ASSERT_EQ(::setsockopt(p.server.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  p.server.reset();
  char buf[64];
  auto n = p.client->read_some(buf, Deadline::after(5s));
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().stage, Stage::connect);
  EXPECT_TRUE(n.error().temporary());
  EXPECT_EQ(n.error().detail, "read from server: Connection reset by peer");
}

TEST(SocketStream, ReadTimesOutWhenPeerIsSilent) {
  Pair p = connected_pair();
  ASSERT_TRUE(p.client && p.server.valid());
  char buf[64];
  auto start = Clock::now();
  auto n = p.client->read_some(buf, Deadline::after(150ms));
  ASSERT_FALSE(n);
  EXPECT_GE(Clock::now() - start, 140ms);
  EXPECT_EQ(n.error().stage, Stage::connect);
  EXPECT_TRUE(n.error().temporary());
  EXPECT_EQ(n.error().detail, "timed out waiting for the server");
}

TEST(SocketStream, EmptyReadBufferIsAnError) {
  Pair p = connected_pair();
  ASSERT_TRUE(p.client && p.server.valid());
  auto n = p.client->read_some(std::span<char>(), Deadline::after(1s));
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().stage, Stage::internal);
}

extern "C" void ignore_alarm(int) {}

TEST(SocketStream, SignalsDuringWaitAreRetried) {
  Pair p = connected_pair();
  ASSERT_TRUE(p.client && p.server.valid());
  // No SA_RESTART: the alarm interrupts poll() with EINTR, which must not end the read.
  struct sigaction sa {};
  struct sigaction old {};
  sa.sa_handler = ignore_alarm;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(::sigaction(SIGALRM, &sa, &old), 0);
  itimerval t{};
  t.it_value.tv_usec = 50'000;
  t.it_interval.tv_usec = 50'000;
  ASSERT_EQ(::setitimer(ITIMER_REAL, &t, nullptr), 0);

  std::thread sender([&] {
    std::this_thread::sleep_for(250ms);
    (void)::send(p.server.get(), "x", 1, 0);
  });
  char buf[8];
  auto n = p.client->read_some(buf, Deadline::after(5s));
  sender.join();
  itimerval off{};
  ::setitimer(ITIMER_REAL, &off, nullptr);
  ::sigaction(SIGALRM, &old, nullptr);
  ASSERT_TRUE(n) << n.error().describe();
  EXPECT_EQ(*n, 1u);
}

TEST(SocketStream, LargeWriteWithPartialSendsArrivesIntact) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Fd reader_fd(sv[1]);
  // A tiny send buffer forces many partial send() calls.
  int small = 4096;
  ASSERT_EQ(::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  SocketStream s{Fd(sv[0])};

  std::string data(6 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + (i >> 12));
  std::string received;
  std::thread reader([&] {
    char buf[7000];
    for (;;) {
      ssize_t n = ::recv(reader_fd.get(), buf, sizeof buf, 0);
      if (n <= 0) break;
      received.append(buf, static_cast<std::size_t>(n));
    }
  });
  auto r = s.write_all(data, Deadline::after(30s));
  ::shutdown(s.fd(), SHUT_WR);
  reader.join();
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data);
}

TEST(SocketStream, WriteTimesOutWhenPeerDoesNotRead) {
  Pair p = connected_pair();
  ASSERT_TRUE(p.client && p.server.valid());
  std::string data(32 * 1024 * 1024, 'x');
  auto start = Clock::now();
  auto r = p.client->write_all(data, Deadline::after(200ms));
  ASSERT_FALSE(r);
  EXPECT_GE(Clock::now() - start, 190ms);
  EXPECT_EQ(r.error().stage, Stage::connect);
  EXPECT_EQ(r.error().detail, "timed out waiting for the server");
}

TEST(SocketStream, WriteToClosedPeerFailsWithoutSigpipe) {
  // SIGPIPE keeps its default action here: without MSG_NOSIGNAL this test kills the binary.
  Pair p = connected_pair();
  ASSERT_TRUE(p.client && p.server.valid());
  p.server.reset();
  Result<void> r;
  for (int i = 0; i < 100 && r; ++i) {
    r = p.client->write_all(std::string(4096, 'x'), Deadline::after(1s));
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::connect);
  EXPECT_TRUE(r.error().temporary());
  EXPECT_NE(r.error().detail.find("write to server: "), std::string::npos) << r.error().detail;
}

TEST(SocketStream, ReleaseFdHandsOverTheSocket) {
  Pair p = connected_pair();
  ASSERT_TRUE(p.client && p.server.valid());
  int raw = p.client->fd();
  Fd fd = p.client->release_fd();
  EXPECT_EQ(fd.get(), raw);
  EXPECT_EQ(p.client->fd(), -1);
  auto r = p.client->write_all("x", Deadline::after(1s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::internal);
  // The released socket is still connected.
  ASSERT_EQ(::send(fd.get(), "y", 1, MSG_NOSIGNAL), 1);
  char c = 0;
  ASSERT_EQ(::recv(p.server.get(), &c, 1, 0), 1);
  EXPECT_EQ(c, 'y');
}

TEST(SocketStream, MakesABlockingSocketNonBlocking) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Fd other(sv[1]);
  SocketStream s{Fd(sv[0])};
  EXPECT_TRUE(::fcntl(s.fd(), F_GETFL) & O_NONBLOCK);
  // Which is what lets the deadline bound a read on it.
  char buf[4];
  auto n = s.read_some(buf, Deadline::after(50ms));
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().detail, "timed out waiting for the server");
}

}  // namespace
}  // namespace mx::net
