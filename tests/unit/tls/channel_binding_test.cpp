// Channel binding (RFC 9266 tls-exporter, RFC 5929 tls-unique) computed by TlsStream against
// what the server side computes independently, and client certificates seen by the server.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "net/socket.hpp"
#include "tls/tls_stream.hpp"
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

// What the server computed from its own SSL, straight from OpenSSL.
struct ServerBinding {
  std::string exporter;
  std::string peer_finished;  // the client's Finished: the first one in a full handshake
  bool reused = true;
};

std::string key_pem(EVP_PKEY* key) {
  UniqueHandle<BIO, &BIO_free> mem(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(mem.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(mem.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

class ChannelBindingTest : public ::testing::Test {
 protected:
  static inline std::unique_ptr<KeyCert> server_;
  static inline std::unique_ptr<KeyCert> client_;
  static void SetUpTestSuite() {
    server_ = std::make_unique<KeyCert>(testing::make_self_signed(kHost, {kHost}));
    client_ = std::make_unique<KeyCert>(testing::make_self_signed("client", {"client.test"}));
  }
  static void TearDownTestSuite() {
    server_.reset();
    client_.reset();
  }

  static TestServer::Script binding_server(ServerSide* side, ServerBinding* out,
                                           testing::TlsServerOptions opts = {}) {
    return tls_script(
        *server_, side,
        [out](SSL* ssl) {
          unsigned char ekm[32];
          static constexpr char kLabel[] = "EXPORTER-Channel-Binding";
          if (SSL_export_keying_material(ssl, ekm, sizeof ekm, kLabel, sizeof kLabel - 1, nullptr,
                                         0, 0) == 1)
            out->exporter.assign(reinterpret_cast<char*>(ekm), sizeof ekm);
          unsigned char fin[64];
          std::size_t n = SSL_get_peer_finished(ssl, fin, sizeof fin);
          out->peer_finished.assign(reinterpret_cast<char*>(fin), n);
          out->reused = SSL_session_reused(ssl) != 0;
          testing::drain_until_closed(SSL_get_fd(ssl));
        },
        opts);
  }

  static Result<std::unique_ptr<TlsStream>> connect(const TestServer& server, Context& ctx) {
    Deadline deadline = Deadline::after(10s);
    auto fd = net::connect_tcp({"127.0.0.1", server.port()}, deadline);
    if (!fd) return fail(std::move(fd).error());
    return handshake(std::move(*fd), ctx, {kHost, Verify::none, {}, {}}, deadline);
  }

  static Context make_context(ContextOptions options = {}) {
    auto ctx = Context::create(options);
    EXPECT_TRUE(ctx) << ctx.error().describe();
    return std::move(ctx).value();
  }
};

TEST_F(ChannelBindingTest, Tls13UsesExporterMatchingTheServer) {
  ServerSide side;
  ServerBinding srv;
  TestServer server(binding_server(&side, &srv));
  Context ctx = make_context();
  auto s = connect(server, ctx);
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_EQ((*s)->info().version, "TLSv1.3");
  EXPECT_EQ((*s)->channel_binding_type(), "tls-exporter");
  auto cb = (*s)->channel_binding("tls-exporter");
  ASSERT_TRUE(cb) << cb.error().describe();
  EXPECT_EQ(cb->size(), 32u);
  // RFC 9266 §3 / RFC 8446 §C.5: tls-unique does not exist for TLS 1.3.
  auto unique = (*s)->channel_binding("tls-unique");
  ASSERT_FALSE(unique);
  EXPECT_EQ(unique.error().stage, Stage::tls);
  EXPECT_FALSE((*s)->channel_binding("tls-server-end-point"));
  std::string client_value = *cb;
  s->reset();
  server.join();
  EXPECT_EQ(client_value, srv.exporter);
}

TEST_F(ChannelBindingTest, Tls12UsesTlsUniqueMatchingTheServer) {
  ServerSide side;
  ServerBinding srv;
  TestServer server(binding_server(&side, &srv, {TLS1_2_VERSION, {}, false}));
  Context ctx = make_context();
  auto s = connect(server, ctx);
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_EQ((*s)->info().version, "TLSv1.2");
  EXPECT_EQ((*s)->channel_binding_type(), "tls-unique");
  auto cb = (*s)->channel_binding("tls-unique");
  ASSERT_TRUE(cb) << cb.error().describe();
  EXPECT_EQ(cb->size(), 12u);  // RFC 5246 §7.4.9 verify_data
  // OpenSSL 3 negotiates extended master secret, so RFC 9266 §4.2 allows the exporter too.
  auto exporter = (*s)->channel_binding("tls-exporter");
  ASSERT_TRUE(exporter) << exporter.error().describe();
  std::string unique_value = *cb;
  std::string exporter_value = *exporter;
  s->reset();
  server.join();
  EXPECT_FALSE(srv.reused);
  EXPECT_EQ(unique_value, srv.peer_finished);  // full handshake: the client's Finished
  EXPECT_EQ(exporter_value, srv.exporter);
}

TEST_F(ChannelBindingTest, DiffersPerConnection) {
  std::string first, second;
  for (std::string* out : {&first, &second}) {
    ServerSide side;
    ServerBinding srv;
    TestServer server(binding_server(&side, &srv));
    Context ctx = make_context();
    auto s = connect(server, ctx);
    ASSERT_TRUE(s);
    *out = *(*s)->channel_binding("tls-exporter");
  }
  EXPECT_NE(first, second);
}

// --- Client certificates ------------------------------------------------------------------------

TEST_F(ChannelBindingTest, ClientCertificateFromPemFilesIsPresented) {
  TempFile cert(testing::to_pem(client_->cert.get()));
  TempFile key(key_pem(client_->key.get()));
  ContextOptions o;
  o.client_cert_file = cert.path();
  o.client_key_file = key.path();
  Context ctx = make_context(o);
  EXPECT_TRUE(ctx.has_client_certificate());
  EXPECT_EQ(ctx.client_spki_sha256(), testing::spki_sha256_of_key(client_->key.get()));
  ServerSide side;
  ServerBinding srv;
  testing::TlsServerOptions so;
  so.request_client_cert = true;
  TestServer server(binding_server(&side, &srv, so));
  auto s = connect(server, ctx);
  ASSERT_TRUE(s) << s.error().describe();
  s->reset();
  server.join();
  ASSERT_TRUE(side.accepted) << side.error;
  EXPECT_EQ(side.client_cert_sha256, ctx.client_certificate_sha256());
  EXPECT_EQ(side.client_cert_sha256,
            testing::to_hex(testing::sha256(testing::cert_der(client_->cert.get()))));
}

TEST_F(ChannelBindingTest, BareEd25519KeyGetsSelfSignedCertificate) {
  UniqueHandle<EVP_PKEY, &EVP_PKEY_free> ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(ed);
  TempFile key(key_pem(ed.get()));
  ContextOptions o;
  o.client_key_file = key.path();
  Context ctx = make_context(o);
  ASSERT_TRUE(ctx.has_client_certificate());
  std::string key_spki = testing::spki_sha256_of_key(ed.get());
  EXPECT_EQ(ctx.client_spki_sha256(), key_spki);
  X509* made = SSL_CTX_get0_certificate(ctx.native());
  ASSERT_NE(made, nullptr);
  EXPECT_EQ(X509_verify(made, ed.get()), 1);  // self-signed with that key
  EXPECT_EQ(X509_cmp_current_time(X509_get0_notAfter(made)), 1);
  EXPECT_EQ(X509_cmp_current_time(X509_get0_notBefore(made)), -1);

  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    ServerSide side;
    ServerBinding srv;
    testing::TlsServerOptions so;
    so.max_version = version;
    so.request_client_cert = true;
    TestServer server(binding_server(&side, &srv, so));
    auto s = connect(server, ctx);
    ASSERT_TRUE(s) << s.error().describe();
    s->reset();
    server.join();
    ASSERT_TRUE(side.accepted) << side.error;
    EXPECT_EQ(side.client_spki_sha256, key_spki) << version;
    EXPECT_EQ(side.client_cert_subject, "/CN=mxclient");
  }
}

TEST_F(ChannelBindingTest, NoClientCertificateUnlessConfigured) {
  Context ctx = make_context();
  EXPECT_FALSE(ctx.has_client_certificate());
  ServerSide side;
  ServerBinding srv;
  testing::TlsServerOptions so;
  so.request_client_cert = true;
  TestServer server(binding_server(&side, &srv, so));
  auto s = connect(server, ctx);
  ASSERT_TRUE(s) << s.error().describe();
  s->reset();
  server.join();
  EXPECT_TRUE(side.accepted);
  EXPECT_EQ(side.client_cert_sha256, "");
}

TEST_F(ChannelBindingTest, ClientCertificateErrors) {
  TempFile cert(testing::to_pem(client_->cert.get()));
  TempFile other_key(key_pem(server_->key.get()));
  TempFile garbage("not a key\n");
  auto check = [](ContextOptions o, const std::string& needle) {
    auto ctx = Context::create(o);
    ASSERT_FALSE(ctx) << needle;
    EXPECT_EQ(ctx.error().stage, Stage::config);
    EXPECT_TRUE(ctx.error().permanent());
    EXPECT_NE(ctx.error().detail.find(needle), std::string::npos) << ctx.error().detail;
  };
  ContextOptions o;
  o.client_cert_file = cert.path();
  check(o, "needs its private key");
  o.client_key_file = "/nonexistent/key.pem";
  check(o, "cannot open client key file");
  o.client_key_file = garbage.path();
  check(o, "cannot read a PEM private key");
  o.client_key_file = other_key.path();
  check(o, "does not match");
  o.client_cert_file = garbage.path();
  check(o, "cannot load the client certificate");
}

}  // namespace
}  // namespace mx::tls
