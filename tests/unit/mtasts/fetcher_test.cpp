// Tests for the libcurl MTA-STS policy fetcher against a loopback HTTPS server with a test CA
// made at run time. Every host name is pinned; nothing here resolves a name or leaves loopback.
#include "mtasts/fetcher.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "unit/tls/test_pki.hpp"
#include "unit/tls/test_server.hpp"

namespace mx::mtasts {
namespace {

using tls::testing::KeyCert;
using tls::testing::ServerSide;
using tls::testing::TempFile;
using tls::testing::TestServer;

// A name under .test (RFC 6761) that no resolver anywhere answers: success proves the pin.
constexpr const char* kDomain = "pinned.test";
constexpr const char* kHost = "mta-sts.pinned.test";
constexpr const char* kPolicy =
    "version: STSv1\r\nmode: enforce\r\nmx: mx.pinned.test\r\nmax_age: 86400\r\n";

std::string http_response(const std::string& status, const std::string& body,
                          const std::string& extra_headers = "Content-Type: text/plain\r\n") {
  return "HTTP/1.1 " + status + "\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// Reads the request head, optionally waits, then sends `response`.
TestServer::Script http_script(const KeyCert& kc, ServerSide* side, std::string* request,
                               std::string response,
                               std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
  return tls::testing::tls_script(kc, side, [request, response, delay](SSL* ssl) {
    char buf[4096];
    while (request->find("\r\n\r\n") == std::string::npos) {
      const int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) return;
      request->append(buf, static_cast<std::size_t>(n));
    }
    std::this_thread::sleep_for(delay);
    std::size_t off = 0;
    while (off < response.size()) {
      const int n = SSL_write(ssl, response.data() + off, static_cast<int>(response.size() - off));
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
    SSL_shutdown(ssl);
    tls::testing::drain_until_closed(SSL_get_fd(ssl));
  });
}

class FetcherTest : public ::testing::Test {
 protected:
  FetcherTest()
      : ca_(tls::testing::make_ca("MTA-STS Test CA")),
        leaf_(tls::testing::make_leaf(ca_, kHost, {kHost})),
        ca_file_(tls::testing::to_pem(ca_.cert.get())) {}

  FetchOptions options(std::uint16_t port) {
    FetchOptions o;
    o.port = port;
    o.ca_file = ca_file_.path();
    o.connect_timeout = std::chrono::milliseconds(5000);
    o.total_timeout = std::chrono::milliseconds(10000);
    return o;
  }
  static std::vector<std::string> loopback() { return {"127.0.0.1"}; }

  KeyCert ca_;
  KeyCert leaf_;
  TempFile ca_file_;
  ServerSide side_;
  std::string request_;
};

TEST(PolicyUrl, Form) {
  EXPECT_EQ(policy_url("example.com"), "https://mta-sts.example.com/.well-known/mta-sts.txt");
  EXPECT_EQ(policy_url("example.com", 8443),
            "https://mta-sts.example.com:8443/.well-known/mta-sts.txt");
}

TEST_F(FetcherTest, Ok200ThroughPinnedAddress) {
  TestServer server(
      http_script(leaf_, &side_, &request_,
                  http_response("200 OK", kPolicy, "Content-Type: text/plain; charset=utf-8\r\n")));
  CurlFetcher fetcher(options(server.port()));
  auto body = fetcher.fetch("Pinned.TEST", loopback());
  server.join();
  ASSERT_TRUE(body) << body.error().detail;
  EXPECT_EQ(*body, kPolicy);
  EXPECT_EQ(side_.sni, kHost);
  EXPECT_TRUE(request_.starts_with("GET /.well-known/mta-sts.txt HTTP/1.1\r\n")) << request_;
  EXPECT_NE(request_.find("Host: mta-sts.pinned.test:" + std::to_string(server.port())),
            std::string::npos)
      << request_;
}

TEST_F(FetcherTest, IPv6AddressesArePinnedToo) {
  // ::1 has no listener (refused or unavailable), so libcurl moves on to 127.0.0.1.
  TestServer server(http_script(leaf_, &side_, &request_, http_response("200 OK", kPolicy)));
  CurlFetcher fetcher(options(server.port()));
  const std::vector<std::string> addrs = {"::1", "127.0.0.1"};
  auto body = fetcher.fetch(kDomain, addrs);
  server.join();
  ASSERT_TRUE(body) << body.error().detail;
}

TEST_F(FetcherTest, Http404Fails) {
  TestServer server(http_script(leaf_, &side_, &request_, http_response("404 Not Found", "no")));
  CurlFetcher fetcher(options(server.port()));
  auto body = fetcher.fetch(kDomain, loopback());
  server.join();
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().stage, Stage::connect);
  EXPECT_EQ(body.error().host, kHost);
  EXPECT_NE(body.error().detail.find("MTA-STS policy fetch from https://mta-sts.pinned.test:" +
                                     std::to_string(server.port()) +
                                     "/.well-known/mta-sts.txt failed: HTTP 404"),
            std::string::npos)
      << body.error().detail;
}

TEST_F(FetcherTest, RedirectIsNotFollowed) {
  TestServer server(http_script(
      leaf_, &side_, &request_,
      http_response("301 Moved Permanently", kPolicy,
                    "Content-Type: text/plain\r\nLocation: https://mta-sts.pinned.test/x\r\n")));
  CurlFetcher fetcher(options(server.port()));
  auto body = fetcher.fetch(kDomain, loopback());
  server.join();
  ASSERT_FALSE(body);
  EXPECT_NE(body.error().detail.find("HTTP 301 redirect to https://mta-sts.pinned.test/x not "
                                     "followed"),
            std::string::npos)
      << body.error().detail;
}

TEST_F(FetcherTest, OtherSuccessCodesFail) {
  TestServer server(
      http_script(leaf_, &side_, &request_, http_response("203 Non-Authoritative", kPolicy)));
  CurlFetcher fetcher(options(server.port()));
  auto body = fetcher.fetch(kDomain, loopback());
  server.join();
  ASSERT_FALSE(body);
  EXPECT_NE(body.error().detail.find("HTTP 203"), std::string::npos);
}

TEST_F(FetcherTest, NonTextMediaTypeFails) {
  TestServer server(http_script(leaf_, &side_, &request_,
                                http_response("200 OK", kPolicy, "Content-Type: text/html\r\n")));
  CurlFetcher fetcher(options(server.port()));
  auto body = fetcher.fetch(kDomain, loopback());
  server.join();
  ASSERT_FALSE(body);
  EXPECT_NE(body.error().detail.find("text/html"), std::string::npos) << body.error().detail;
}

TEST_F(FetcherTest, BodyOver64KiBIsAborted) {
  const std::string big(64 * 1024 + 1, 'x');
  TestServer server(http_script(leaf_, &side_, &request_, http_response("200 OK", big)));
  CurlFetcher fetcher(options(server.port()));
  auto body = fetcher.fetch(kDomain, loopback());
  server.join();
  ASSERT_FALSE(body);
  EXPECT_NE(body.error().detail.find("body larger than 65536 octets"), std::string::npos)
      << body.error().detail;
}

TEST_F(FetcherTest, BodyOfExactly64KiBIsAccepted) {
  const std::string body_text(64 * 1024, 'x');
  TestServer server(http_script(leaf_, &side_, &request_, http_response("200 OK", body_text)));
  CurlFetcher fetcher(options(server.port()));
  auto body = fetcher.fetch(kDomain, loopback());
  server.join();
  ASSERT_TRUE(body) << body.error().detail;
  EXPECT_EQ(body->size(), body_text.size());
}

TEST_F(FetcherTest, WrongCertificateNameFails) {
  KeyCert other = tls::testing::make_leaf(ca_, "mta-sts.other.test", {"mta-sts.other.test"});
  TestServer server(http_script(other, &side_, &request_, http_response("200 OK", kPolicy)));
  CurlFetcher fetcher(options(server.port()));
  auto body = fetcher.fetch(kDomain, loopback());
  server.join();
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().stage, Stage::tls) << body.error().detail;
  EXPECT_TRUE(request_.empty());  // no request was sent to the impostor
}

TEST_F(FetcherTest, UntrustedCaFails) {
  KeyCert rogue_ca = tls::testing::make_ca("Rogue CA");
  KeyCert rogue = tls::testing::make_leaf(rogue_ca, kHost, {kHost});
  TestServer server(http_script(rogue, &side_, &request_, http_response("200 OK", kPolicy)));
  CurlFetcher fetcher(options(server.port()));
  auto body = fetcher.fetch(kDomain, loopback());
  server.join();
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().stage, Stage::tls) << body.error().detail;
  EXPECT_TRUE(request_.empty());
}

TEST_F(FetcherTest, SlowServerTimesOut) {
  TestServer server(http_script(leaf_, &side_, &request_, http_response("200 OK", kPolicy),
                                std::chrono::milliseconds(1500)));
  FetchOptions o = options(server.port());
  o.total_timeout = std::chrono::milliseconds(300);
  CurlFetcher fetcher(o);
  const auto start = std::chrono::steady_clock::now();
  auto body = fetcher.fetch(kDomain, loopback());
  const auto took = std::chrono::steady_clock::now() - start;
  server.join();
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().stage, Stage::connect);
  EXPECT_NE(body.error().detail.find("timed out"), std::string::npos) << body.error().detail;
  EXPECT_LT(took, std::chrono::milliseconds(1200));
}

TEST_F(FetcherTest, ConnectionRefusedFails) {
  std::uint16_t port = 0;
  {
    Fd s(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&sin), len), 0);
    ASSERT_EQ(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&sin), &len), 0);
    port = ntohs(sin.sin_port);
  }  // closed without listening: connections are refused
  CurlFetcher fetcher(options(port));
  auto body = fetcher.fetch(kDomain, loopback());
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().stage, Stage::connect);
}

TEST_F(FetcherTest, OpenSocketHookCarriesTheConnection) {
  TestServer server(http_script(leaf_, &side_, &request_, http_response("200 OK", kPolicy)));
  std::vector<SocketRequest> seen;
  const std::uint16_t server_port = server.port();
  FetchOptions o = options(4443);  // the port libcurl asks for; the hook goes elsewhere
  o.open_socket = [&seen, server_port](const SocketRequest& r) -> Result<Fd> {
    seen.push_back(r);
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(server_port);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
      return fail(temporary_error(Stage::connect, "test hook connect failed"));
    }
    return fd;
  };
  CurlFetcher fetcher(o);
  // 192.0.2.1 (TEST-NET-1) is never contacted: the hook hands over a connected socket.
  const std::vector<std::string> addrs = {"192.0.2.1"};
  auto body = fetcher.fetch(kDomain, addrs);
  server.join();
  ASSERT_TRUE(body) << body.error().detail;
  EXPECT_EQ(*body, kPolicy);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].family, AF_INET);
  EXPECT_EQ(seen[0].address, "192.0.2.1");
  EXPECT_EQ(seen[0].port, 4443);
  EXPECT_EQ(side_.sni, kHost);
}

TEST_F(FetcherTest, OpenSocketHookTriesTheAddressesInOrder) {
  TestServer server(http_script(leaf_, &side_, &request_, http_response("200 OK", kPolicy)));
  std::vector<std::string> seen;
  const std::uint16_t server_port = server.port();
  FetchOptions o = options(443);
  o.open_socket = [&seen, server_port](const SocketRequest& r) -> Result<Fd> {
    seen.push_back(r.address);
    if (r.family != AF_INET) return fail(temporary_error(Stage::connect, "no IPv6 here"));
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(server_port);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
      return fail(temporary_error(Stage::connect, "test hook connect failed"));
    }
    return fd;
  };
  CurlFetcher fetcher(o);
  const std::vector<std::string> addrs = {"2001:db8::1", "192.0.2.7", "192.0.2.8"};
  auto body = fetcher.fetch(kDomain, addrs);
  server.join();
  ASSERT_TRUE(body) << body.error().detail;
  EXPECT_EQ(seen, (std::vector<std::string>{"2001:db8::1", "192.0.2.7"}));
}

TEST_F(FetcherTest, OpenSocketHookErrorIsReported) {
  FetchOptions o = options(4443);
  o.open_socket = [](const SocketRequest&) -> Result<Fd> {
    return fail(temporary_error(Stage::connect, "SOCKS5 proxy refused"));
  };
  CurlFetcher fetcher(o);
  const std::vector<std::string> addrs = {"192.0.2.1"};
  auto body = fetcher.fetch(kDomain, addrs);
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().stage, Stage::connect);
  EXPECT_NE(body.error().detail.find("SOCKS5 proxy refused"), std::string::npos)
      << body.error().detail;
}

TEST_F(FetcherTest, BadInputIsRefusedBeforeAnyConnection) {
  CurlFetcher fetcher(options(1));
  const std::vector<std::string> none;
  auto r = fetcher.fetch(kDomain, none);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::dns);
  for (const char* bad : {"localhost", "127.0.0.1,10.0.0.1", "[::1]", "1.2.3", ""}) {
    const std::vector<std::string> addrs = {bad};
    auto b = fetcher.fetch(kDomain, addrs);
    ASSERT_FALSE(b) << bad;
    EXPECT_EQ(b.error().stage, Stage::input) << bad;
  }
  for (const char* domain : {"", "a/b", "evil.test:80", "x.test/../y", "a..b"}) {
    auto b = fetcher.fetch(domain, loopback());
    ASSERT_FALSE(b) << domain;
    EXPECT_EQ(b.error().stage, Stage::input) << domain;
  }
}

}  // namespace
}  // namespace mx::mtasts
