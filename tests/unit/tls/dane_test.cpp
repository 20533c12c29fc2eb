// Tests for Verify::dane (RFC 7672 §3, RFC 7671 §5) against an OpenSSL server thread on loopback,
// with certificates generated at run time and TLSA records computed from them.
#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

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
using testing::TlsServerOptions;

constexpr const char* kHost = "mx.example.test";

dns::TlsaRecord tlsa(std::uint8_t usage, std::uint8_t selector, std::uint8_t mtype,
                     std::string data) {
  return {usage, selector, mtype, std::move(data)};
}

/// The association data of `cert` for a selector and matching type (RFC 6698 §2.1.2-§2.1.3).
std::string association(X509* cert, std::uint8_t selector, std::uint8_t mtype) {
  std::string der = selector == 0 ? testing::cert_der(cert) : testing::spki_der(cert);
  if (mtype == 1) return testing::sha256(der);
  if (mtype == 2) return testing::sha512(der);
  return der;
}

dns::TlsaRecord record_for(X509* cert, std::uint8_t usage, std::uint8_t selector,
                           std::uint8_t mtype) {
  return tlsa(usage, selector, mtype, association(cert, selector, mtype));
}

std::string text(const dns::TlsaRecord& r) {
  return std::to_string(r.usage) + " " + std::to_string(r.selector) + " " +
         std::to_string(r.mtype) + " " + testing::to_hex(r.data);
}

class DaneTest : public ::testing::Test {
 public:
  struct Pki {
    KeyCert ca = testing::make_ca("DANE Test CA");
    KeyCert untrusted_ca = testing::make_ca("Untrusted CA");
    KeyCert leaf = testing::make_leaf(ca, kHost, {kHost});
    KeyCert expired_leaf = testing::make_expired_leaf(ca, kHost, {kHost});
    KeyCert self_signed = testing::make_self_signed(kHost, {kHost});
    KeyCert expired_wrong_name =
        testing::make_expired_self_signed("elsewhere", {"elsewhere.example.org"});
    // The context trusts only this unrelated CA: nothing here can pass PKIX.
    TempFile untrusted_file{testing::to_pem(untrusted_ca.cert.get())};
  };
  static inline std::unique_ptr<Pki> pki_;

  static void SetUpTestSuite() { pki_ = std::make_unique<Pki>(); }
  static void TearDownTestSuite() { pki_.reset(); }

  static Context context() {
    auto ctx = Context::create({pki_->untrusted_file.path(), "", TLS1_2_VERSION});
    EXPECT_TRUE(ctx) << ctx.error().describe();
    return std::move(ctx).value();
  }

  static HandshakeParams dane(std::vector<dns::TlsaRecord> records,
                              std::vector<std::string> names = {kHost}, std::string sni = kHost) {
    HandshakeParams p;
    p.sni = std::move(sni);
    p.verify = Verify::dane;
    p.reference_names = std::move(names);
    p.tlsa = std::move(records);
    return p;
  }

  /// The server sends its certificate and then the issuing CA.
  static TlsServerOptions with_ca() {
    TlsServerOptions o;
    o.chain.push_back(pki_->ca.cert.get());
    return o;
  }
};

/// What one handshake against a fresh server gave.
struct Outcome {
  bool ok = false;
  Info info;
  Error error;
  ServerSide side;
};

Outcome attempt(const KeyCert& kc, const HandshakeParams& params, Context& ctx,
                TlsServerOptions options = {}) {
  Outcome out;
  {
    TestServer server(tls_script(
        kc, &out.side, [](SSL* ssl) { testing::drain_until_closed(SSL_get_fd(ssl)); }, options));
    auto deadline = Deadline::after(10s);
    auto fd = net::connect_tcp({"127.0.0.1", server.port()}, deadline);
    if (!fd) {
      out.error = fd.error();
      return out;
    }
    auto s = handshake(std::move(*fd), ctx, params, deadline);
    if (s) {
      out.ok = true;
      out.info = (*s)->info();
    } else {
      out.error = s.error();
    }
  }  // the stream closed first, then the server thread is joined
  return out;
}

Outcome attempt(const KeyCert& kc, const HandshakeParams& params, TlsServerOptions options = {}) {
  Context ctx = DaneTest::context();
  return attempt(kc, params, ctx, std::move(options));
}

void expect_verified(const Outcome& o, const dns::TlsaRecord& record, int depth) {
  ASSERT_TRUE(o.ok) << o.error.describe();
  EXPECT_TRUE(o.info.dane_verified);
  EXPECT_EQ(o.info.dane_record, text(record));
  EXPECT_EQ(o.info.dane_depth, depth);
  EXPECT_FALSE(o.info.pkix_valid);  // the context trusts none of these certificates
  EXPECT_TRUE(o.side.accepted);
}

void expect_dane_failure(const Outcome& o, const std::string& reason) {
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.error.stage, Stage::dane);
  EXPECT_TRUE(o.error.temporary());
  EXPECT_EQ(o.error.detail, "DANE verification of mx.example.test failed: " + reason);
}

// --- DANE-EE(3) ------------------------------------------------------------------------------

TEST_F(DaneTest, EeSpkiSha256Matches) {
  auto r = record_for(pki_->self_signed.cert.get(), 3, 1, 1);
  auto o = attempt(pki_->self_signed, dane({r}));
  expect_verified(o, r, 0);
  // The record's data is the SPKI digest the stream reports.
  EXPECT_EQ(o.info.spki_sha256, testing::to_hex(r.data));
  EXPECT_EQ(o.info.spki_sha256, testing::spki_sha256_of_key(pki_->self_signed.key.get()));
  EXPECT_EQ(o.info.pkix_error, "not evaluated: DANE authentication");
  EXPECT_EQ(o.side.sni, kHost);
}

TEST_F(DaneTest, EeCertSha256Matches) {
  auto r = record_for(pki_->self_signed.cert.get(), 3, 0, 1);
  expect_verified(attempt(pki_->self_signed, dane({r})), r, 0);
}

TEST_F(DaneTest, EeSpkiSha512Matches) {
  auto r = record_for(pki_->self_signed.cert.get(), 3, 1, 2);
  ASSERT_EQ(r.data.size(), 64u);
  expect_verified(attempt(pki_->self_signed, dane({r})), r, 0);
}

TEST_F(DaneTest, EeFullCertMatches) {
  auto r = record_for(pki_->self_signed.cert.get(), 3, 0, 0);
  expect_verified(attempt(pki_->self_signed, dane({r})), r, 0);
}

TEST_F(DaneTest, EeFullSpkiMatches) {
  auto r = record_for(pki_->self_signed.cert.get(), 3, 1, 0);
  expect_verified(attempt(pki_->self_signed, dane({r})), r, 0);
}

TEST_F(DaneTest, EeOfACaIssuedLeafMatchesAtDepthZero) {
  auto r = record_for(pki_->leaf.cert.get(), 3, 1, 1);
  expect_verified(attempt(pki_->leaf, dane({r}), with_ca()), r, 0);
}

TEST_F(DaneTest, EeIgnoresExpiryAndNames) {
  // RFC 7672 §3.1.1: with DANE-EE(3) neither the validity period nor the names matter.
  auto r = record_for(pki_->expired_wrong_name.cert.get(), 3, 1, 1);
  expect_verified(attempt(pki_->expired_wrong_name, dane({r})), r, 0);
}

TEST_F(DaneTest, EeMismatchedDigestFails) {
  auto r = record_for(pki_->self_signed.cert.get(), 3, 1, 1);
  r.data[0] = static_cast<char>(r.data[0] ^ 0x01);
  auto o = attempt(pki_->self_signed, dane({r}));
  expect_dane_failure(o, "no matching DANE TLSA records");
  EXPECT_FALSE(o.side.accepted);
}

TEST_F(DaneTest, EeRecordOfAnotherKeyFails) {
  auto r = record_for(pki_->leaf.cert.get(), 3, 1, 1);
  expect_dane_failure(attempt(pki_->self_signed, dane({r})), "no matching DANE TLSA records");
}

TEST_F(DaneTest, AnyMatchingRecordOfTheSetSuffices) {
  auto wrong = record_for(pki_->leaf.cert.get(), 3, 1, 1);
  auto right = record_for(pki_->self_signed.cert.get(), 3, 0, 2);
  expect_verified(attempt(pki_->self_signed, dane({wrong, right})), right, 0);
}

// --- DANE-TA(2) ------------------------------------------------------------------------------

TEST_F(DaneTest, TaCertSha256WithChainAndRightName) {
  auto r = record_for(pki_->ca.cert.get(), 2, 0, 1);
  expect_verified(attempt(pki_->leaf, dane({r}), with_ca()), r, 1);
}

TEST_F(DaneTest, TaSpkiSha256WithChainAndRightName) {
  auto r = record_for(pki_->ca.cert.get(), 2, 1, 1);
  expect_verified(attempt(pki_->leaf, dane({r}), with_ca()), r, 1);
}

TEST_F(DaneTest, TaWithWrongNameFails) {
  // RFC 7672 §3.2.2: a DANE-TA(2) chain must still be issued for one of the reference names.
  auto r = record_for(pki_->ca.cert.get(), 2, 0, 1);
  auto o = attempt(pki_->leaf, dane({r}, {"other.example.test"}, kHost), with_ca());
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.error.stage, Stage::dane);
  EXPECT_EQ(o.error.detail, "DANE verification of mx.example.test failed: hostname mismatch");
}

TEST_F(DaneTest, TaMatchesAnyReferenceName) {
  // The TLSA base domain is the expanded name; the certificate names the original MX host.
  auto r = record_for(pki_->ca.cert.get(), 2, 1, 1);
  auto o =
      attempt(pki_->leaf, dane({r}, {"real.example.org", kHost}, "real.example.org"), with_ca());
  expect_verified(o, r, 1);
  EXPECT_EQ(o.side.sni, "real.example.org");
}

TEST_F(DaneTest, TaWithExpiredLeafFails) {
  // Unlike DANE-EE, a DANE-TA chain is checked as PKIX would, dates included.
  auto r = record_for(pki_->ca.cert.get(), 2, 0, 1);
  expect_dane_failure(attempt(pki_->expired_leaf, dane({r}), with_ca()), "certificate has expired");
}

TEST_F(DaneTest, TaDigestNeedsTheServerToSendTheAnchor) {
  // A digest cannot stand in for a certificate the server did not send (RFC 7671 §5.2.2).
  auto r = record_for(pki_->ca.cert.get(), 2, 0, 1);
  expect_dane_failure(attempt(pki_->leaf, dane({r})), "no matching DANE TLSA records");
}

TEST_F(DaneTest, TaFullCertWorksWhenTheServerOmitsIt) {
  // 2 0 0 carries the whole anchor, so the chain can be built without the server sending it.
  auto r = record_for(pki_->ca.cert.get(), 2, 0, 0);
  auto o = attempt(pki_->leaf, dane({r}));
  expect_verified(o, r, 1);
}

TEST_F(DaneTest, TaOfAnotherCaFails) {
  auto r = record_for(pki_->untrusted_ca.cert.get(), 2, 0, 1);
  expect_dane_failure(attempt(pki_->leaf, dane({r}), with_ca()), "no matching DANE TLSA records");
}

// --- Records and parameters -------------------------------------------------------------------

TEST_F(DaneTest, UnusableRecordsAreSkipped) {
  auto good = record_for(pki_->self_signed.cert.get(), 3, 1, 1);
  auto short_digest = tlsa(3, 1, 1, good.data.substr(0, 20));
  auto pkix_ee = record_for(pki_->self_signed.cert.get(), 1, 1, 1);
  auto bad_mtype = tlsa(3, 1, 9, good.data);
  expect_verified(attempt(pki_->self_signed, dane({short_digest, pkix_ee, bad_mtype, good})), good,
                  0);
}

TEST_F(DaneTest, NothingUsableFailsClosed) {
  // OpenSSL would fall back to PKIX with no records; that must not count as DANE.
  auto good = record_for(pki_->self_signed.cert.get(), 3, 1, 1);
  auto pkix_ee = record_for(pki_->self_signed.cert.get(), 1, 1, 1);
  auto o = attempt(pki_->self_signed, dane({tlsa(3, 1, 1, good.data.substr(1)), pkix_ee,
                                            tlsa(3, 0, 0, "not a certificate")}));
  expect_dane_failure(o, "none of the TLSA records is usable");
  EXPECT_FALSE(o.side.accepted);
}

TEST_F(DaneTest, NoRecordsIsConfigError) {
  auto o = attempt(pki_->self_signed, dane({}));
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.error.stage, Stage::config);
  EXPECT_TRUE(o.error.permanent());
}

TEST_F(DaneTest, NoNameIsConfigError) {
  auto r = record_for(pki_->self_signed.cert.get(), 3, 1, 1);
  auto o = attempt(pki_->self_signed, dane({r}, {}, ""));
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.error.stage, Stage::config);
}

TEST_F(DaneTest, SniDefaultsToTheTlsaBaseDomain) {
  auto r = record_for(pki_->self_signed.cert.get(), 3, 1, 1);
  auto o = attempt(pki_->self_signed, dane({r}, {"base.example.test."}, ""));
  ASSERT_TRUE(o.ok) << o.error.describe();
  EXPECT_EQ(o.side.sni, "base.example.test");
}

TEST_F(DaneTest, TlsaIsIgnoredOutsideDane) {
  // A non-matching record does not turn an opportunistic handshake into a DANE one.
  auto wrong = record_for(pki_->leaf.cert.get(), 3, 1, 1);
  HandshakeParams p = dane({wrong});
  p.verify = Verify::none;
  auto o = attempt(pki_->self_signed, p);
  ASSERT_TRUE(o.ok) << o.error.describe();
  EXPECT_FALSE(o.info.dane_verified);
  EXPECT_EQ(o.info.dane_record, "");
  EXPECT_EQ(o.info.dane_depth, -1);
  EXPECT_EQ(o.info.pkix_error, "self-signed certificate");
}

TEST_F(DaneTest, PkixConnectionsOnTheSameContextAreUnaffected) {
  // One context serves DANE and PKIX connections alike.
  Context ctx = context();
  auto r = record_for(pki_->self_signed.cert.get(), 3, 1, 1);
  auto first = attempt(pki_->self_signed, dane({r}), ctx);
  ASSERT_TRUE(first.ok) << first.error.describe();
  HandshakeParams pkix{kHost, Verify::pkix, {}, {}};
  auto second = attempt(pki_->self_signed, pkix, ctx);
  ASSERT_FALSE(second.ok);
  EXPECT_EQ(second.error.stage, Stage::tls);
  EXPECT_EQ(second.error.detail,
            "certificate verification failed for mx.example.test: self-signed certificate");
}

TEST_F(DaneTest, WorksOverTls12) {
  auto r = record_for(pki_->leaf.cert.get(), 3, 1, 1);
  TlsServerOptions o;
  o.max_version = TLS1_2_VERSION;
  auto out = attempt(pki_->leaf, dane({r}), o);
  expect_verified(out, r, 0);
  EXPECT_EQ(out.info.version, "TLSv1.2");
}

}  // namespace
}  // namespace mx::tls
