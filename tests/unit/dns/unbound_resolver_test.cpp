// Tests for UnboundResolver: option errors (no network), and resolution through a fake
// forwarder thread on 127.0.54.2 (loopback only; validation still runs locally).
#include "dns/unbound_resolver.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

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

constexpr const char* kServerIp = "127.0.54.2";

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

// A syntactically valid DS for a zone nothing in these tests lives under: names outside it
// have no trust anchor and come back insecure.
const std::string kUnrelatedAnchor =
    "anchor.invalid. 3600 IN DS 12345 8 2 "
    "49AAC11D7B6F6446702E54A1607371607A1A41855200FD2CE1CDDE32F24E8FB5\n";
// The real root DS: under it, an unsigned fake answer must be bogus.
const std::string kRootAnchor =
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";

Result<std::unique_ptr<UnboundResolver>> make(const std::string& forwarder,
                                              const std::string& anchor_file,
                                              std::chrono::milliseconds timeout = 5000ms) {
  UnboundOptions o;
  o.forwarder = forwarder;
  o.trust_anchor_file = anchor_file;
  o.timeout = timeout;
  return UnboundResolver::create(o);
}

TEST(UnboundResolver, MissingTrustAnchorFileIsConfigError) {
  UnboundOptions o;
  o.trust_anchor_file = "/nonexistent/root.key";
  auto r = UnboundResolver::create(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::config);
  EXPECT_TRUE(r.error().permanent());
  EXPECT_THAT(r.error().detail, HasSubstr("/nonexistent/root.key"));
}

TEST(UnboundResolver, TrustAnchorFileWithoutAnchorsIsConfigError) {
  TempFile junk("; only a comment DS DNSKEY\nexample. IN A 192.0.2.1\n");
  UnboundOptions o;
  o.trust_anchor_file = junk.path();
  auto r = UnboundResolver::create(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::config);
  EXPECT_TRUE(r.error().permanent());
  EXPECT_THAT(r.error().detail, HasSubstr("no DS or DNSKEY"));
}

TEST(UnboundResolver, DirectoryAsTrustAnchorIsConfigError) {
  UnboundOptions o;
  o.trust_anchor_file = "/tmp";
  auto r = UnboundResolver::create(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::config);
}

TEST(UnboundResolver, BadForwarderIsConfigError) {
  TempFile anchor(kUnrelatedAnchor);
  for (const char* bad : {"resolver.example", "127.0.0.1@99999", "127.0.0.1:53", "", "1.2.3.4@"}) {
    auto r = make(bad, anchor.path());
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().stage, Stage::config);
    EXPECT_TRUE(r.error().permanent());
  }
}

TEST(UnboundResolver, MissingRootHintsIsConfigError) {
  TempFile anchor(kUnrelatedAnchor);
  UnboundOptions o;
  o.trust_anchor_file = anchor.path();
  o.root_hints_file = "/nonexistent/root.hints";
  auto r = UnboundResolver::create(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::config);
  EXPECT_TRUE(r.error().permanent());
}

TEST(UnboundResolver, CreatesWithDefaultsWithoutNetwork) {
  // The Debian root.key (dns-root-data); creating sends nothing.
  if (::access("/usr/share/dns/root.key", R_OK) != 0) GTEST_SKIP() << "no dns-root-data";
  auto r = UnboundResolver::create(UnboundOptions{});
  EXPECT_TRUE(r) << r.error().describe();
}

TEST(UnboundResolver, ResolvesThroughLoopbackForwarder) {
  FakeZone zone;
  zone.add_mx("example.org", 10, "mx.example.org");
  zone.add_mx("example.org", 20, "mx2.example.org");
  zone.add_a("mx.example.org", "192.0.2.25");
  zone.add_cname("www.example.org", "mx.example.org");
  zone.add_a("nodata.example.org", "192.0.2.26");
  FakeDnsServer server(kServerIp, [&zone](const SeenQuery& q) -> std::optional<std::string> {
    auto [rc, rrs] = zone.lookup(q.qname, q.qtype);
    return build_response(q, rc, false, false, rrs);
  });
  TempFile anchor(kUnrelatedAnchor);
  auto r = make(server.address(), anchor.path());
  ASSERT_TRUE(r) << r.error().describe();
  const std::vector<Question> qs = {{"Example.ORG.", rrtype::MX},
                                    {"www.example.org", rrtype::A},
                                    {"missing.example.org", rrtype::A},
                                    {"nodata.example.org", rrtype::AAAA}};
  auto res = (*r)->resolve(qs);
  ASSERT_EQ(res.size(), 4u);
  for (const auto& x : res) ASSERT_TRUE(x) << x.error().describe();
  EXPECT_EQ(res[0]->qname, "example.org");
  EXPECT_EQ(res[0]->qtype, rrtype::MX);
  EXPECT_EQ(res[0]->rcode, rcode::noerror);
  EXPECT_EQ(res[0]->security, Security::insecure);
  EXPECT_EQ(res[0]->canonical_name, "example.org");
  EXPECT_EQ(res[0]->rdata.size(), 2u);
  EXPECT_EQ(res[0]->ttl, 300u);
  EXPECT_EQ(res[1]->canonical_name, "mx.example.org");
  EXPECT_THAT(res[1]->rdata, ElementsAre("\xc0\x00\x02\x19"s));
  EXPECT_TRUE(res[2]->nxdomain());
  EXPECT_TRUE(res[3]->nodata());
  // Validation stayed local: unbound asked the forwarder with DO set.
  for (const auto& q : server.seen()) EXPECT_TRUE(q.do_bit) << q.qname;
}

TEST(UnboundResolver, UnsignedAnswerUnderTrustAnchorIsBogus) {
  FakeZone zone;
  zone.add_a("mx.example.org", "192.0.2.25");
  FakeDnsServer server(kServerIp, [&zone](const SeenQuery& q) -> std::optional<std::string> {
    auto [rc, rrs] = zone.lookup(q.qname, q.qtype);
    return build_response(q, rc, true, false, rrs);  // AD from upstream must not matter
  });
  TempFile anchor(kRootAnchor);
  auto r = make(server.address(), anchor.path());
  ASSERT_TRUE(r) << r.error().describe();
  const std::vector<Question> qs = {{"mx.example.org", rrtype::A}};
  auto res = (*r)->resolve(qs);
  ASSERT_TRUE(res[0]) << res[0].error().describe();
  EXPECT_EQ(res[0]->security, Security::bogus);
  EXPECT_FALSE(res[0]->why_bogus.empty());
}

TEST(UnboundResolver, TimeoutCancelsAndResolverStaysUsable) {
  std::atomic<bool> answer{false};
  FakeZone zone;
  zone.add_a("mx.example.org", "192.0.2.25");
  FakeDnsServer server(kServerIp,
                       [&zone, &answer](const SeenQuery& q) -> std::optional<std::string> {
                         if (!answer) return std::nullopt;
                         auto [rc, rrs] = zone.lookup(q.qname, q.qtype);
                         return build_response(q, rc, false, false, rrs);
                       });
  TempFile anchor(kUnrelatedAnchor);
  auto r = make(server.address(), anchor.path(), 400ms);
  ASSERT_TRUE(r) << r.error().describe();
  const std::vector<Question> qs = {{"slow.example.org", rrtype::A},
                                    {"slow.example.org", rrtype::AAAA}};
  const auto start = std::chrono::steady_clock::now();
  auto res = (*r)->resolve(qs);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 350ms);
  EXPECT_LT(took, 3000ms);
  for (const auto& x : res) {
    ASSERT_FALSE(x);
    EXPECT_EQ(x.error().stage, Stage::dns);
    EXPECT_TRUE(x.error().temporary());
    EXPECT_THAT(x.error().detail, HasSubstr("timed out"));
  }
  // A later batch on the same resolver works and is not confused by the cancelled queries.
  answer = true;
  const std::vector<Question> qs2 = {{"mx.example.org", rrtype::A}};
  std::vector<Result<Answer>> res2;
  for (int attempt = 0; attempt < 10; ++attempt) {
    res2 = (*r)->resolve(qs2);
    if (res2[0]) break;
  }
  ASSERT_TRUE(res2[0]) << res2[0].error().describe();
  EXPECT_EQ(res2[0]->qname, "mx.example.org");
  EXPECT_EQ(res2[0]->rdata.size(), 1u);
}

TEST(UnboundResolver, RecursesFromRootHintsOnLoopback) {
  // A fake root on 127.0.54.3:53 (root hints cannot name a port) that answers everything
  // authoritatively; needs the privilege to bind port 53.
  FakeZone zone;
  zone.add(".", 2, *encode_name("ns.fake-root"));  // NS
  zone.add_a("ns.fake-root", "127.0.54.3");
  zone.add_mx("example.org", 10, "mx.example.org");
  zone.add_a("mx.example.org", "192.0.2.25");
  std::unique_ptr<FakeDnsServer> server;
  try {
    server = std::make_unique<FakeDnsServer>(
        "127.0.54.3",
        [&zone](const SeenQuery& q) -> std::optional<std::string> {
          auto [rc, rrs] = zone.lookup(q.qname, q.qtype);
          return build_response(q, rc, false, false, rrs, /*aa=*/true);
        },
        53);
  } catch (const std::exception& e) {
    GTEST_SKIP() << e.what();
  }
  TempFile hints(". 3600000 IN NS ns.fake-root.\nns.fake-root. 3600000 IN A 127.0.54.3\n");
  TempFile anchor(kUnrelatedAnchor);
  UnboundOptions o;
  o.trust_anchor_file = anchor.path();
  o.root_hints_file = hints.path();
  o.timeout = 5000ms;
  auto r = UnboundResolver::create(o);
  ASSERT_TRUE(r) << r.error().describe();
  const std::vector<Question> qs = {{"example.org", rrtype::MX}, {"mx.example.org", rrtype::A}};
  auto res = (*r)->resolve(qs);
  ASSERT_TRUE(res[0]) << res[0].error().describe();
  ASSERT_TRUE(res[1]) << res[1].error().describe();
  EXPECT_EQ(res[0]->rdata.size(), 1u);
  EXPECT_THAT(res[1]->rdata, ElementsAre("\xc0\x00\x02\x19"s));
  EXPECT_EQ(res[1]->security, Security::insecure);
  EXPECT_FALSE(server->seen().empty());
}

TEST(UnboundResolver, InvalidNameFailsAlone) {
  TempFile anchor(kUnrelatedAnchor);
  FakeZone zone;
  zone.add_a("ok.example.org", "192.0.2.1");
  FakeDnsServer server(kServerIp, [&zone](const SeenQuery& q) -> std::optional<std::string> {
    auto [rc, rrs] = zone.lookup(q.qname, q.qtype);
    return build_response(q, rc, false, false, rrs);
  });
  auto r = make(server.address(), anchor.path());
  ASSERT_TRUE(r);
  const std::vector<Question> qs = {{"bad..example", rrtype::A}, {"ok.example.org", rrtype::A}};
  auto res = (*r)->resolve(qs);
  ASSERT_FALSE(res[0]);
  EXPECT_TRUE(res[0].error().temporary());
  ASSERT_TRUE(res[1]) << res[1].error().describe();
  EXPECT_EQ(res[1]->rdata.size(), 1u);
}

}  // namespace
}  // namespace mx::dns
