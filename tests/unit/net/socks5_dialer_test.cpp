// Tests for net/socks5_dialer: proxy URL parsing, and dialing through a scripted SOCKS5 server
// thread on loopback (no auth, username/password, refusals, split and early replies, timeouts).
#include "net/socks5_dialer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace mx::net {
namespace {

using namespace std::chrono_literals;

std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s += static_cast<char>(b);
  return s;
}

// Blocking helpers for the server side.
std::string read_n(int fd, std::size_t n) {
  std::string out;
  while (out.size() < n) {
    char buf[256];
    ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (got <= 0) break;
    out.append(buf, static_cast<std::size_t>(got));
  }
  return out;
}

void write_str(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

// A one-connection SOCKS5 server on 127.0.0.1 running `script` on the accepted socket.
class ScriptedProxy {
 public:
  explicit ScriptedProxy(std::function<void(int)> script) {
    listen_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    EXPECT_EQ(::bind(listen_.get(), reinterpret_cast<sockaddr*>(&sin), len), 0);
    EXPECT_EQ(::listen(listen_.get(), 4), 0);
    ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&sin), &len);
    port_ = ntohs(sin.sin_port);
    thread_ = std::thread([this, script = std::move(script)] {
      pollfd p{listen_.get(), POLLIN, 0};
      if (::poll(&p, 1, 5000) != 1) return;
      Fd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.valid()) script(conn.get());
    });
  }
  ~ScriptedProxy() { thread_.join(); }

  Endpoint endpoint() const { return {"127.0.0.1", port_}; }

 private:
  Fd listen_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// Reads what the client has for us until EOF or a short quiet period.
std::string read_rest(int fd, std::chrono::milliseconds quiet = 200ms) {
  std::string out;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(quiet.count())) != 1) return out;
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// Reads from the dialed fd until `n` octets or the deadline.
std::string client_read(const Fd& fd, std::size_t n) {
  std::string out;
  auto deadline = Deadline::after(3s);
  while (out.size() < n) {
    auto ready = wait_ready(fd.get(), Io::read, deadline);
    if (!ready || !*ready) break;
    char buf[256];
    ssize_t got = ::recv(fd.get(), buf, sizeof buf, 0);
    if (got <= 0) break;
    out.append(buf, static_cast<std::size_t>(got));
  }
  return out;
}

const std::string kConnect4 = bytes({5, 1, 0, 1, 192, 0, 2, 25, 0, 25});
const std::string kSuccess4 = bytes({5, 0, 0, 1, 127, 0, 0, 1, 0x9c, 0x40});
const Endpoint kTarget{"192.0.2.25", 25};

// ---- parse_proxy_url ---------------------------------------------------------------------------

TEST(ProxyUrl, Ipv4WithPort) {
  auto u = parse_proxy_url("socks5://127.0.0.1:1081");
  ASSERT_TRUE(u) << u.error().detail;
  EXPECT_EQ(u->proxy.ip, "127.0.0.1");
  EXPECT_EQ(u->proxy.port, 1081);
  EXPECT_FALSE(u->credentials);
}

TEST(ProxyUrl, DefaultPortAndTrailingSlashAndSchemeCase) {
  auto u = parse_proxy_url("SOCKS5://10.0.0.1/");
  ASSERT_TRUE(u) << u.error().detail;
  EXPECT_EQ(u->proxy.port, 1080);
}

TEST(ProxyUrl, Ipv6InBrackets) {
  auto u = parse_proxy_url("socks5://[::1]:9050");
  ASSERT_TRUE(u) << u.error().detail;
  EXPECT_EQ(u->proxy.ip, "::1");
  EXPECT_EQ(u->proxy.port, 9050);
  auto d = parse_proxy_url("socks5://[2001:db8::5]");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->proxy.port, 1080);
}

TEST(ProxyUrl, CredentialsWithEscapes) {
  auto u = parse_proxy_url("socks5://us%40er:p%3Ass:w@127.0.0.1:1080");
  ASSERT_TRUE(u) << u.error().detail;
  ASSERT_TRUE(u->credentials);
  EXPECT_EQ(u->credentials->username, "us@er");
  EXPECT_EQ(u->credentials->password, "p:ss:w");  // the first ':' separates
}

TEST(ProxyUrl, HostNameRefusedWithReason) {
  auto u = parse_proxy_url("socks5://proxy.example:1080");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().stage, Stage::usage);
  EXPECT_NE(u.error().detail.find("never asks the system resolver"), std::string::npos);
}

TEST(ProxyUrl, Socks5hRefused) {
  auto u = parse_proxy_url("socks5h://127.0.0.1:1080");
  ASSERT_FALSE(u);
  EXPECT_NE(u.error().detail.find("socks5h"), std::string::npos);
}

TEST(ProxyUrl, BadInputs) {
  const std::string long_user(256, 'u');
  for (std::string bad : std::initializer_list<std::string>{
           "127.0.0.1:1080", "http://127.0.0.1:8080", "socks4://127.0.0.1", "socks5://",
           "socks5://127.0.0.1:", "socks5://127.0.0.1:0", "socks5://127.0.0.1:65536",
           "socks5://127.0.0.1:12x", "socks5://::1:1080", "socks5://[::1", "socks5://[::1]x",
           "socks5://[127.0.0.1]:1", "socks5://user@127.0.0.1", "socks5://:pw@127.0.0.1",
           "socks5://u:@127.0.0.1", "socks5://u%4:p@127.0.0.1", "socks5://u%zz:p@127.0.0.1",
           "socks5://" + long_user + ":p@127.0.0.1"}) {
    auto u = parse_proxy_url(bad);
    EXPECT_FALSE(u) << bad;
    if (!u) {
      EXPECT_TRUE(u.error().permanent()) << bad;
    }
  }
}

TEST(ProxyUrl, ErrorsNeverShowThePassword) {
  auto u = parse_proxy_url("socks5://alice:s3cret@proxy.example:1080");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().detail.find("s3cret"), std::string::npos) << u.error().detail;
  EXPECT_NE(u.error().detail.find("socks5://***@proxy.example:1080"), std::string::npos);
}

// ---- dialing -----------------------------------------------------------------------------------

TEST(Socks5Dialer, DescribeNamesTheProxyNotTheCredentials) {
  Socks5Dialer d(Endpoint{"127.0.0.1", 1080}, socks5::Credentials{"u", "secret"});
  EXPECT_EQ(d.describe(), "through SOCKS5 proxy 127.0.0.1:1080");
}

TEST(Socks5Dialer, NoAuthConnectKeepsTheServersFirstBytes) {
  std::string got_greeting, got_connect;
  ScriptedProxy proxy([&](int fd) {
    got_greeting = read_n(fd, 3);
    write_str(fd, bytes({5, 0}));
    got_connect = read_n(fd, kConnect4.size());
    // The reply and the SMTP greeting in one segment: the dialer must leave the latter.
    write_str(fd, kSuccess4 + "220 mx.example ESMTP\r\n");
    read_rest(fd);
  });
  Socks5Dialer dialer(proxy.endpoint());
  auto fd = dialer.dial(kTarget, Deadline::after(3s));
  ASSERT_TRUE(fd) << fd.error().describe();
  EXPECT_EQ(client_read(*fd, 22), "220 mx.example ESMTP\r\n");
  fd->reset();
  EXPECT_EQ(got_greeting, bytes({5, 1, 0}));
  EXPECT_EQ(got_connect, kConnect4);
}

TEST(Socks5Dialer, Ipv6TargetAndDomainBoundAddressSplitIntoSingleOctets) {
  std::string got_connect;
  ScriptedProxy proxy([&](int fd) {
    read_n(fd, 3);
    write_str(fd, bytes({5, 0}));
    got_connect = read_n(fd, 22);
    std::string reply = bytes({5, 0, 0, 3, 9}) + "relay.lan" + bytes({0, 25}) + "220 hi\r\n";
    for (char c : reply) {  // one octet per segment
      write_str(fd, std::string(1, c));
      std::this_thread::sleep_for(2ms);
    }
    read_rest(fd);
  });
  Socks5Dialer dialer(proxy.endpoint());
  auto fd = dialer.dial({"2001:db8::25", 25}, Deadline::after(3s));
  ASSERT_TRUE(fd) << fd.error().describe();
  EXPECT_EQ(client_read(*fd, 8), "220 hi\r\n");
  fd->reset();
  EXPECT_EQ(got_connect.substr(0, 4), bytes({5, 1, 0, 4}));
}

TEST(Socks5Dialer, UsernamePasswordAccepted) {
  std::string got_greeting, got_auth;
  ScriptedProxy proxy([&](int fd) {
    got_greeting = read_n(fd, 4);
    write_str(fd, bytes({5, 2}));
    got_auth = read_n(fd, 1 + 1 + 5 + 1 + 6);
    write_str(fd, bytes({1, 0}));
    read_n(fd, kConnect4.size());
    write_str(fd, kSuccess4);
    read_rest(fd);
  });
  Socks5Dialer dialer(proxy.endpoint(), socks5::Credentials{"alice", "s3cret"});
  auto fd = dialer.dial(kTarget, Deadline::after(3s));
  ASSERT_TRUE(fd) << fd.error().describe();
  fd->reset();
  EXPECT_EQ(got_greeting, bytes({5, 2, 0, 2}));
  EXPECT_EQ(got_auth, bytes({1, 5}) + "alice" + bytes({6}) + "s3cret");
}

TEST(Socks5Dialer, CredentialsGivenButProxyNeedsNone) {
  ScriptedProxy proxy([&](int fd) {
    read_n(fd, 4);
    write_str(fd, bytes({5, 0}));
    // Straight to CONNECT: no sub-negotiation.
    EXPECT_EQ(read_n(fd, kConnect4.size()), kConnect4);
    write_str(fd, kSuccess4);
    read_rest(fd);
  });
  Socks5Dialer dialer(proxy.endpoint(), socks5::Credentials{"alice", "pw"});
  auto fd = dialer.dial(kTarget, Deadline::after(3s));
  ASSERT_TRUE(fd) << fd.error().describe();
}

TEST(Socks5Dialer, UsernamePasswordRefused) {
  ScriptedProxy proxy([&](int fd) {
    read_n(fd, 4);
    write_str(fd, bytes({5, 2}));
    read_n(fd, 1 + 1 + 5 + 1 + 5);
    write_str(fd, bytes({1, 1}));
    read_rest(fd);
  });
  Socks5Dialer dialer(proxy.endpoint(), socks5::Credentials{"alice", "wrong"});
  auto fd = dialer.dial(kTarget, Deadline::after(3s));
  ASSERT_FALSE(fd);
  EXPECT_TRUE(fd.error().temporary());
  EXPECT_EQ(fd.error().stage, Stage::connect);
  EXPECT_EQ(fd.error().detail, "SOCKS5 proxy " + proxy.endpoint().to_string() +
                                   ": username/password authentication failed (status 1)");
}

TEST(Socks5Dialer, AuthRequiredButNoCredentials) {
  ScriptedProxy proxy([&](int fd) {
    read_n(fd, 3);
    write_str(fd, bytes({5, 0xff}));
    read_rest(fd);
  });
  Socks5Dialer dialer(proxy.endpoint());
  auto fd = dialer.dial(kTarget, Deadline::after(3s));
  ASSERT_FALSE(fd);
  EXPECT_NE(fd.error().detail.find("requires authentication"), std::string::npos);
}

TEST(Socks5Dialer, ConnectRefusedByRuleset) {
  ScriptedProxy proxy([&](int fd) {
    read_n(fd, 3);
    write_str(fd, bytes({5, 0}));
    read_n(fd, kConnect4.size());
    write_str(fd, bytes({5, 2, 0, 1, 0, 0, 0, 0, 0, 0}));
    read_rest(fd);
  });
  Socks5Dialer dialer(proxy.endpoint());
  auto fd = dialer.dial(kTarget, Deadline::after(3s));
  ASSERT_FALSE(fd);
  EXPECT_TRUE(fd.error().temporary());
  EXPECT_EQ(fd.error().detail, "SOCKS5 proxy " + proxy.endpoint().to_string() +
                                   ": connection not allowed by ruleset (reply 2)");
}

TEST(Socks5Dialer, ShortFailureReplyThenClose) {
  ScriptedProxy proxy([&](int fd) {
    read_n(fd, 3);
    write_str(fd, bytes({5, 0}));
    read_n(fd, kConnect4.size());
    write_str(fd, bytes({5, 8, 0, 1}));  // truncated: the REP alone must decide
  });
  Socks5Dialer dialer(proxy.endpoint());
  auto fd = dialer.dial(kTarget, Deadline::after(3s));
  ASSERT_FALSE(fd);
  EXPECT_TRUE(fd.error().permanent());
  EXPECT_NE(fd.error().detail.find("address type not supported (reply 8)"), std::string::npos);
}

TEST(Socks5Dialer, ProxyClosesMidReply) {
  ScriptedProxy proxy([&](int fd) {
    read_n(fd, 3);
    write_str(fd, bytes({5, 0}));
    read_n(fd, kConnect4.size());
    write_str(fd, bytes({5, 0, 0, 1, 127}));
  });
  Socks5Dialer dialer(proxy.endpoint());
  auto fd = dialer.dial(kTarget, Deadline::after(3s));
  ASSERT_FALSE(fd);
  EXPECT_TRUE(fd.error().temporary());
  EXPECT_NE(fd.error().detail.find("closed the connection during the CONNECT reply"),
            std::string::npos)
      << fd.error().detail;
}

TEST(Socks5Dialer, NotASocksServer) {
  ScriptedProxy proxy([&](int fd) {
    read_n(fd, 3);
    write_str(fd, "HTTP/1.1 400 Bad Request\r\n\r\n");
  });
  Socks5Dialer dialer(proxy.endpoint());
  auto fd = dialer.dial(kTarget, Deadline::after(3s));
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().reason, Reason::protocol);
  EXPECT_NE(fd.error().detail.find("not a SOCKS5 proxy"), std::string::npos);
}

TEST(Socks5Dialer, SilentProxyTimesOut) {
  ScriptedProxy proxy([&](int fd) { read_rest(fd, 1500ms); });
  Socks5Dialer dialer(proxy.endpoint());
  auto start = Clock::now();
  auto fd = dialer.dial(kTarget, Deadline::after(300ms));
  ASSERT_FALSE(fd);
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_TRUE(fd.error().temporary());
  EXPECT_NE(fd.error().detail.find("timed out during method selection"), std::string::npos)
      << fd.error().detail;
}

TEST(Socks5Dialer, ProxyDown) {
  // A port nobody listens on: bind one, learn it, close it.
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&sin), len), 0);
  ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&sin), &len);
  s.reset();
  Socks5Dialer dialer(Endpoint{"127.0.0.1", ntohs(sin.sin_port)});
  auto fd = dialer.dial(kTarget, Deadline::after(3s));
  ASSERT_FALSE(fd);
  EXPECT_TRUE(fd.error().temporary());
  EXPECT_EQ(fd.error().stage, Stage::connect);
  EXPECT_EQ(fd.error().detail.rfind("SOCKS5 proxy 127.0.0.1:", 0), 0u) << fd.error().detail;
  EXPECT_NE(fd.error().detail.find("Connection refused"), std::string::npos);
}

TEST(Socks5Dialer, NameTargetRefusedBeforeConnecting) {
  // Port 9 on loopback: if the dialer tried to connect it would fail differently.
  Socks5Dialer dialer(Endpoint{"127.0.0.1", 9});
  auto fd = dialer.dial({"mx.example", 25}, Deadline::after(1s));
  ASSERT_FALSE(fd);
  EXPECT_TRUE(fd.error().permanent());
  EXPECT_NE(fd.error().detail.find("not an IP address"), std::string::npos);
}

TEST(Socks5Dialer, BadCredentialsRefusedBeforeConnecting) {
  Socks5Dialer dialer(Endpoint{"127.0.0.1", 9}, socks5::Credentials{"", "pw"});
  auto fd = dialer.dial(kTarget, Deadline::after(1s));
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().stage, Stage::config);
}

}  // namespace
}  // namespace mx::net
