// Tests for gather_destinations: MX ordering, null/implicit MX, errors, DNSSEC flags and the
// TLSA lookups of each host (RFC 7672 §2.2).
#include "dns/destinations.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "fake_resolver.hpp"

namespace mx::dns {
namespace {

using ::testing::ElementsAre;
using testing::FakeResolver;
using ::testing::HasSubstr;

constexpr auto kSecure = Security::secure;

std::vector<std::string> names(const Destinations& d) {
  std::vector<std::string> out;
  for (const auto& h : d.hosts) out.push_back(h.name);
  return out;
}

std::vector<std::string> ips(const MxHost& h) {
  std::vector<std::string> out;
  for (const auto& a : h.addresses) out.push_back(a.ip);
  return out;
}

/// Always picks index 0: with Fisher-Yates from the back this rotates each group left.
std::uint32_t zero() {
  return 0;
}

TEST(Destinations, SortsByPreference) {
  FakeResolver r;
  r.add_mx("example.net", 30, "c.example.net");
  r.add_mx("example.net", 10, "a.example.net");
  r.add_mx("example.net", 20, "b.example.net");
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d) << d.error().describe();
  EXPECT_THAT(names(*d), ElementsAre("a.example.net", "b.example.net", "c.example.net"));
  EXPECT_EQ(d->hosts[0].preference, 10);
  EXPECT_EQ(d->hosts[2].preference, 30);
  EXPECT_FALSE(d->implicit_mx);
}

TEST(Destinations, ShufflesEqualPreferencesWithRandom) {
  FakeResolver r;
  r.add_mx("example.net", 10, "a.example.net");
  r.add_mx("example.net", 10, "b.example.net");
  r.add_mx("example.net", 10, "c.example.net");
  r.add_mx("example.net", 5, "first.example.net");
  r.add_mx("example.net", 20, "last.example.net");
  // Group [a, b, c]: k=2 swaps 2<->0 -> [c, b, a]; k=1 swaps 1<->0 -> [b, c, a].
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_THAT(names(*d), ElementsAre("first.example.net", "b.example.net", "c.example.net",
                                     "a.example.net", "last.example.net"));
  // For a group of two the only draw is j = random() % 2; 1 keeps the published order.
  std::uint32_t calls = 0;
  auto keep = [&calls]() -> std::uint32_t {
    ++calls;
    return 1;
  };
  FakeResolver r2;
  r2.add_mx("example.net", 10, "a.example.net");
  r2.add_mx("example.net", 10, "b.example.net");
  auto d2 = gather_destinations(r2, "example.net", keep);
  ASSERT_TRUE(d2);
  EXPECT_THAT(names(*d2), ElementsAre("a.example.net", "b.example.net"));
  EXPECT_EQ(calls, 1u);  // one draw for a group of two, none for groups of one
}

TEST(Destinations, DefaultRandomStillKeepsPreferenceOrder) {
  FakeResolver r;
  for (int i = 0; i < 5; ++i) r.add_mx("example.net", 10, "p10-" + std::to_string(i) + ".net");
  r.add_mx("example.net", 1, "p1.net");
  auto d = gather_destinations(r, "example.net");
  ASSERT_TRUE(d);
  ASSERT_EQ(d->hosts.size(), 6u);
  EXPECT_EQ(d->hosts[0].name, "p1.net");
  for (std::size_t i = 1; i < 6; ++i) EXPECT_EQ(d->hosts[i].preference, 10);
}

TEST(Destinations, RemovesDuplicateHostsKeepingTheBestPreference) {
  FakeResolver r;
  r.add_mx("example.net", 20, "MX.example.net.");
  r.add_mx("example.net", 10, "mx.example.net");
  r.add_mx("example.net", 30, "other.example.net");
  r.add_mx("example.net", 40, "mx.EXAMPLE.net");
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_THAT(names(*d), ElementsAre("mx.example.net", "other.example.net"));
  EXPECT_EQ(d->hosts[0].preference, 10);
}

TEST(Destinations, NormalizesTheDomain) {
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net");
  auto d = gather_destinations(r, "Example.NET.", zero);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->domain, "example.net");
  EXPECT_EQ(d->expanded_domain, "example.net");
  EXPECT_EQ(r.batches()[0][0].name, "example.net");
  EXPECT_EQ(r.batches()[0][0].type, rrtype::MX);
}

TEST(Destinations, RejectsInvalidDomain) {
  FakeResolver r;
  for (const char* bad : {"", ".", "a..b", "exa mple.net"}) {
    auto d = gather_destinations(r, bad, zero);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().stage, Stage::input);
    EXPECT_TRUE(d.error().permanent());
  }
  EXPECT_TRUE(r.batches().empty());
}

TEST(Destinations, CnameAtDomainSetsExpandedDomain) {
  FakeResolver r;
  Answer mx;
  mx.canonical_name = "Target.Example.ORG.";
  mx.security = kSecure;
  mx.rdata.push_back(FakeResolver::mx_rdata(10, "mx.example.org"));
  r.set("alias.example.net", rrtype::MX, mx);
  auto d = gather_destinations(r, "alias.example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->domain, "alias.example.net");
  EXPECT_EQ(d->expanded_domain, "target.example.org");
  EXPECT_TRUE(d->domain_secure);
}

TEST(Destinations, ImplicitMxWhenNoMxRecords) {
  FakeResolver r;
  r.set_rcode("example.net", rrtype::MX, rcode::noerror);
  r.add_a("example.net", "192.0.2.7");
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d) << d.error().describe();
  EXPECT_TRUE(d->implicit_mx);
  ASSERT_EQ(d->hosts.size(), 1u);
  EXPECT_EQ(d->hosts[0].name, "example.net");
  EXPECT_EQ(d->hosts[0].expanded_name, "example.net");
  EXPECT_EQ(d->hosts[0].preference, 0);
  EXPECT_THAT(ips(d->hosts[0]), ElementsAre("192.0.2.7"));
  EXPECT_FALSE(d->hosts[0].lookup_error);
}

TEST(Destinations, ImplicitMxWithoutAddressesIsPermanent) {
  FakeResolver r;
  r.set_rcode("example.net", rrtype::MX, rcode::noerror);
  r.set_rcode("example.net", rrtype::A, rcode::noerror);
  // AAAA unknown to the fake: NXDOMAIN.
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_FALSE(d);
  EXPECT_TRUE(d.error().permanent());
  EXPECT_EQ(d.error().reason, Reason::no_such_domain);
  EXPECT_EQ(d.error().stage, Stage::dns);
  EXPECT_EQ(d.error().detail, "no MX and no address for example.net");
}

TEST(Destinations, ImplicitMxWithTemporaryAddressFailureKeepsTheHost) {
  FakeResolver r;
  r.set_rcode("example.net", rrtype::MX, rcode::noerror, kSecure);
  r.set_rcode("example.net", rrtype::A, rcode::servfail);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->hosts[0].lookup_error);
  EXPECT_TRUE(d->hosts[0].lookup_error->temporary());
  EXPECT_FALSE(d->domain_secure);
}

TEST(Destinations, NullMx) {
  FakeResolver r;
  r.add_mx("example.net", 0, ".", kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_FALSE(d);
  EXPECT_TRUE(d.error().permanent());
  EXPECT_EQ(d.error().reason, Reason::no_such_domain);
  EXPECT_EQ(d.error().smtp_code, 556);
  EXPECT_EQ(d.error().enhanced, "5.1.10");
  EXPECT_EQ(d.error().detail, "example.net does not accept mail (null MX, RFC 7505)");
  EXPECT_EQ(r.batches().size(), 1u);  // no address lookups
}

TEST(Destinations, NullMxMixedWithOthersIsStillNullMx) {
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net");
  r.add_mx("example.net", 20, ".");
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().smtp_code, 556);
  EXPECT_EQ(d.error().reason, Reason::no_such_domain);
}

TEST(Destinations, NxdomainIsPermanent) {
  FakeResolver r;
  auto d = gather_destinations(r, "nowhere.example", zero);
  ASSERT_FALSE(d);
  EXPECT_TRUE(d.error().permanent());
  EXPECT_EQ(d.error().reason, Reason::no_such_domain);
  EXPECT_EQ(d.error().detail, "domain nowhere.example does not exist");
}

TEST(Destinations, ServfailIsTemporary) {
  FakeResolver r;
  r.set_rcode("example.net", rrtype::MX, rcode::servfail);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_FALSE(d);
  EXPECT_TRUE(d.error().temporary());
  EXPECT_EQ(d.error().stage, Stage::dns);
  EXPECT_THAT(d.error().detail, HasSubstr("SERVFAIL"));
}

TEST(Destinations, MxTimeoutIsTemporary) {
  FakeResolver r;
  r.set_error("example.net", rrtype::MX, temporary_error(Stage::dns, "timed out"));
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_FALSE(d);
  EXPECT_TRUE(d.error().temporary());
  EXPECT_EQ(d.error().detail, "timed out");
}

TEST(Destinations, BogusMxIsTemporary) {
  FakeResolver r;
  r.set_bogus("example.net", rrtype::MX, "signature expired");
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_FALSE(d);
  EXPECT_TRUE(d.error().temporary());
  EXPECT_EQ(d.error().stage, Stage::dns);
  EXPECT_EQ(d.error().detail, "DNSSEC validation failed for example.net MX: signature expired");
}

TEST(Destinations, BogusNxdomainIsBogusNotNoSuchDomain) {
  FakeResolver r;
  Answer a;
  a.rcode = rcode::nxdomain;
  a.security = Security::bogus;
  r.set("example.net", rrtype::MX, a);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_FALSE(d);
  EXPECT_TRUE(d.error().temporary());
  EXPECT_THAT(d.error().detail, HasSubstr("DNSSEC validation failed"));
}

TEST(Destinations, BogusHostAddressMakesTheHostUnusable) {
  FakeResolver r;
  r.add_mx("example.net", 10, "bad.example.net");
  r.add_mx("example.net", 20, "good.example.net");
  r.add_aaaa("bad.example.net", "2001:db8::1", kSecure);
  r.set_bogus("bad.example.net", rrtype::A, "no signatures");
  r.add_a("good.example.net", "192.0.2.2");
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  const MxHost& bad = d->hosts[0];
  EXPECT_TRUE(bad.addresses.empty());
  EXPECT_FALSE(bad.addresses_secure);
  ASSERT_TRUE(bad.lookup_error);
  EXPECT_TRUE(bad.lookup_error->temporary());
  EXPECT_EQ(bad.lookup_error->host, "bad.example.net");
  EXPECT_THAT(bad.lookup_error->detail,
              HasSubstr("DNSSEC validation failed for bad.example.net A"));
  EXPECT_THAT(ips(d->hosts[1]), ElementsAre("192.0.2.2"));
  EXPECT_FALSE(d->hosts[1].lookup_error);
}

TEST(Destinations, HostServfailOrTimeoutIsTemporaryLookupError) {
  FakeResolver r;
  r.add_mx("example.net", 10, "sf.example.net");
  r.add_mx("example.net", 20, "to.example.net");
  r.set_rcode("sf.example.net", rrtype::AAAA, rcode::servfail);
  r.add_a("sf.example.net", "192.0.2.1");
  r.add_aaaa("to.example.net", "2001:db8::2");
  r.set_error("to.example.net", rrtype::A, temporary_error(Stage::dns, "timed out"));
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  for (const auto& h : d->hosts) {
    ASSERT_TRUE(h.lookup_error) << h.name;
    EXPECT_TRUE(h.lookup_error->temporary());
    EXPECT_TRUE(h.addresses.empty());
  }
  EXPECT_THAT(d->hosts[0].lookup_error->detail, HasSubstr("SERVFAIL"));
  EXPECT_EQ(d->hosts[1].lookup_error->detail, "timed out");
  EXPECT_EQ(d->hosts[1].lookup_error->host, "to.example.net");
}

TEST(Destinations, HostWithOnlyAaaa) {
  FakeResolver r;
  r.add_mx("example.net", 10, "v6.example.net");
  r.add_aaaa("v6.example.net", "2001:db8::6");
  r.set_rcode("v6.example.net", rrtype::A, rcode::noerror);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  const MxHost& h = d->hosts[0];
  EXPECT_FALSE(h.lookup_error);
  ASSERT_EQ(h.addresses.size(), 1u);
  EXPECT_EQ(h.addresses[0].ip, "2001:db8::6");
  EXPECT_EQ(h.addresses[0].family, AF_INET6);
}

TEST(Destinations, HostWithoutAddressesIsKeptWithAnError) {
  FakeResolver r;
  r.add_mx("example.net", 10, "gone.example.net");
  r.add_mx("example.net", 20, "mx.example.net");
  r.set_rcode("gone.example.net", rrtype::A, rcode::noerror);
  r.add_a("mx.example.net", "192.0.2.3");
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->hosts.size(), 2u);
  const MxHost& gone = d->hosts[0];
  EXPECT_TRUE(gone.addresses.empty());
  ASSERT_TRUE(gone.lookup_error);
  EXPECT_TRUE(gone.lookup_error->permanent());
  EXPECT_EQ(gone.lookup_error->detail, "no address records for gone.example.net");
}

TEST(Destinations, InterleavesFamiliesV6First) {
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net");
  r.add_a("mx.example.net", "192.0.2.1");
  r.add_a("mx.example.net", "192.0.2.2");
  r.add_a("mx.example.net", "192.0.2.3");
  r.add_aaaa("mx.example.net", "2001:db8::1");
  r.add_aaaa("mx.example.net", "2001:db8::2");
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  const MxHost& h = d->hosts[0];
  EXPECT_THAT(ips(h),
              ElementsAre("2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2", "192.0.2.3"));
  EXPECT_EQ(h.addresses[0].family, AF_INET6);
  EXPECT_EQ(h.addresses[1].family, AF_INET);
}

TEST(Destinations, SkipsMalformedAddressRecords) {
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net");
  r.add("mx.example.net", rrtype::A, "\x01\x02");
  r.add_a("mx.example.net", "192.0.2.9");
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_THAT(ips(d->hosts[0]), ElementsAre("192.0.2.9"));
}

TEST(Destinations, SecureFlags) {
  FakeResolver r;
  r.add_mx("example.net", 10, "secure.example.net", kSecure);
  r.add_mx("example.net", 20, "mixed.example.net", kSecure);
  r.add_mx("example.net", 30, "denied.example.net", kSecure);
  r.add_a("secure.example.net", "192.0.2.1", kSecure);
  r.set_rcode("secure.example.net", rrtype::AAAA, rcode::noerror, kSecure);  // secure NODATA
  r.add_a("mixed.example.net", "192.0.2.2", kSecure);
  r.set_rcode("mixed.example.net", rrtype::AAAA, rcode::noerror);  // insecure NODATA
  r.add_aaaa("denied.example.net", "2001:db8::3", kSecure);
  r.set_rcode("denied.example.net", rrtype::A, rcode::nxdomain, kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->domain_secure);
  EXPECT_TRUE(d->hosts[0].addresses_secure);
  EXPECT_FALSE(d->hosts[1].addresses_secure);
  EXPECT_TRUE(d->hosts[2].addresses_secure);
}

TEST(Destinations, InsecureMxIsNotDomainSecure) {
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net");
  r.add_a("mx.example.net", "192.0.2.1", kSecure);
  r.set_rcode("mx.example.net", rrtype::AAAA, rcode::noerror, kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->domain_secure);
  EXPECT_TRUE(d->hosts[0].addresses_secure);
}

TEST(Destinations, ImplicitMxDomainSecureNeedsSecureAddresses) {
  FakeResolver r;
  r.set_rcode("example.net", rrtype::MX, rcode::noerror, kSecure);
  r.add_a("example.net", "192.0.2.1", kSecure);
  r.set_rcode("example.net", rrtype::AAAA, rcode::noerror, kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->domain_secure);

  FakeResolver r2;
  r2.set_rcode("example.net", rrtype::MX, rcode::noerror, kSecure);
  r2.add_a("example.net", "192.0.2.1");  // insecure
  auto d2 = gather_destinations(r2, "example.net", zero);
  ASSERT_TRUE(d2);
  EXPECT_FALSE(d2->domain_secure);
}

TEST(Destinations, HostCnameSetsExpandedName) {
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net");
  Answer a;
  a.canonical_name = "Real.Example.ORG.";
  a.rdata.push_back(FakeResolver::ip_rdata(AF_INET, "192.0.2.1"));
  r.set("mx.example.net", rrtype::A, a);
  Answer aaaa;
  aaaa.canonical_name = "real.example.org";
  r.set("mx.example.net", rrtype::AAAA, aaaa);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->hosts[0].name, "mx.example.net");
  EXPECT_EQ(d->hosts[0].expanded_name, "real.example.org");
}

TEST(Destinations, AllAddressAndTlsaLookupsGoOutInOneBatch) {
  FakeResolver r;
  r.add_mx("example.net", 10, "a.example.net");
  r.add_mx("example.net", 20, "b.example.net");
  r.add_mx("example.net", 30, "c.example.net");
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  ASSERT_EQ(r.batches().size(), 2u);
  const auto& batch = r.batches()[1];
  ASSERT_EQ(batch.size(), 9u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(batch[3 * i].name, d->hosts[i].name);
    EXPECT_EQ(batch[3 * i].type, rrtype::AAAA);
    EXPECT_EQ(batch[3 * i + 1].name, d->hosts[i].name);
    EXPECT_EQ(batch[3 * i + 1].type, rrtype::A);
    EXPECT_EQ(batch[3 * i + 2].name, "_25._tcp." + d->hosts[i].name);
    EXPECT_EQ(batch[3 * i + 2].type, rrtype::TLSA);
  }
}

TEST(Destinations, ConsidersAtMostTenHosts) {
  FakeResolver r;
  for (int i = 0; i < 12; ++i) {
    r.add_mx("example.net", static_cast<std::uint16_t>(i), "mx" + std::to_string(i) + ".net");
  }
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->hosts.size(), 10u);
  EXPECT_EQ(d->hosts_dropped, 2u);
  EXPECT_EQ(d->hosts.back().name, "mx9.net");
  EXPECT_EQ(r.batches()[1].size(), 30u);
}

TEST(Destinations, SkipsMalformedMxRecords) {
  FakeResolver r;
  r.add("example.net", rrtype::MX, std::string("\x00\x05\x03m x\x00", 7));
  r.add_mx("example.net", 10, "mx.example.net");
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_THAT(names(*d), ElementsAre("mx.example.net"));
  EXPECT_EQ(d->mx_malformed, 1u);
}

TEST(Destinations, OnlyMalformedMxRecordsIsTemporary) {
  FakeResolver r;
  r.add("example.net", rrtype::MX, std::string("\x00\x05\x03m x\x00", 7));
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_FALSE(d);
  EXPECT_TRUE(d.error().temporary());
  EXPECT_EQ(r.batches().size(), 1u);  // not treated as an implicit MX
}

// --- TLSA (RFC 7672 §2.2.2, §2.2.3; RFC 7671 §7) ----------------------------------------------

constexpr auto kInsecure = Security::insecure;
const std::string kDigest(32, '\x5a');

/// An MX host with secure addresses (one A, AAAA secure NODATA).
void secure_host(FakeResolver& r, const std::string& name, const std::string& ip = "192.0.2.1") {
  r.add_a(name, ip, kSecure);
  r.set_rcode(name, rrtype::AAAA, rcode::noerror, kSecure);
}

/// An MX host that is a CNAME to `target`, both address answers carrying the chain.
void cname_host(FakeResolver& r, const std::string& name, const std::string& target,
                Security security) {
  Answer a;
  a.canonical_name = target;
  a.security = security;
  a.rdata.push_back(FakeResolver::ip_rdata(AF_INET, "192.0.2.9"));
  r.set(name, rrtype::A, a);
  Answer aaaa;
  aaaa.canonical_name = target;
  aaaa.security = security;
  r.set(name, rrtype::AAAA, aaaa);
}

/// One secure MX host, the usual starting point.
FakeResolver one_secure_mx() {
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net", kSecure);
  secure_host(r, "mx.example.net");
  return r;
}

TEST(DestinationsTlsa, SecureHostWithSecureTlsaIsFound) {
  FakeResolver r = one_secure_mx();
  r.add_tlsa("_25._tcp.mx.example.net", 3, 1, 1, kDigest, kSecure);
  r.add_tlsa("_25._tcp.mx.example.net", 2, 0, 2, std::string(64, 'b'), kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d) << d.error().describe();
  const MxHost& h = d->hosts[0];
  EXPECT_EQ(h.tlsa_state, TlsaState::found);
  EXPECT_EQ(h.tlsa_base, "mx.example.net");
  ASSERT_EQ(h.tlsa.size(), 2u);
  EXPECT_EQ(h.tlsa[0].usage, 3);
  EXPECT_EQ(h.tlsa[0].selector, 1);
  EXPECT_EQ(h.tlsa[0].mtype, 1);
  EXPECT_EQ(h.tlsa[0].data, kDigest);
  EXPECT_EQ(h.tlsa[1].usage, 2);
  EXPECT_FALSE(h.tlsa_error);
  EXPECT_EQ(h.tlsa_malformed, 0u);
  EXPECT_TRUE(h.expanded_secure);
  EXPECT_EQ(r.batches().size(), 2u);  // no CNAME: no second TLSA batch
}

TEST(DestinationsTlsa, PortIsAParameter) {
  FakeResolver r = one_secure_mx();
  r.add_tlsa("_587._tcp.mx.example.net", 3, 1, 1, kDigest, kSecure);
  auto d = gather_destinations(r, "example.net", zero, 587);
  ASSERT_TRUE(d);
  EXPECT_EQ(r.batches()[1][2].name, "_587._tcp.mx.example.net");
  EXPECT_EQ(d->hosts[0].tlsa_state, TlsaState::found);
}

TEST(DestinationsTlsa, InsecureHostIgnoresEvenSecureTlsa) {
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net", kSecure);
  r.add_a("mx.example.net", "192.0.2.1", kSecure);
  r.set_rcode("mx.example.net", rrtype::AAAA, rcode::noerror, kInsecure);  // one insecure answer
  r.add_tlsa("_25._tcp.mx.example.net", 3, 1, 1, kDigest, kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  const MxHost& h = d->hosts[0];
  EXPECT_FALSE(h.addresses_secure);
  EXPECT_FALSE(h.expanded_secure);
  EXPECT_EQ(h.tlsa_state, TlsaState::not_looked_up);
  EXPECT_TRUE(h.tlsa.empty());
  EXPECT_EQ(h.tlsa_base, "");
  EXPECT_FALSE(h.tlsa_error);
}

TEST(DestinationsTlsa, HostWithoutUsableAddressesIsNotLookedUp) {
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net", kSecure);
  r.add_aaaa("mx.example.net", "2001:db8::1", kSecure);
  r.set_bogus("mx.example.net", rrtype::A, "no signatures");
  r.set_bogus("_25._tcp.mx.example.net", rrtype::TLSA, "no signatures");
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->hosts[0].lookup_error);
  EXPECT_EQ(d->hosts[0].tlsa_state, TlsaState::not_looked_up);
  EXPECT_FALSE(d->hosts[0].tlsa_error);
}

TEST(DestinationsTlsa, SecureDenialIsNone) {
  for (int rc : {rcode::noerror, rcode::nxdomain}) {
    FakeResolver r = one_secure_mx();
    r.set_rcode("_25._tcp.mx.example.net", rrtype::TLSA, rc, kSecure);
    auto d = gather_destinations(r, "example.net", zero);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->hosts[0].tlsa_state, TlsaState::none) << rcode_name(rc);
    EXPECT_EQ(d->hosts[0].tlsa_base, "mx.example.net");
    EXPECT_TRUE(d->hosts[0].tlsa.empty());
  }
}

TEST(DestinationsTlsa, InsecureTlsaAnswerIsInsecure) {
  {
    FakeResolver r = one_secure_mx();
    r.add_tlsa("_25._tcp.mx.example.net", 3, 1, 1, kDigest, kInsecure);
    auto d = gather_destinations(r, "example.net", zero);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->hosts[0].tlsa_state, TlsaState::insecure);
    EXPECT_TRUE(d->hosts[0].tlsa.empty());
  }
  {
    FakeResolver r = one_secure_mx();  // the fake's default: insecure NXDOMAIN
    auto d = gather_destinations(r, "example.net", zero);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->hosts[0].tlsa_state, TlsaState::insecure);
  }
}

TEST(DestinationsTlsa, BogusTlsaFailsTheHost) {
  FakeResolver r = one_secure_mx();
  r.set_bogus("_25._tcp.mx.example.net", rrtype::TLSA, "signature expired");
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  const MxHost& h = d->hosts[0];
  EXPECT_EQ(h.tlsa_state, TlsaState::failed);
  ASSERT_TRUE(h.tlsa_error);
  EXPECT_EQ(h.tlsa_error->stage, Stage::dns);
  EXPECT_TRUE(h.tlsa_error->temporary());
  EXPECT_EQ(h.tlsa_error->host, "mx.example.net");
  EXPECT_EQ(h.tlsa_error->detail,
            "DNSSEC validation failed for _25._tcp.mx.example.net TLSA: signature expired");
  EXPECT_FALSE(h.lookup_error);  // the addresses themselves are fine
  EXPECT_EQ(h.addresses.size(), 1u);
}

TEST(DestinationsTlsa, ServfailOrTimeoutFailsTheHost) {
  {
    FakeResolver r = one_secure_mx();
    r.set_rcode("_25._tcp.mx.example.net", rrtype::TLSA, rcode::servfail);
    auto d = gather_destinations(r, "example.net", zero);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->hosts[0].tlsa_state, TlsaState::failed);
    ASSERT_TRUE(d->hosts[0].tlsa_error);
    EXPECT_EQ(d->hosts[0].tlsa_error->detail,
              "DNS lookup of _25._tcp.mx.example.net TLSA failed: SERVFAIL");
  }
  {
    FakeResolver r = one_secure_mx();
    r.set_error("_25._tcp.mx.example.net", rrtype::TLSA, temporary_error(Stage::dns, "timed out"));
    auto d = gather_destinations(r, "example.net", zero);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->hosts[0].tlsa_state, TlsaState::failed);
    ASSERT_TRUE(d->hosts[0].tlsa_error);
    EXPECT_EQ(d->hosts[0].tlsa_error->detail, "timed out");
    EXPECT_EQ(d->hosts[0].tlsa_error->host, "mx.example.net");
  }
}

TEST(DestinationsTlsa, MalformedRecordsAreSkippedButTheRRsetIsFound) {
  FakeResolver r = one_secure_mx();
  r.add("_25._tcp.mx.example.net", rrtype::TLSA, std::string("\x03\x01", 2), kSecure);
  r.add_tlsa("_25._tcp.mx.example.net", 3, 1, 1, kDigest, kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->hosts[0].tlsa_state, TlsaState::found);
  ASSERT_EQ(d->hosts[0].tlsa.size(), 1u);
  EXPECT_EQ(d->hosts[0].tlsa_malformed, 1u);

  FakeResolver only_bad = one_secure_mx();
  only_bad.add("_25._tcp.mx.example.net", rrtype::TLSA, std::string("\x03\x01\x01", 3), kSecure);
  auto d2 = gather_destinations(only_bad, "example.net", zero);
  ASSERT_TRUE(d2);
  EXPECT_EQ(d2->hosts[0].tlsa_state, TlsaState::found);  // secure and non-empty: not "none"
  EXPECT_TRUE(d2->hosts[0].tlsa.empty());
  EXPECT_EQ(d2->hosts[0].tlsa_malformed, 1u);
}

TEST(DestinationsTlsa, CnameAtTheTlsaOwnerIsFollowedAndItsSecurityDecides) {
  for (auto security : {kSecure, kInsecure}) {
    FakeResolver r = one_secure_mx();
    Answer a;
    a.canonical_name = "_25._tcp.tlsa.provider.example";
    a.security = security;
    a.rdata.push_back(FakeResolver::tlsa_rdata(3, 1, 1, kDigest));
    r.set("_25._tcp.mx.example.net", rrtype::TLSA, a);
    auto d = gather_destinations(r, "example.net", zero);
    ASSERT_TRUE(d);
    const MxHost& h = d->hosts[0];
    if (security == kSecure) {
      EXPECT_EQ(h.tlsa_state, TlsaState::found);
      EXPECT_EQ(h.tlsa_base, "mx.example.net");  // the base domain stays the MX host
      EXPECT_EQ(h.tlsa.size(), 1u);
    } else {
      EXPECT_EQ(h.tlsa_state, TlsaState::insecure);
    }
  }
}

TEST(DestinationsTlsa, SecureCnameUsesTheExpandedNameInASecondBatch) {
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net", kSecure);
  cname_host(r, "mx.example.net", "real.example.org", kSecure);
  r.add_tlsa("_25._tcp.real.example.org", 3, 1, 1, kDigest, kSecure);
  r.add_tlsa("_25._tcp.mx.example.net", 2, 1, 1, std::string(32, 'o'), kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  const MxHost& h = d->hosts[0];
  EXPECT_EQ(h.expanded_name, "real.example.org");
  EXPECT_TRUE(h.expanded_secure);
  EXPECT_EQ(h.tlsa_state, TlsaState::found);
  EXPECT_EQ(h.tlsa_base, "real.example.org");
  ASSERT_EQ(h.tlsa.size(), 1u);
  EXPECT_EQ(h.tlsa[0].data, kDigest);
  ASSERT_EQ(r.batches().size(), 3u);
  ASSERT_EQ(r.batches()[2].size(), 1u);
  EXPECT_EQ(r.batches()[2][0].name, "_25._tcp.real.example.org");
  EXPECT_EQ(r.batches()[2][0].type, rrtype::TLSA);
}

TEST(DestinationsTlsa, ExpandedNameWithoutSecureTlsaFallsBackToTheOriginal) {
  // Secure denial or an insecure answer at the expanded name: the original name decides.
  for (bool denial : {true, false}) {
    FakeResolver r;
    r.add_mx("example.net", 10, "mx.example.net", kSecure);
    cname_host(r, "mx.example.net", "real.example.org", kSecure);
    if (denial) {
      r.set_rcode("_25._tcp.real.example.org", rrtype::TLSA, rcode::nxdomain, kSecure);
    } else {
      r.add_tlsa("_25._tcp.real.example.org", 3, 1, 1, kDigest, kInsecure);
    }
    r.add_tlsa("_25._tcp.mx.example.net", 2, 1, 1, std::string(32, 'o'), kSecure);
    auto d = gather_destinations(r, "example.net", zero);
    ASSERT_TRUE(d);
    const MxHost& h = d->hosts[0];
    EXPECT_EQ(h.tlsa_state, TlsaState::found) << denial;
    EXPECT_EQ(h.tlsa_base, "mx.example.net");
    ASSERT_EQ(h.tlsa.size(), 1u);
    EXPECT_EQ(h.tlsa[0].usage, 2);
  }
}

TEST(DestinationsTlsa, NoTlsaAtEitherNameIsNone) {
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net", kSecure);
  cname_host(r, "mx.example.net", "real.example.org", kSecure);
  r.set_rcode("_25._tcp.real.example.org", rrtype::TLSA, rcode::noerror, kSecure);
  r.set_rcode("_25._tcp.mx.example.net", rrtype::TLSA, rcode::nxdomain, kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->hosts[0].tlsa_state, TlsaState::none);
  EXPECT_EQ(d->hosts[0].tlsa_base, "mx.example.net");
}

TEST(DestinationsTlsa, FailureAtTheExpandedNameDoesNotFallBack) {
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net", kSecure);
  cname_host(r, "mx.example.net", "real.example.org", kSecure);
  r.set_bogus("_25._tcp.real.example.org", rrtype::TLSA, "bad signature");
  r.add_tlsa("_25._tcp.mx.example.net", 3, 1, 1, kDigest, kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  const MxHost& h = d->hosts[0];
  EXPECT_EQ(h.tlsa_state, TlsaState::failed);
  EXPECT_EQ(h.tlsa_base, "real.example.org");
  ASSERT_TRUE(h.tlsa_error);
  EXPECT_EQ(h.tlsa_error->detail,
            "DNSSEC validation failed for _25._tcp.real.example.org TLSA: bad signature");
  EXPECT_EQ(h.tlsa_error->host, "mx.example.net");
  EXPECT_TRUE(h.tlsa.empty());
}

TEST(DestinationsTlsa, UnusableRRsetAtTheExpandedNameStillDecides) {
  // A secure non-empty RRset decides even if nothing in it parses: no fallback.
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net", kSecure);
  cname_host(r, "mx.example.net", "real.example.org", kSecure);
  r.add("_25._tcp.real.example.org", rrtype::TLSA, std::string("\x03", 1), kSecure);
  r.add_tlsa("_25._tcp.mx.example.net", 3, 1, 1, kDigest, kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->hosts[0].tlsa_state, TlsaState::found);
  EXPECT_EQ(d->hosts[0].tlsa_base, "real.example.org");
  EXPECT_TRUE(d->hosts[0].tlsa.empty());
  EXPECT_EQ(d->hosts[0].tlsa_malformed, 1u);
}

TEST(DestinationsTlsa, InsecureCnameExpansionMeansNoDane) {
  // The chain's insecurity makes the address answers insecure too, so the host gets no DANE
  // and the expanded name is never asked for.
  FakeResolver r;
  r.add_mx("example.net", 10, "mx.example.net", kSecure);
  cname_host(r, "mx.example.net", "real.example.org", kInsecure);
  r.add_tlsa("_25._tcp.real.example.org", 3, 1, 1, kDigest, kSecure);
  r.add_tlsa("_25._tcp.mx.example.net", 3, 1, 1, kDigest, kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  const MxHost& h = d->hosts[0];
  EXPECT_EQ(h.expanded_name, "real.example.org");
  EXPECT_FALSE(h.expanded_secure);
  EXPECT_EQ(h.tlsa_state, TlsaState::not_looked_up);
  EXPECT_EQ(r.batches().size(), 2u);
}

TEST(DestinationsTlsa, ExpandedNamesOfAllCnamedHostsShareOneBatch) {
  FakeResolver r;
  r.add_mx("example.net", 10, "a.example.net", kSecure);
  r.add_mx("example.net", 20, "plain.example.net", kSecure);
  r.add_mx("example.net", 30, "b.example.net", kSecure);
  r.add_mx("example.net", 40, "insecure.example.net", kSecure);
  cname_host(r, "a.example.net", "a.hosting.example", kSecure);
  secure_host(r, "plain.example.net");
  cname_host(r, "b.example.net", "b.hosting.example", kSecure);
  cname_host(r, "insecure.example.net", "c.hosting.example", kInsecure);
  r.add_tlsa("_25._tcp.a.hosting.example", 3, 1, 1, kDigest, kSecure);
  r.add_tlsa("_25._tcp.plain.example.net", 3, 1, 1, kDigest, kSecure);
  r.set_rcode("_25._tcp.b.hosting.example", rrtype::TLSA, rcode::nxdomain, kSecure);
  r.set_rcode("_25._tcp.b.example.net", rrtype::TLSA, rcode::nxdomain, kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  ASSERT_EQ(r.batches().size(), 3u);
  ASSERT_EQ(r.batches()[1].size(), 12u);
  const auto& expanded = r.batches()[2];
  ASSERT_EQ(expanded.size(), 2u);
  EXPECT_EQ(expanded[0].name, "_25._tcp.a.hosting.example");
  EXPECT_EQ(expanded[1].name, "_25._tcp.b.hosting.example");
  EXPECT_EQ(d->hosts[0].tlsa_state, TlsaState::found);
  EXPECT_EQ(d->hosts[0].tlsa_base, "a.hosting.example");
  EXPECT_EQ(d->hosts[1].tlsa_state, TlsaState::found);
  EXPECT_EQ(d->hosts[1].tlsa_base, "plain.example.net");
  EXPECT_EQ(d->hosts[2].tlsa_state, TlsaState::none);
  EXPECT_EQ(d->hosts[2].tlsa_base, "b.example.net");
  EXPECT_EQ(d->hosts[3].tlsa_state, TlsaState::not_looked_up);
}

TEST(DestinationsTlsa, ImplicitMxLooksUpTheDomain) {
  FakeResolver r;
  r.set_rcode("example.net", rrtype::MX, rcode::noerror, kSecure);
  secure_host(r, "example.net");
  r.add_tlsa("_25._tcp.example.net", 3, 1, 1, kDigest, kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->implicit_mx);
  EXPECT_EQ(d->hosts[0].tlsa_state, TlsaState::found);
  EXPECT_EQ(d->hosts[0].tlsa_base, "example.net");
}

TEST(DestinationsTlsa, ExpandedTlsaBatchMustAnswerEveryQuestion) {
  // A resolver that drops answers is an internal error, not a silent downgrade.
  class Dropping : public FakeResolver {
   public:
    std::vector<Result<Answer>> resolve(std::span<const Question> q) override {
      auto out = FakeResolver::resolve(q);
      if (batches().size() == 3) out.clear();
      return out;
    }
  };
  Dropping r;
  r.add_mx("example.net", 10, "mx.example.net", kSecure);
  cname_host(r, "mx.example.net", "real.example.org", kSecure);
  auto d = gather_destinations(r, "example.net", zero);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().stage, Stage::internal);
}

TEST(DestinationsTlsa, StateNames) {
  EXPECT_STREQ(tlsa_state_name(TlsaState::not_looked_up), "not looked up");
  EXPECT_STREQ(tlsa_state_name(TlsaState::none), "none");
  EXPECT_STREQ(tlsa_state_name(TlsaState::found), "found");
  EXPECT_STREQ(tlsa_state_name(TlsaState::insecure), "insecure");
  EXPECT_STREQ(tlsa_state_name(TlsaState::failed), "failed");
  EXPECT_EQ(tlsa_owner(25, "mx.example.net"), "_25._tcp.mx.example.net");
}

}  // namespace
}  // namespace mx::dns
