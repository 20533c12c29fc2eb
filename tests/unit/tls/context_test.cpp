// Tests for tls::Context: trust store loading, version floor and the modes TlsStream needs.
#include "tls/context.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/unique_handle.hpp"

#include "unit/tls/test_pki.hpp"

namespace mx::tls {
namespace {

TEST(Context, DefaultTrustStoreLoads) {
  auto ctx = Context::create({});
  ASSERT_TRUE(ctx) << ctx.error().describe();
  ASSERT_NE(ctx->native(), nullptr);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx->native()), TLS1_2_VERSION);
  // Non-application records must come back to our poll loop rather than be retried inside.
  EXPECT_EQ(SSL_CTX_get_mode(ctx->native()) & SSL_MODE_AUTO_RETRY, 0);
  EXPECT_EQ(SSL_CTX_get_mode(ctx->native()) & SSL_MODE_ENABLE_PARTIAL_WRITE, 0);
}

TEST(Context, LoadsACaFile) {
  auto ca = testing::make_ca("Test CA");
  testing::TempFile file(testing::to_pem(ca.cert.get()));
  auto ctx = Context::create({file.path(), "", TLS1_2_VERSION});
  ASSERT_TRUE(ctx) << ctx.error().describe();
  X509_STORE* store = SSL_CTX_get_cert_store(ctx->native());
  STACK_OF(X509_OBJECT)* objs = X509_STORE_get0_objects(store);
  EXPECT_EQ(sk_X509_OBJECT_num(objs), 1);
}

TEST(Context, LoadsACaDirectory) {
  auto ctx = Context::create({"", "/tmp", TLS1_2_VERSION});
  ASSERT_TRUE(ctx) << ctx.error().describe();
}

TEST(Context, MinimumTls13IsApplied) {
  auto ctx = Context::create({"", "", TLS1_3_VERSION});
  ASSERT_TRUE(ctx) << ctx.error().describe();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx->native()), TLS1_3_VERSION);
}

TEST(Context, MissingCaFileIsPermanentConfigError) {
  auto ctx = Context::create({"/nonexistent/ca.pem", "", TLS1_2_VERSION});
  ASSERT_FALSE(ctx);
  EXPECT_EQ(ctx.error().stage, Stage::config);
  EXPECT_TRUE(ctx.error().permanent());
  EXPECT_EQ(ctx.error().detail.rfind("cannot load CA certificates from /nonexistent/ca.pem: ", 0),
            0u)
      << ctx.error().detail;
}

TEST(Context, CaFileWithoutCertificatesIsConfigError) {
  testing::TempFile file("this is not PEM\n");
  auto ctx = Context::create({file.path(), "", TLS1_2_VERSION});
  ASSERT_FALSE(ctx);
  EXPECT_EQ(ctx.error().stage, Stage::config);
}

TEST(Context, MissingCaDirectoryIsConfigError) {
  auto ctx = Context::create({"", "/nonexistent/certs", TLS1_2_VERSION});
  ASSERT_FALSE(ctx);
  EXPECT_EQ(ctx.error().stage, Stage::config);
  EXPECT_EQ(ctx.error().detail, "CA directory /nonexistent/certs is not a directory");
}

TEST(Context, DaneIsEnabledForConnections) {
  auto ctx = Context::create({});
  ASSERT_TRUE(ctx) << ctx.error().describe();
  // SSL_dane_enable() fails on connections from a context without SSL_CTX_dane_enable().
  UniqueHandle<SSL, &SSL_free> ssl(SSL_new(ctx->native()));
  ASSERT_NE(ssl, nullptr);
  EXPECT_GT(SSL_dane_enable(ssl.get(), "mx.example.test"), 0);
  EXPECT_GT(
      SSL_dane_tlsa_add(ssl.get(), 3, 1, 1,
                        reinterpret_cast<const unsigned char*>(std::string(32, 'x').data()), 32),
      0);
}

TEST(Context, OldOrUnknownMinimumVersionsAreRefused) {
  for (int v : {0, SSL3_VERSION, TLS1_VERSION, TLS1_1_VERSION, 0x0305}) {
    auto ctx = Context::create({"", "", v});
    ASSERT_FALSE(ctx) << v;
    EXPECT_EQ(ctx.error().stage, Stage::config);
    EXPECT_TRUE(ctx.error().permanent());
  }
}

}  // namespace
}  // namespace mx::tls
