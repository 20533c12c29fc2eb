// The per-host TLS decision: security levels, DANE (RFC 7672 §2.2), MTA-STS (RFC 8461 §4),
// TLS-Required: No and REQUIRETLS (RFC 8689).
#include "delivery/tls_policy.hpp"

#include <gtest/gtest.h>

#include "mtasts/policy.hpp"

namespace mx::delivery {
namespace {

dns::TlsaRecord record(std::uint8_t usage, std::uint8_t selector, std::uint8_t mtype) {
  return dns::TlsaRecord{usage, selector, mtype, std::string(mtype == 2 ? 64 : 32, '\x01')};
}

dns::MxHost host(std::string name = "mx.example.net") {
  dns::MxHost h;
  h.name = name;
  h.expanded_name = name;
  h.addresses = {{"192.0.2.1", 2}};
  return h;
}

dns::MxHost dane_host() {
  dns::MxHost h = host();
  h.addresses_secure = true;
  h.tlsa_state = dns::TlsaState::found;
  h.tlsa = {record(3, 1, 1)};
  h.tlsa_base = h.name;
  return h;
}

DomainFacts facts(Level level = Level::dane) {
  DomainFacts d;
  d.level = level;
  d.mx_secure = true;
  d.next_hop = "example.net";
  return d;
}

mtasts::Policy sts(mtasts::Mode mode, std::vector<std::string> mx) {
  mtasts::Policy p;
  p.mode = mode;
  p.mx = std::move(mx);
  p.max_age = 86400;
  return p;
}

TEST(TlsPolicy, ParsesLevels) {
  EXPECT_EQ(*parse_level("dane-only"), Level::dane_only);
  EXPECT_EQ(*parse_level("may"), Level::may);
  EXPECT_FALSE(parse_level("secure"));
  EXPECT_EQ(parse_level("x").error().stage, Stage::usage);
  EXPECT_STREQ(level_name(Level::verify), "verify");
}

TEST(TlsPolicy, FixedLevels) {
  HostPolicy none = decide_host_policy(facts(Level::none), dane_host());
  EXPECT_EQ(none.tls, smtp::TlsMode::none);
  HostPolicy may = decide_host_policy(facts(Level::may), dane_host());
  EXPECT_EQ(may.tls, smtp::TlsMode::opportunistic);
  EXPECT_TRUE(may.plaintext_fallback);
  EXPECT_EQ(may.handshake.verify, tls::Verify::none);
  HostPolicy encrypt = decide_host_policy(facts(Level::encrypt), host());
  EXPECT_EQ(encrypt.tls, smtp::TlsMode::required);
  EXPECT_FALSE(encrypt.plaintext_fallback);
  HostPolicy verify = decide_host_policy(facts(Level::verify), host());
  EXPECT_EQ(verify.handshake.verify, tls::Verify::pkix);
  EXPECT_EQ(verify.handshake.reference_names, std::vector<std::string>{"mx.example.net"});
  EXPECT_EQ(verify.auth, Authentication::pkix);
}

TEST(TlsPolicy, DaneAuthenticatesWithTheUsableRecords) {
  dns::MxHost h = dane_host();
  h.tlsa.push_back(record(1, 1, 1));  // PKIX-EE: unusable for SMTP (RFC 7672 §3.1.3)
  h.tlsa_base = "mx-real.example.net";
  HostPolicy p = decide_host_policy(facts(), h);
  EXPECT_FALSE(p.skip);
  EXPECT_EQ(p.tls, smtp::TlsMode::required);
  EXPECT_EQ(p.handshake.verify, tls::Verify::dane);
  ASSERT_EQ(p.handshake.tlsa.size(), 1u);
  EXPECT_EQ(p.handshake.tlsa[0].usage, 3);
  EXPECT_EQ(p.handshake.sni, "mx-real.example.net");
  EXPECT_EQ(p.handshake.reference_names,
            (std::vector<std::string>{"mx-real.example.net", "mx.example.net"}));
  EXPECT_EQ(p.auth, Authentication::dane);
  EXPECT_TRUE(p.dane);
  EXPECT_FALSE(p.plaintext_fallback);
  EXPECT_FALSE(p.dane_trusted_only);
}

TEST(TlsPolicy, DaneViaAnInsecureMxIsTrustedNotVerified) {
  DomainFacts d = facts();
  d.mx_secure = false;
  HostPolicy p = decide_host_policy(d, dane_host());
  EXPECT_EQ(p.handshake.verify, tls::Verify::dane);
  EXPECT_TRUE(p.dane_trusted_only);
}

TEST(TlsPolicy, ImplicitMxAddsTheNextHopAsReferenceName) {
  DomainFacts d = facts();
  d.implicit_mx = true;
  HostPolicy p = decide_host_policy(d, dane_host());
  EXPECT_EQ(p.handshake.reference_names.back(), "example.net");
}

TEST(TlsPolicy, FailedTlsaLookupSkipsTheHostNeverDowngrades) {
  dns::MxHost h = dane_host();
  h.tlsa_state = dns::TlsaState::failed;
  h.tlsa.clear();
  h.tlsa_error = temporary_error(Stage::dns, "SERVFAIL");
  HostPolicy p = decide_host_policy(facts(), h);
  ASSERT_TRUE(p.skip);
  EXPECT_TRUE(p.skip->temporary());
  EXPECT_EQ(p.skip->stage, Stage::dane);
  EXPECT_TRUE(p.dane);  // a TLSA policy that could not be read (TLSRPT: policy type tlsa)
}

TEST(TlsPolicy, OnlyUnusableRecordsMeanEncryptUnauthenticated) {
  dns::MxHost h = dane_host();
  h.tlsa = {record(0, 0, 1), record(1, 1, 1)};
  HostPolicy p = decide_host_policy(facts(), h);
  EXPECT_FALSE(p.skip);
  EXPECT_EQ(p.tls, smtp::TlsMode::required);
  EXPECT_EQ(p.handshake.verify, tls::Verify::none);
  EXPECT_FALSE(p.plaintext_fallback);
  EXPECT_EQ(p.auth, Authentication::none);
  EXPECT_TRUE(p.dane);  // still the host's TLSA policy (RFC 7672 §2.2)
  EXPECT_TRUE(decide_host_policy(facts(Level::dane_only), h).skip);
}

TEST(TlsPolicy, NoDaneNoStsIsOpportunistic) {
  HostPolicy p = decide_host_policy(facts(), host());
  EXPECT_EQ(p.tls, smtp::TlsMode::opportunistic);
  EXPECT_TRUE(p.plaintext_fallback);
  EXPECT_FALSE(p.dane);
  EXPECT_TRUE(decide_host_policy(facts(Level::dane_only), host()).skip);
}

TEST(TlsPolicy, MtaStsUnavailableHereDefersOnlyHostsWithoutDane) {
  const Error local = temporary_error(Stage::internal, "cannot load libcurl.so.4");
  DomainFacts d = facts();
  d.sts_unavailable = &local;
  HostPolicy p = decide_host_policy(d, host());
  ASSERT_TRUE(p.skip);
  EXPECT_TRUE(p.skip->temporary());
  EXPECT_EQ(p.skip->detail, "cannot check MTA-STS: cannot load libcurl.so.4");
  EXPECT_FALSE(decide_host_policy(d, dane_host()).skip);  // DANE does not need MTA-STS
}

TEST(TlsPolicy, MtaStsEnforce) {
  mtasts::Policy policy = sts(mtasts::Mode::enforce, {"*.example.net"});
  DomainFacts d = facts();
  d.sts = &policy;
  HostPolicy match = decide_host_policy(d, host("mx.example.net"));
  EXPECT_FALSE(match.skip);
  EXPECT_EQ(match.handshake.verify, tls::Verify::pkix);
  EXPECT_FALSE(match.plaintext_fallback);
  HostPolicy other = decide_host_policy(d, host("mx.elsewhere.example"));
  ASSERT_TRUE(other.skip);
  EXPECT_TRUE(other.skip->temporary());
  // DANE takes precedence for a host with usable TLSA (RFC 8461 §2).
  EXPECT_EQ(decide_host_policy(d, dane_host()).handshake.verify, tls::Verify::dane);
}

TEST(TlsPolicy, MtaStsTestingOnlyReports) {
  mtasts::Policy policy = sts(mtasts::Mode::testing, {"mx.example.net"});
  DomainFacts d = facts();
  d.sts = &policy;
  HostPolicy p = decide_host_policy(d, host("other.example.net"));
  EXPECT_FALSE(p.skip);
  EXPECT_EQ(p.tls, smtp::TlsMode::opportunistic);
  EXPECT_TRUE(p.sts_testing);
  EXPECT_TRUE(p.sts_mx_mismatch);
}

TEST(TlsPolicy, TlsRequiredNoRelaxesToOpportunistic) {
  DomainFacts d = facts();
  d.tls_required_no = true;
  dns::MxHost h = dane_host();
  HostPolicy p = decide_host_policy(d, h);
  EXPECT_EQ(p.tls, smtp::TlsMode::opportunistic);
  EXPECT_EQ(p.handshake.verify, tls::Verify::none);
  h.tlsa_state = dns::TlsaState::failed;
  EXPECT_FALSE(decide_host_policy(d, h).skip);
}

TEST(TlsPolicy, RequireTlsNeedsAuthenticationBackedByDnssecOrMtaSts) {
  DomainFacts d = facts();
  d.require_tls = true;
  EXPECT_FALSE(decide_host_policy(d, dane_host()).skip);
  HostPolicy opportunistic = decide_host_policy(d, host());
  ASSERT_TRUE(opportunistic.skip);
  EXPECT_TRUE(opportunistic.skip->permanent());
  EXPECT_EQ(opportunistic.skip->enhanced, "5.7.30");
  d.mx_secure = false;
  EXPECT_TRUE(decide_host_policy(d, dane_host()).skip);  // DANE via an insecure MX
  mtasts::Policy policy = sts(mtasts::Mode::enforce, {"mx.example.net"});
  d.sts = &policy;
  EXPECT_FALSE(decide_host_policy(d, host()).skip);  // MTA-STS enforce names the host
}

}  // namespace
}  // namespace mx::delivery
