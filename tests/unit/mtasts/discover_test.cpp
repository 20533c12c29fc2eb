// Tests for MTA-STS discovery (RFC 8461 §3.3, §5.1) with a fake resolver, fetcher and clock.
#include "mtasts/mtasts.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "unit/dns/fake_resolver.hpp"

namespace mx::mtasts {
namespace {

using dns::testing::FakeResolver;
using Source = PolicyLookup::Source;

constexpr const char* kEnforce =
    "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n";
constexpr const char* kTesting =
    "version: STSv1\nmode: testing\nmx: *.example.com\nmax_age: 3600\n";

class FakeFetcher : public Fetcher {
 public:
  Result<std::string> fetch(std::string_view domain,
                            std::span<const std::string> addresses) override {
    calls.push_back({std::string(domain), {addresses.begin(), addresses.end()}});
    return next;
  }
  struct Call {
    std::string domain;
    std::vector<std::string> addresses;
  };
  std::vector<Call> calls;
  Result<std::string> next = std::string(kEnforce);
};

std::string txt(const std::string& s) {
  return std::string(1, static_cast<char>(s.size())) + s;
}

class Discover : public ::testing::Test {
 protected:
  Discover() {
    std::string tmpl = "/tmp/mtasts-discover-XXXXXX";
    dir_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
    cache_.emplace(dir_);
    resolver_.add_a("mta-sts.example.com", "192.0.2.10");
    resolver_.add_aaaa("mta-sts.example.com", "2001:db8::10");
  }
  ~Discover() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  void set_record(const std::string& id) {
    resolver_.set_rcode("_mta-sts.example.com", dns::rrtype::TXT, dns::rcode::noerror);
    resolver_.add("_mta-sts.example.com", dns::rrtype::TXT, txt("v=spf1 -all"));
    resolver_.add("_mta-sts.example.com", dns::rrtype::TXT, txt("v=STSv1; id=" + id + ";"));
  }
  void seed_cache(const std::string& id, const std::string& text, long long expires_in) {
    CacheEntry e{id, now_ - std::chrono::seconds(100), now_ + std::chrono::seconds(expires_in),
                 text};
    ASSERT_TRUE(cache_->store("example.com", e));
  }
  PolicyLookup run(const Cache* cache) {
    auto r = discover("Example.COM", resolver_, fetcher_, cache, now_);
    EXPECT_TRUE(r) << r.error().detail;
    return r ? std::move(*r) : PolicyLookup{};
  }
  PolicyLookup run() { return run(&*cache_); }

  std::string dir_;
  std::optional<Cache> cache_;
  FakeResolver resolver_;
  FakeFetcher fetcher_;
  WallTime now_{std::chrono::seconds(1'700'000'000)};
};

Error tls_failure() {
  return temporary_error(Stage::tls, "MTA-STS policy fetch from x failed: certificate");
}
Error http_failure() {
  return temporary_error(Stage::connect, "MTA-STS policy fetch from x failed: HTTP 404");
}

TEST_F(Discover, NoRecordNoCacheIsNoPolicy) {
  auto out = run();
  EXPECT_FALSE(out.policy);
  EXPECT_EQ(out.source, Source::none);
  EXPECT_TRUE(fetcher_.calls.empty());
  EXPECT_FALSE(out.fetch_error);
  EXPECT_NE(out.note.find("no TXT record at _mta-sts.example.com"), std::string::npos);
}

TEST_F(Discover, RecordWithoutCacheFetchesAndCaches) {
  set_record("abc");
  auto out = run();
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.source, Source::fresh);
  EXPECT_EQ(out.policy->mode, Mode::enforce);
  EXPECT_EQ(out.id, "abc");
  EXPECT_EQ(out.expires_at, now_ + std::chrono::seconds(86400));
  ASSERT_EQ(fetcher_.calls.size(), 1u);
  EXPECT_EQ(fetcher_.calls[0].domain, "example.com");
  EXPECT_EQ(fetcher_.calls[0].addresses, (std::vector<std::string>{"192.0.2.10", "2001:db8::10"}));
  auto stored = cache_->load("example.com");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->id, "abc");
  EXPECT_EQ(stored->fetched_at, now_);
  EXPECT_EQ(stored->expires_at, now_ + std::chrono::seconds(86400));
  EXPECT_EQ(stored->policy_text, kEnforce);
  EXPECT_NE(out.note.find("fetched enforce policy"), std::string::npos) << out.note;
}

TEST_F(Discover, SameIdUnexpiredCacheIsUsedWithoutFetch) {
  set_record("abc");
  seed_cache("abc", kTesting, 1000);
  auto out = run();
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.source, Source::cached);
  EXPECT_EQ(out.policy->mode, Mode::testing);
  EXPECT_TRUE(fetcher_.calls.empty());
  EXPECT_EQ(resolver_.batches().size(), 1u);  // only the TXT lookup
  EXPECT_NE(out.note.find("unchanged"), std::string::npos) << out.note;
}

TEST_F(Discover, ChangedIdFetchesAndReplacesCache) {
  set_record("new");
  seed_cache("old", kTesting, 1000);
  auto out = run();
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.source, Source::fresh);
  EXPECT_EQ(out.policy->mode, Mode::enforce);
  EXPECT_EQ(fetcher_.calls.size(), 1u);
  EXPECT_EQ(cache_->load("example.com")->id, "new");
  EXPECT_NE(out.note.find("changed from old to new"), std::string::npos) << out.note;
}

TEST_F(Discover, SameIdButExpiredFetches) {
  set_record("abc");
  seed_cache("abc", kTesting, 0);  // expires exactly now
  auto out = run();
  EXPECT_EQ(out.source, Source::fresh);
  EXPECT_EQ(fetcher_.calls.size(), 1u);
}

TEST_F(Discover, FetchFailureKeepsUnexpiredCache) {
  set_record("new");
  seed_cache("old", kTesting, 1000);
  fetcher_.next = fail(http_failure());
  auto out = run();
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.source, Source::cached);
  EXPECT_EQ(out.policy->mode, Mode::testing);
  ASSERT_TRUE(out.fetch_error);
  EXPECT_EQ(out.failure, PolicyFailure::fetch_error);
  EXPECT_STREQ(tlsrpt_result_type(out.failure), "sts-policy-fetch-error");
  EXPECT_NE(out.note.find("HTTP 404"), std::string::npos) << out.note;
  EXPECT_NE(out.note.find("using cached testing policy"), std::string::npos) << out.note;
  EXPECT_EQ(cache_->load("example.com")->id, "old");  // not replaced
}

TEST_F(Discover, FetchFailureWithoutCacheIsNoPolicyWithError) {
  set_record("abc");
  fetcher_.next = fail(http_failure());
  auto out = run();
  EXPECT_FALSE(out.policy);
  EXPECT_EQ(out.source, Source::none);
  ASSERT_TRUE(out.fetch_error);
  EXPECT_EQ(out.fetch_error->stage, Stage::connect);
  EXPECT_EQ(out.failure, PolicyFailure::fetch_error);
  EXPECT_FALSE(cache_->load("example.com"));
}

TEST_F(Discover, FetchFailureWithExpiredCacheIsNoPolicy) {
  set_record("new");
  seed_cache("old", kTesting, -1);
  fetcher_.next = fail(http_failure());
  auto out = run();
  EXPECT_FALSE(out.policy);
  EXPECT_NE(out.note.find("expired"), std::string::npos) << out.note;
}

TEST_F(Discover, CertificateFailureIsWebpkiInvalid) {
  set_record("abc");
  fetcher_.next = fail(tls_failure());
  auto out = run();
  EXPECT_FALSE(out.policy);
  EXPECT_EQ(out.failure, PolicyFailure::webpki_invalid);
  EXPECT_STREQ(tlsrpt_result_type(out.failure), "sts-webpki-invalid");
}

TEST_F(Discover, InvalidPolicyIsPolicyInvalidAndKeepsCache) {
  set_record("new");
  seed_cache("old", kTesting, 1000);
  fetcher_.next = std::string("<html>oops</html>");
  auto out = run();
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.source, Source::cached);
  EXPECT_EQ(out.failure, PolicyFailure::policy_invalid);
  EXPECT_STREQ(tlsrpt_result_type(out.failure), "sts-policy-invalid");
  ASSERT_TRUE(out.fetch_error);
  EXPECT_EQ(cache_->load("example.com")->id, "old");
}

TEST_F(Discover, InvalidPolicyWithoutCacheIsNoPolicy) {
  set_record("abc");
  fetcher_.next = std::string("version: STSv1\nmode: enforce\nmax_age: 5\n");  // no mx
  auto out = run();
  EXPECT_FALSE(out.policy);
  EXPECT_EQ(out.failure, PolicyFailure::policy_invalid);
  EXPECT_FALSE(cache_->load("example.com"));
}

TEST_F(Discover, TxtServfailUsesCache) {
  resolver_.set_rcode("_mta-sts.example.com", dns::rrtype::TXT, dns::rcode::servfail);
  seed_cache("abc", kEnforce, 1000);
  auto out = run();
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.source, Source::cached);
  EXPECT_TRUE(fetcher_.calls.empty());
  EXPECT_NE(out.note.find("SERVFAIL"), std::string::npos) << out.note;
}

TEST_F(Discover, TxtServfailWithoutCacheIsNoPolicy) {
  resolver_.set_rcode("_mta-sts.example.com", dns::rrtype::TXT, dns::rcode::servfail);
  auto out = run();
  EXPECT_FALSE(out.policy);
  EXPECT_TRUE(fetcher_.calls.empty());
  EXPECT_FALSE(out.fetch_error);
}

TEST_F(Discover, TxtTimeoutUsesCache) {
  resolver_.set_error("_mta-sts.example.com", dns::rrtype::TXT,
                      temporary_error(Stage::dns, "resolver timed out"));
  seed_cache("abc", kEnforce, 1000);
  auto out = run();
  EXPECT_EQ(out.source, Source::cached);
  EXPECT_NE(out.note.find("resolver timed out"), std::string::npos) << out.note;
}

TEST_F(Discover, TxtBogusUsesCacheAndNeverFetches) {
  resolver_.set_bogus("_mta-sts.example.com", dns::rrtype::TXT, "signature expired");
  seed_cache("abc", kEnforce, 1000);
  auto out = run();
  EXPECT_EQ(out.source, Source::cached);
  EXPECT_TRUE(fetcher_.calls.empty());
}

TEST_F(Discover, RecordRemovedKeepsUnexpiredCache) {
  seed_cache("abc", kEnforce, 1000);  // NXDOMAIN for the TXT name
  auto out = run();
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.source, Source::cached);
  EXPECT_EQ(out.policy->mode, Mode::enforce);
  EXPECT_TRUE(fetcher_.calls.empty());
}

TEST_F(Discover, RecordNodataKeepsUnexpiredCache) {
  resolver_.set_rcode("_mta-sts.example.com", dns::rrtype::TXT, dns::rcode::noerror);
  seed_cache("abc", kEnforce, 1000);
  EXPECT_EQ(run().source, Source::cached);
}

TEST_F(Discover, RecordRemovedAndCacheExpiredIsNoPolicy) {
  seed_cache("abc", kEnforce, -5);
  auto out = run();
  EXPECT_FALSE(out.policy);
  EXPECT_TRUE(fetcher_.calls.empty());
}

TEST_F(Discover, TwoRecordsMeansNoRecord) {
  set_record("abc");
  resolver_.add("_mta-sts.example.com", dns::rrtype::TXT, txt("v=STSv1; id=def"));
  auto out = run();
  EXPECT_FALSE(out.policy);
  EXPECT_TRUE(fetcher_.calls.empty());
  seed_cache("abc", kEnforce, 1000);
  EXPECT_EQ(run().source, Source::cached);  // a broken record does not remove the policy
  EXPECT_TRUE(fetcher_.calls.empty());
}

TEST_F(Discover, ModeNoneIsReturnedAndCached) {
  set_record("off");
  seed_cache("on", kEnforce, 1000);
  fetcher_.next = std::string("version: STSv1\nmode: none\nmax_age: 600\n");
  auto out = run();
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.policy->mode, Mode::none);
  EXPECT_EQ(out.source, Source::fresh);
  auto stored = cache_->load("example.com");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->id, "off");
  EXPECT_EQ(stored->expires_at, now_ + std::chrono::seconds(600));
}

TEST_F(Discover, MaxAgeZeroIsUsedOnceThenRefetched) {
  set_record("abc");
  fetcher_.next = std::string("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 0\n");
  EXPECT_EQ(run().source, Source::fresh);
  EXPECT_EQ(run().source, Source::fresh);
  EXPECT_EQ(fetcher_.calls.size(), 2u);
}

TEST_F(Discover, PolicyHostWithoutAddressIsAFetchError) {
  resolver_ = FakeResolver();
  set_record("abc");
  auto out = run();
  EXPECT_FALSE(out.policy);
  EXPECT_TRUE(fetcher_.calls.empty());
  ASSERT_TRUE(out.fetch_error);
  EXPECT_EQ(out.fetch_error->stage, Stage::dns);
  EXPECT_EQ(out.failure, PolicyFailure::fetch_error);
  EXPECT_NE(out.note.find("mta-sts.example.com has no address"), std::string::npos) << out.note;
}

TEST_F(Discover, BogusPolicyHostAddressesAreNotUsed) {
  resolver_ = FakeResolver();
  set_record("abc");
  resolver_.set_bogus("mta-sts.example.com", dns::rrtype::A, "bad sig");
  resolver_.add_aaaa("mta-sts.example.com", "2001:db8::1");
  run();
  ASSERT_EQ(fetcher_.calls.size(), 1u);
  EXPECT_EQ(fetcher_.calls[0].addresses, std::vector<std::string>{"2001:db8::1"});
}

TEST_F(Discover, CachedPolicyThatNoLongerParsesIsIgnored) {
  set_record("abc");
  seed_cache("abc", "not a policy", 1000);
  auto out = run();
  EXPECT_EQ(out.source, Source::fresh);
  EXPECT_EQ(fetcher_.calls.size(), 1u);
  EXPECT_NE(out.note.find("no longer parses"), std::string::npos) << out.note;
}

TEST_F(Discover, CorruptCacheFileIsIgnoredWithNote) {
  ASSERT_TRUE(cache_->store("example.com", CacheEntry{"x", now_, now_, kEnforce}));
  std::system(("echo garbage > '" + dir_ + "/example.com'").c_str());
  auto out = run();
  EXPECT_FALSE(out.policy);
  EXPECT_NE(out.note.find("corrupt"), std::string::npos) << out.note;
}

TEST_F(Discover, WorksWithoutCache) {
  set_record("abc");
  auto out = run(nullptr);
  EXPECT_EQ(out.source, Source::fresh);
  EXPECT_FALSE(cache_->load("example.com"));
}

TEST_F(Discover, CacheWriteFailureStillReturnsPolicy) {
  set_record("abc");
  Cache broken("/proc/mxclient-no-such-dir");
  auto out = run(&broken);
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.source, Source::fresh);
  EXPECT_NE(out.note.find("MTA-STS cache"), std::string::npos) << out.note;
}

TEST_F(Discover, InvalidDomainFails) {
  for (const char* d : {"", "..", "a/b.example", "exa mple.com"}) {
    auto r = discover(d, resolver_, fetcher_, &*cache_, now_);
    EXPECT_FALSE(r) << d;
  }
  EXPECT_TRUE(resolver_.batches().empty());
}

TEST(FormatTime, Utc) {
  EXPECT_EQ(format_time(WallTime(std::chrono::seconds(0))), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_time(WallTime(std::chrono::seconds(1700000000))), "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace mx::mtasts
