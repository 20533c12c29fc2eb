// Tests for tls::handshake and TlsStream against an OpenSSL server thread on loopback, with a
// test CA and certificates generated at run time.
#include "tls/tls_stream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "net/socket.hpp"
#include "unit/tls/test_pki.hpp"
#include "unit/tls/test_server.hpp"

namespace mx::tls {
namespace {

using namespace std::chrono_literals;
using testing::KeyCert;
using testing::ServerSide;
using testing::TempFile;
using testing::TestServer;
using testing::tls_script;

constexpr const char* kHost = "mx.example.test";

// Reads from a blocking server-side SSL until `n` bytes arrived or the stream ended.
std::string server_read(SSL* ssl, std::size_t n) {
  std::string out;
  char buf[16384];
  while (out.size() < n) {
    std::size_t got = 0;
    if (SSL_read_ex(ssl, buf, std::min(sizeof buf, n - out.size()), &got) != 1) break;
    out.append(buf, got);
  }
  return out;
}

bool server_write(SSL* ssl, const std::string& data) {
  std::size_t written = 0;
  return SSL_write_ex(ssl, data.data(), data.size(), &written) == 1 && written == data.size();
}

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7919 + seed) >> 3);
  return s;
}

class TlsStreamTest : public ::testing::Test {
 protected:
  // Key generation is the slow part, so the certificates are made once per suite.
  struct Pki {
    KeyCert ca = testing::make_ca("Test CA");
    KeyCert other_ca = testing::make_ca("Other CA");
    KeyCert leaf = testing::make_leaf(ca, kHost, {kHost});
    KeyCert self_signed = testing::make_self_signed(kHost, {kHost});
    KeyCert wildcard = testing::make_leaf(ca, "wildcard", {"*.example.test"});
    KeyCert partial_wildcard = testing::make_leaf(ca, "partial", {"m*.example.test"});
    TempFile ca_file{testing::to_pem(ca.cert.get())};
    TempFile other_ca_file{testing::to_pem(other_ca.cert.get())};
  };
  static inline std::unique_ptr<Pki> pki_;

  static void SetUpTestSuite() { pki_ = std::make_unique<Pki>(); }
  static void TearDownTestSuite() { pki_.reset(); }

  static Context context(const std::string& ca_file, int min_version = TLS1_2_VERSION) {
    auto ctx = Context::create({ca_file, "", min_version});
    EXPECT_TRUE(ctx) << ctx.error().describe();
    return std::move(ctx).value();
  }
  static Context trusting_test_ca() { return context(pki_->ca_file.path()); }

  static Result<std::unique_ptr<TlsStream>> connect(const TestServer& server, Context& ctx,
                                                    HandshakeParams params,
                                                    Deadline deadline = Deadline::after(10s)) {
    auto fd = net::connect_tcp({"127.0.0.1", server.port()}, deadline);
    if (!fd) return fail(std::move(fd).error());
    return handshake(std::move(*fd), ctx, params, deadline);
  }

  // A server that completes the handshake and waits for the client to hang up.
  static TestServer::Script idle_tls(const KeyCert& kc, ServerSide* side) {
    return tls_script(kc, side, [](SSL* ssl) { testing::drain_until_closed(SSL_get_fd(ssl)); });
  }
};

TEST_F(TlsStreamTest, OpportunisticAcceptsSelfSignedAndReportsPkixInvalid) {
  ServerSide side;
  TestServer server(idle_tls(pki_->self_signed, &side));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::none, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_FALSE((*s)->info().pkix_valid);
  EXPECT_EQ((*s)->info().pkix_error, "self-signed certificate");
  EXPECT_EQ((*s)->info().peer_subject, (*s)->info().peer_issuer);
  s->reset();
  server.join();
  EXPECT_TRUE(side.accepted);
}

TEST_F(TlsStreamTest, OpportunisticWithTrustedChainReportsPkixValid) {
  ServerSide side;
  TestServer server(idle_tls(pki_->leaf, &side));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::none, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_TRUE((*s)->info().pkix_valid) << (*s)->info().pkix_error;
  EXPECT_EQ((*s)->info().pkix_error, "");
}

TEST_F(TlsStreamTest, OpportunisticWithWrongNameReportsPkixInvalid) {
  ServerSide side;
  TestServer server(idle_tls(pki_->leaf, &side));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {"other.example.test", Verify::none, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_FALSE((*s)->info().pkix_valid);
  EXPECT_EQ((*s)->info().pkix_error, "hostname mismatch");
}

TEST_F(TlsStreamTest, OpportunisticWithUntrustedCaReportsPkixInvalid) {
  ServerSide side;
  TestServer server(idle_tls(pki_->leaf, &side));
  Context ctx = context(pki_->other_ca_file.path());
  auto s = connect(server, ctx, {kHost, Verify::none, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_FALSE((*s)->info().pkix_valid);
  EXPECT_EQ((*s)->info().pkix_error, "unable to get local issuer certificate");
}

TEST_F(TlsStreamTest, PkixSucceedsWithTrustedChainAndMatchingName) {
  ServerSide side;
  TestServer server(idle_tls(pki_->leaf, &side));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::pkix, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  const Info& info = (*s)->info();
  EXPECT_TRUE(info.pkix_valid);
  EXPECT_EQ(info.pkix_error, "");
  EXPECT_EQ(info.version, "TLSv1.3");
  EXPECT_FALSE(info.cipher.empty());
  EXPECT_EQ(info.peer_subject, "CN=mx.example.test,O=mxclient tests");
  EXPECT_EQ(info.peer_issuer, "CN=Test CA,O=mxclient tests");
  EXPECT_EQ(info.spki_sha256, testing::spki_sha256_of_key(pki_->leaf.key.get()));
  EXPECT_EQ(info.spki_sha256.size(), 64u);
  s->reset();
  server.join();
  EXPECT_EQ(side.sni, kHost);
}

TEST_F(TlsStreamTest, SpkiDigestDiffersPerKey) {
  ServerSide side;
  TestServer server(idle_tls(pki_->self_signed, &side));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::none, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_EQ((*s)->info().spki_sha256, testing::spki_sha256_of_key(pki_->self_signed.key.get()));
  EXPECT_NE((*s)->info().spki_sha256, testing::spki_sha256_of_key(pki_->leaf.key.get()));
}

TEST_F(TlsStreamTest, PkixFailsOnWrongName) {
  ServerSide side;
  TestServer server(idle_tls(pki_->leaf, &side));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {"other.example.test", Verify::pkix, {}, {}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().stage, Stage::tls);
  EXPECT_TRUE(s.error().temporary());
  EXPECT_EQ(s.error().detail,
            "certificate verification failed for other.example.test: hostname mismatch");
  server.join();
  EXPECT_FALSE(side.accepted);
}

TEST_F(TlsStreamTest, PkixFailsOnUntrustedCa) {
  ServerSide side;
  TestServer server(idle_tls(pki_->leaf, &side));
  Context ctx = context(pki_->other_ca_file.path());
  auto s = connect(server, ctx, {kHost, Verify::pkix, {}, {}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().stage, Stage::tls);
  EXPECT_EQ(s.error().detail,
            "certificate verification failed for mx.example.test: unable to get local issuer "
            "certificate");
}

TEST_F(TlsStreamTest, PkixFailsOnSelfSigned) {
  ServerSide side;
  TestServer server(idle_tls(pki_->self_signed, &side));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::pkix, {}, {}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().detail,
            "certificate verification failed for mx.example.test: self-signed certificate");
}

TEST_F(TlsStreamTest, ReferenceNamesReplaceTheSni) {
  {
    ServerSide side;
    TestServer server(idle_tls(pki_->leaf, &side));
    Context ctx = trusting_test_ca();
    auto s = connect(server, ctx, {kHost, Verify::pkix, {"other.example.test", kHost}, {}});
    ASSERT_TRUE(s) << s.error().describe();
    EXPECT_TRUE((*s)->info().pkix_valid);
  }
  {
    ServerSide side;
    TestServer server(idle_tls(pki_->leaf, &side));
    Context ctx = trusting_test_ca();
    auto s = connect(server, ctx, {kHost, Verify::pkix, {"other.example.test"}, {}});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().detail,
              "certificate verification failed for mx.example.test: hostname mismatch");
  }
}

TEST_F(TlsStreamTest, WildcardMatchesExactlyOneLeftmostLabel) {
  for (auto [name, ok] : {std::pair{"mx.example.test", true}, std::pair{"a.mx.example.test", false},
                          std::pair{"example.test", false}}) {
    ServerSide side;
    TestServer server(idle_tls(pki_->wildcard, &side));
    Context ctx = trusting_test_ca();
    auto s = connect(server, ctx, {name, Verify::pkix, {}, {}});
    EXPECT_EQ(s.has_value(), ok) << name;
  }
}

TEST_F(TlsStreamTest, PartialWildcardIsNotAccepted) {
  ServerSide side;
  TestServer server(idle_tls(pki_->partial_wildcard, &side));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::pkix, {}, {}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().detail,
            "certificate verification failed for mx.example.test: hostname mismatch");
}

TEST_F(TlsStreamTest, TrailingDotIsDroppedFromSniAndReferenceName) {
  ServerSide side;
  TestServer server(idle_tls(pki_->leaf, &side));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {"mx.example.test.", Verify::pkix, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  s->reset();
  server.join();
  EXPECT_EQ(side.sni, kHost);
}

TEST_F(TlsStreamTest, NoSniForIpLiteralOrEmptyName) {
  for (const char* name : {"127.0.0.1", "::1", ""}) {
    ServerSide side;
    TestServer server(idle_tls(pki_->leaf, &side));
    Context ctx = trusting_test_ca();
    auto s = connect(server, ctx, {name, Verify::none, {}, {}});
    ASSERT_TRUE(s) << s.error().describe();
    // A good chain without a name to bind it to is not PKIX-valid.
    EXPECT_FALSE((*s)->info().pkix_valid) << name;
    EXPECT_EQ((*s)->info().pkix_error, "no server name to check the certificate against");
    s->reset();
    server.join();
    EXPECT_TRUE(side.accepted) << name;
    EXPECT_EQ(side.sni, "") << name;
  }
}

TEST_F(TlsStreamTest, PkixWithoutAnyNameIsConfigError) {
  ServerSide side;
  TestServer server(idle_tls(pki_->leaf, &side));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {"127.0.0.1", Verify::pkix, {}, {}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().stage, Stage::config);
  EXPECT_TRUE(s.error().permanent());
}

TEST_F(TlsStreamTest, EmptyReferenceNameIsConfigError) {
  ServerSide side;
  TestServer server(idle_tls(pki_->leaf, &side));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::pkix, {kHost, ""}, {}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().stage, Stage::config);
}

TEST_F(TlsStreamTest, DataRoundTripsInBothDirections) {
  const std::string big_up = pattern(1 << 20, 1);
  const std::string big_down = pattern(1 << 20, 2);
  ServerSide side;
  std::string got_small, got_big;
  TestServer server(tls_script(pki_->leaf, &side, [&](SSL* ssl) {
    got_small = server_read(ssl, 6);
    server_write(ssl, "250 ok\r\n");
    got_big = server_read(ssl, big_up.size());
    server_write(ssl, big_down);
    testing::drain_until_closed(SSL_get_fd(ssl));
  }));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::pkix, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  TlsStream& tls = **s;

  ASSERT_TRUE(tls.write_all("EHLO\r\n", Deadline::after(10s)));
  char buf[8192];
  std::string reply;
  while (reply.size() < 8) {
    auto n = tls.read_some(buf, Deadline::after(10s));
    ASSERT_TRUE(n) << n.error().describe();
    ASSERT_GT(*n, 0u);
    reply.append(buf, *n);
  }
  EXPECT_EQ(reply, "250 ok\r\n");

  auto w = tls.write_all(big_up, Deadline::after(30s));
  ASSERT_TRUE(w) << w.error().describe();
  std::string down;
  while (down.size() < big_down.size()) {
    auto n = tls.read_some(buf, Deadline::after(30s));
    ASSERT_TRUE(n) << n.error().describe();
    ASSERT_GT(*n, 0u);
    down.append(buf, *n);
  }
  EXPECT_TRUE(down == big_down);
  s->reset();
  server.join();
  EXPECT_EQ(got_small, "EHLO\r\n");
  EXPECT_EQ(got_big.size(), big_up.size());
  EXPECT_TRUE(got_big == big_up);
}

TEST_F(TlsStreamTest, WriteAllSendsFullSizeRecords) {
  // 40000 bytes fit in ceil(40000 / 16384) = 3 records; smaller chunks would mean more.
  ServerSide side;
  std::string got;
  TestServer server(tls_script(pki_->leaf, &side, [&](SSL* ssl) {
    got = server_read(ssl, 40000);
    testing::drain_until_closed(SSL_get_fd(ssl));
  }));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::pkix, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  ASSERT_TRUE((*s)->write_all(pattern(40000, 3), Deadline::after(10s)));
  s->reset();
  server.join();
  EXPECT_EQ(got.size(), 40000u);
  EXPECT_EQ(side.app_records_after_handshake, 3);
}

TEST_F(TlsStreamTest, ReadReturnsZeroAfterCloseNotify) {
  ServerSide side;
  TestServer server(tls_script(pki_->leaf, &side, [](SSL* ssl) {
    server_write(ssl, "221 bye\r\n");
    SSL_shutdown(ssl);
    testing::drain_until_closed(SSL_get_fd(ssl));
  }));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::pkix, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  std::string got;
  char buf[64];
  for (;;) {
    auto n = (*s)->read_some(buf, Deadline::after(10s));
    ASSERT_TRUE(n) << n.error().describe();
    if (*n == 0) break;
    got.append(buf, *n);
  }
  EXPECT_EQ(got, "221 bye\r\n");
}

TEST_F(TlsStreamTest, CloseWithoutCloseNotifyIsAnError) {
  ServerSide side;
  TestServer server(tls_script(pki_->leaf, &side, [](SSL* ssl) {
    server_write(ssl, "250 ok\r\n");
    ::shutdown(SSL_get_fd(ssl), SHUT_RDWR);  // TCP FIN, no TLS close_notify
  }));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::pkix, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  char buf[64];
  Result<std::size_t> n = std::size_t{1};
  std::string got;
  while (n && *n > 0) {
    n = (*s)->read_some(buf, Deadline::after(10s));
    if (n) got.append(buf, *n);
  }
  ASSERT_FALSE(n) << "EOF without close_notify was reported as a clean end";
  EXPECT_EQ(got, "250 ok\r\n");
  EXPECT_EQ(n.error().stage, Stage::tls);
  EXPECT_EQ(n.error().detail, "TLS read from mx.example.test failed: unexpected eof while reading");
  // The stream is dead now and says so instead of calling into OpenSSL again.
  auto again = (*s)->read_some(buf, Deadline::after(1s));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().detail, "TLS connection to mx.example.test is no longer usable");
}

TEST_F(TlsStreamTest, ReadTimeoutLeavesTheStreamUsable) {
  ServerSide side;
  TestServer server(tls_script(pki_->leaf, &side, [](SSL* ssl) {
    if (server_read(ssl, 2) == "go") server_write(ssl, "late\r\n");
    testing::drain_until_closed(SSL_get_fd(ssl));
  }));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::pkix, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  char buf[64];
  auto start = Clock::now();
  auto n = (*s)->read_some(buf, Deadline::after(150ms));
  ASSERT_FALSE(n);
  EXPECT_GE(Clock::now() - start, 140ms);
  EXPECT_EQ(n.error().stage, Stage::tls);
  EXPECT_TRUE(n.error().temporary());
  EXPECT_EQ(n.error().detail, "timed out waiting for the server");

  ASSERT_TRUE((*s)->write_all("go", Deadline::after(10s)));
  std::string got;
  while (got.size() < 6) {
    n = (*s)->read_some(buf, Deadline::after(10s));
    ASSERT_TRUE(n) << n.error().describe();
    ASSERT_GT(*n, 0u);
    got.append(buf, *n);
  }
  EXPECT_EQ(got, "late\r\n");
}

TEST_F(TlsStreamTest, ShutdownSendsCloseNotify) {
  ServerSide side;
  int server_error = -1;
  TestServer server(tls_script(pki_->leaf, &side, [&](SSL* ssl) {
    char c;
    std::size_t n = 0;
    int r = SSL_read_ex(ssl, &c, 1, &n);
    server_error = SSL_get_error(ssl, r);
  }));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::pkix, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  auto r = (*s)->shutdown(Deadline::after(5s));
  ASSERT_TRUE(r) << r.error().describe();
  server.join();
  EXPECT_EQ(server_error, SSL_ERROR_ZERO_RETURN);
}

TEST_F(TlsStreamTest, WriteToClosedPeerFailsWithoutSigpipe) {
  // SIGPIPE keeps its default action: OpenSSL's stock socket BIO would kill the binary here.
  ServerSide side;
  TestServer server(tls_script(pki_->leaf, &side, [](SSL*) {}));  // closes right away
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::pkix, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  server.join();
  Result<void> r;
  for (int i = 0; i < 100 && r; ++i) {
    r = (*s)->write_all(std::string(4096, 'x'), Deadline::after(2s));
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::tls);
  EXPECT_EQ(r.error().detail.rfind("TLS write to mx.example.test failed: ", 0), 0u)
      << r.error().detail;
}

TEST_F(TlsStreamTest, ServerSendingGarbageFailsCleanly) {
  TestServer server([](Fd fd) {
    char buf[512];
    (void)::recv(fd.get(), buf, sizeof buf, 0);  // the ClientHello
    const char banner[] = "220 mx.example.test ESMTP ready\r\n";
    (void)::send(fd.get(), banner, sizeof banner - 1, MSG_NOSIGNAL);
    testing::drain_until_closed(fd.get());
  });
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::none, {}, {}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().stage, Stage::tls);
  EXPECT_TRUE(s.error().temporary());
  const std::string prefix = "TLS handshake with mx.example.test failed: ";
  ASSERT_EQ(s.error().detail.rfind(prefix, 0), 0u) << s.error().detail;
  EXPECT_GT(s.error().detail.size(), prefix.size());
  // The error queue was drained into the message, not left for the next caller.
  EXPECT_EQ(ERR_peek_error(), 0ul);
}

TEST_F(TlsStreamTest, ServerClosingMidHandshakeFails) {
  TestServer server([](Fd fd) {
    char buf[512];
    (void)::recv(fd.get(), buf, sizeof buf, 0);  // the ClientHello, then hang up
  });
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::none, {}, {}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().stage, Stage::tls);
  EXPECT_EQ(s.error().detail.rfind("TLS handshake with mx.example.test failed: ", 0), 0u)
      << s.error().detail;
}

TEST_F(TlsStreamTest, SilentServerTimesOutTheHandshake) {
  TestServer server([](Fd fd) { testing::drain_until_closed(fd.get()); });
  Context ctx = trusting_test_ca();
  auto fd = net::connect_tcp({"127.0.0.1", server.port()}, Deadline::after(5s));
  ASSERT_TRUE(fd);
  auto start = Clock::now();
  auto s = handshake(std::move(*fd), ctx, {kHost, Verify::none, {}, {}}, Deadline::after(200ms));
  ASSERT_FALSE(s);
  EXPECT_GE(Clock::now() - start, 190ms);
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(s.error().stage, Stage::tls);
  EXPECT_TRUE(s.error().temporary());
  EXPECT_EQ(s.error().detail, "TLS handshake with mx.example.test failed: timed out");
}

TEST_F(TlsStreamTest, BlockingSocketStillHonoursTheDeadline) {
  TestServer server([](Fd fd) { testing::drain_until_closed(fd.get()); });
  Context ctx = trusting_test_ca();
  // A plain blocking socket, as a caller might hand over.
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(server.port());
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  auto start = Clock::now();
  auto s = handshake(std::move(fd), ctx, {kHost, Verify::none, {}, {}}, Deadline::after(200ms));
  ASSERT_FALSE(s);
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(s.error().detail, "TLS handshake with mx.example.test failed: timed out");
}

TEST_F(TlsStreamTest, ErrorNamesThePeerAddressWithoutAnyName) {
  TestServer server([](Fd fd) { testing::drain_until_closed(fd.get()); });
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {"", Verify::none, {}, {}}, Deadline::after(100ms));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().detail,
            "TLS handshake with 127.0.0.1:" + std::to_string(server.port()) + " failed: timed out");
}

TEST_F(TlsStreamTest, NegotiatesTls12WhenTheServerStopsThere) {
  ServerSide side;
  TestServer server(tls_script(pki_->leaf, &side,
                               [](SSL* ssl) { testing::drain_until_closed(SSL_get_fd(ssl)); },
                               {TLS1_2_VERSION, {}}));
  Context ctx = trusting_test_ca();
  auto s = connect(server, ctx, {kHost, Verify::pkix, {}, {}});
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_EQ((*s)->info().version, "TLSv1.2");
  EXPECT_TRUE((*s)->info().pkix_valid);
}

TEST_F(TlsStreamTest, MinimumVersionIsEnforced) {
  ServerSide side;
  TestServer server(tls_script(pki_->leaf, &side,
                               [](SSL* ssl) { testing::drain_until_closed(SSL_get_fd(ssl)); },
                               {TLS1_2_VERSION, {}}));
  Context ctx = context(pki_->ca_file.path(), TLS1_3_VERSION);
  auto s = connect(server, ctx, {kHost, Verify::none, {}, {}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().stage, Stage::tls);
  EXPECT_EQ(s.error().detail.rfind("TLS handshake with mx.example.test failed: ", 0), 0u);
}

TEST_F(TlsStreamTest, InvalidSocketIsRejected) {
  Context ctx = trusting_test_ca();
  auto s = handshake(Fd(), ctx, {kHost, Verify::none, {}, {}}, Deadline::after(1s));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().stage, Stage::internal);
}

}  // namespace
}  // namespace mx::tls
