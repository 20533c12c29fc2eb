// Tests for TrustAdResolver: loopback-only policy and queries against a fake DNS server
// thread on 127.0.54.1 (never the real resolv.conf).
#include "dns/trust_ad_resolver.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>

#include "fake_dns_server.hpp"

namespace mx::dns {
namespace {

using namespace std::string_literals;
using namespace std::chrono_literals;
using testing::build_response;
using ::testing::ElementsAre;
using testing::FakeDnsServer;
using testing::FakeZone;
using ::testing::HasSubstr;
using testing::SeenQuery;

constexpr const char* kServerIp = "127.0.54.1";

std::unique_ptr<TrustAdResolver> make(const std::string& address,
                                      std::chrono::milliseconds timeout = 3000ms,
                                      std::chrono::milliseconds retransmit = 200ms) {
  TrustAdOptions o;
  o.nameserver = address;
  o.timeout = timeout;
  o.retransmit = retransmit;
  auto r = TrustAdResolver::create(o);
  EXPECT_TRUE(r) << r.error().describe();
  return r ? std::move(*r) : nullptr;
}

/// Serves `zone`, setting AD on every answer when `ad`.
FakeDnsServer::Handler zone_handler(const FakeZone& zone, bool ad) {
  return [&zone, ad](const SeenQuery& q) -> std::optional<std::string> {
    auto [rc, rrs] = zone.lookup(q.qname, q.qtype);
    return build_response(q, rc, ad, false, rrs);
  };
}

TEST(TrustAdResolver, RefusesNonLoopbackNameserver) {
  for (const char* addr : {"192.0.2.53", "10.0.0.1@53", "2001:db8::53", "::ffff:127.0.0.1"}) {
    TrustAdOptions o;
    o.nameserver = addr;
    auto r = TrustAdResolver::create(o);
    ASSERT_FALSE(r) << addr;
    EXPECT_EQ(r.error().stage, Stage::config);
    EXPECT_TRUE(r.error().permanent());
    EXPECT_EQ(r.error().detail,
              "the resolver "s + addr + " is not on loopback; refusing to trust its AD bit");
  }
}

TEST(TrustAdResolver, AcceptsLoopbackNameservers) {
  for (const char* addr : {"127.0.0.1", "127.0.0.53@53", "::1", "::1@5353"}) {
    TrustAdOptions o;
    o.nameserver = addr;
    EXPECT_TRUE(TrustAdResolver::create(o)) << addr;
  }
}

TEST(TrustAdResolver, BadNameserverStringIsConfigError) {
  TrustAdOptions o;
  o.nameserver = "not-an-ip";
  auto r = TrustAdResolver::create(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::config);
  EXPECT_TRUE(r.error().permanent());
}

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/mx-dns-test-XXXXXX";
    const int fd = ::mkstemp(name);
    EXPECT_GE(fd, 0);
    ::close(fd);
    path_ = name;
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(TrustAdResolver, ReadsFirstNameserverOfResolvConf) {
  TempFile conf("# test\nsearch example\nnameserver 127.0.54.9\nnameserver 192.0.2.1\n");
  TrustAdOptions o;
  o.resolv_conf = conf.path();
  auto r = TrustAdResolver::create(o);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ((*r)->server().ip, "127.0.54.9");
  EXPECT_EQ((*r)->server().port, 53);
}

TEST(TrustAdResolver, RefusesResolvConfPointingOffLoopback) {
  TempFile conf("nameserver 192.0.2.1\nnameserver 127.0.0.1\n");
  TrustAdOptions o;
  o.resolv_conf = conf.path();
  auto r = TrustAdResolver::create(o);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().detail, HasSubstr("192.0.2.1 is not on loopback"));
}

TEST(TrustAdResolver, ResolvConfProblemsAreConfigErrors) {
  TempFile empty("search example\n");
  TrustAdOptions o;
  o.resolv_conf = empty.path();
  auto r = TrustAdResolver::create(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::config);
  o.resolv_conf = "/nonexistent/resolv.conf";
  auto r2 = TrustAdResolver::create(o);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().stage, Stage::config);
  EXPECT_TRUE(r2.error().permanent());
}

TEST(TrustAdResolver, ResolvesBatchAndTrustsAd) {
  FakeZone zone;
  zone.add_mx("example.org", 10, "mx.example.org");
  zone.add_a("mx.example.org", "192.0.2.25");
  zone.add_cname("www.example.org", "mx.example.org");
  FakeDnsServer server(kServerIp, zone_handler(zone, true));
  auto r = make(server.address());
  ASSERT_TRUE(r);
  const std::vector<Question> qs = {{"Example.ORG.", rrtype::MX},
                                    {"www.example.org", rrtype::A},
                                    {"missing.example.org", rrtype::A},
                                    {"mx.example.org", rrtype::AAAA}};
  auto res = r->resolve(qs);
  ASSERT_EQ(res.size(), 4u);
  for (const auto& x : res) ASSERT_TRUE(x) << x.error().describe();
  EXPECT_EQ(res[0]->qname, "example.org");
  EXPECT_EQ(res[0]->security, Security::secure);
  EXPECT_THAT(res[0]->rdata, ElementsAre("\x00\x0a\x02mx\x07"
                                         "example\x03org\x00"s));
  EXPECT_EQ(res[1]->canonical_name, "mx.example.org");
  EXPECT_THAT(res[1]->rdata, ElementsAre("\xc0\x00\x02\x19"s));
  EXPECT_TRUE(res[2]->nxdomain());
  EXPECT_TRUE(res[3]->nodata());
  // Every query asked for DNSSEC (DO) and for the AD bit.
  for (const auto& q : server.seen()) {
    EXPECT_TRUE(q.do_bit);
    EXPECT_TRUE(q.flags & 0x0020);
    EXPECT_TRUE(q.flags & 0x0100);
  }
}

TEST(TrustAdResolver, NoAdMeansInsecure) {
  FakeZone zone;
  zone.add_a("mx.example.org", "192.0.2.25");
  FakeDnsServer server(kServerIp, zone_handler(zone, false));
  auto r = make(server.address());
  ASSERT_TRUE(r);
  const std::vector<Question> qs = {{"mx.example.org", rrtype::A}};
  auto res = r->resolve(qs);
  ASSERT_TRUE(res[0]);
  EXPECT_EQ(res[0]->security, Security::insecure);
}

TEST(TrustAdResolver, ServfailIsAnAnswer) {
  FakeDnsServer server(kServerIp, [](const SeenQuery& q) -> std::optional<std::string> {
    return build_response(q, rcode::servfail, false, false, {});
  });
  auto r = make(server.address());
  ASSERT_TRUE(r);
  const std::vector<Question> qs = {{"bogus.example", rrtype::A}};
  auto res = r->resolve(qs);
  ASSERT_TRUE(res[0]);
  EXPECT_EQ(res[0]->rcode, rcode::servfail);
}

TEST(TrustAdResolver, TruncatedUdpAnswerIsRetriedOverTcp) {
  FakeZone zone;
  zone.add_a("big.example.org", "192.0.2.1");
  zone.add_a("big.example.org", "192.0.2.2");
  FakeDnsServer server(kServerIp, [&zone](const SeenQuery& q) -> std::optional<std::string> {
    auto [rc, rrs] = zone.lookup(q.qname, q.qtype);
    return build_response(q, rc, true, !q.tcp, rrs);  // TC over UDP, full answer over TCP
  });
  auto r = make(server.address());
  ASSERT_TRUE(r);
  const std::vector<Question> qs = {{"big.example.org", rrtype::A}};
  auto res = r->resolve(qs);
  ASSERT_TRUE(res[0]) << res[0].error().describe();
  EXPECT_EQ(res[0]->rdata.size(), 2u);
  EXPECT_EQ(res[0]->security, Security::secure);
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FALSE(seen[0].tcp);
  EXPECT_TRUE(seen[1].tcp);
}

TEST(TrustAdResolver, IgnoresMismatchedAnswers) {
  // Each (re)transmission gets a different wrong reply: another ID, another question with the
  // right ID, or garbage. None is an answer, so the query must time out.
  std::atomic<int> n{0};
  FakeDnsServer server(kServerIp, [&n](const SeenQuery& q) -> std::optional<std::string> {
    const testing::FakeRr rr{q.qname, rrtype::A, "\x01\x01\x01\x01"s};
    SeenQuery other = q;
    switch (n++ % 3) {
      case 0:
        other.id = static_cast<std::uint16_t>(q.id + 1);
        return build_response(other, 0, true, false, {rr});
      case 1:
        other.question = *encode_name("y.example") + "\x00\x01\x00\x01"s;
        return build_response(other, 0, true, false, {rr});
      default:
        return "\x00\x01garbage"s;
    }
  });
  auto r = make(server.address(), 600ms, 100ms);
  ASSERT_TRUE(r);
  const std::vector<Question> qs = {{"x.example", rrtype::A}};
  auto res = r->resolve(qs);
  ASSERT_FALSE(res[0]);
  EXPECT_TRUE(res[0].error().temporary());
  EXPECT_THAT(res[0].error().detail, HasSubstr("timed out"));
}

TEST(TrustAdResolver, TimesOutAndRetransmits) {
  FakeDnsServer server(kServerIp,
                       [](const SeenQuery&) -> std::optional<std::string> { return std::nullopt; });
  auto r = make(server.address(), 500ms, 100ms);
  ASSERT_TRUE(r);
  const std::vector<Question> qs = {{"slow.example", rrtype::A}, {"slow.example", rrtype::AAAA}};
  const auto start = std::chrono::steady_clock::now();
  auto res = r->resolve(qs);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 2000ms);
  for (const auto& x : res) {
    ASSERT_FALSE(x);
    EXPECT_EQ(x.error().stage, Stage::dns);
    EXPECT_TRUE(x.error().temporary());
  }
  EXPECT_EQ(res[1].error().detail, "DNS lookup of slow.example AAAA timed out");
  EXPECT_GE(server.seen().size(), 4u);  // both sent, then retransmitted at least once
}

TEST(TrustAdResolver, InvalidQuestionNameFailsAlone) {
  FakeZone zone;
  zone.add_a("ok.example", "192.0.2.1");
  FakeDnsServer server(kServerIp, zone_handler(zone, false));
  auto r = make(server.address());
  ASSERT_TRUE(r);
  const std::vector<Question> qs = {{"bad..example", rrtype::A}, {"ok.example", rrtype::A}};
  auto res = r->resolve(qs);
  ASSERT_FALSE(res[0]);
  EXPECT_TRUE(res[0].error().temporary());
  ASSERT_TRUE(res[1]);
  EXPECT_EQ(res[1]->rdata.size(), 1u);
}

}  // namespace
}  // namespace mx::dns
