// Tests for dane::usable/classify/to_string, the per-host DANE decision and reference names.
#include "dane/tlsa.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx::dane {
namespace {

using dns::MxHost;
using dns::TlsaRecord;
using dns::TlsaState;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TlsaRecord rec(int u, int s, int m, std::string data) {
  return {static_cast<std::uint8_t>(u), static_cast<std::uint8_t>(s), static_cast<std::uint8_t>(m),
          std::move(data)};
}

std::string bytes(std::size_t n, char c = '\xab') {
  return std::string(n, c);
}

/// A DER SEQUENCE holding `n` content octets, with the minimal length encoding.
std::string der_sequence(std::size_t n) {
  std::string out = "\x30";
  if (n < 0x80) {
    out += static_cast<char>(n);
  } else if (n < 0x100) {
    out += '\x81';
    out += static_cast<char>(n);
  } else {
    out += '\x82';
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xff);
  }
  return out + bytes(n, '\x04');
}

struct Row {
  TlsaRecord record;
  bool usable;
  const char* why;
};

TEST(Tlsa, UsabilityTable) {
  const std::vector<Row> rows = {
      {rec(3, 1, 1, bytes(32)), true, "DANE-EE SPKI SHA2-256"},
      {rec(3, 0, 1, bytes(32)), true, "DANE-EE cert SHA2-256"},
      {rec(3, 1, 2, bytes(64)), true, "DANE-EE SPKI SHA2-512"},
      {rec(3, 0, 2, bytes(64)), true, "DANE-EE cert SHA2-512"},
      {rec(2, 0, 1, bytes(32)), true, "DANE-TA cert SHA2-256"},
      {rec(2, 1, 1, bytes(32)), true, "DANE-TA SPKI SHA2-256"},
      {rec(2, 1, 2, bytes(64)), true, "DANE-TA SPKI SHA2-512"},
      {rec(3, 0, 0, der_sequence(10)), true, "DANE-EE full cert"},
      {rec(2, 1, 0, der_sequence(200)), true, "DANE-TA full SPKI, long form length"},
      {rec(2, 0, 0, der_sequence(300)), true, "DANE-TA full cert, two length octets"},
      {rec(0, 0, 1, bytes(32)), false, "PKIX-TA is unusable for SMTP"},
      {rec(1, 1, 1, bytes(32)), false, "PKIX-EE is unusable for SMTP"},
      {rec(4, 1, 1, bytes(32)), false, "unknown usage"},
      {rec(255, 1, 1, bytes(32)), false, "private usage"},
      {rec(3, 2, 1, bytes(32)), false, "unknown selector"},
      {rec(3, 255, 1, bytes(32)), false, "private selector"},
      {rec(3, 1, 3, bytes(32)), false, "unknown matching type"},
      {rec(3, 1, 255, bytes(32)), false, "private matching type"},
      {rec(3, 1, 1, bytes(31)), false, "SHA2-256 one octet short"},
      {rec(3, 1, 1, bytes(33)), false, "SHA2-256 one octet long"},
      {rec(3, 1, 1, bytes(64)), false, "SHA2-512 length with SHA2-256"},
      {rec(3, 1, 2, bytes(32)), false, "SHA2-256 length with SHA2-512"},
      {rec(3, 1, 2, bytes(63)), false, "SHA2-512 one octet short"},
      {rec(3, 1, 1, ""), false, "empty digest"},
      {rec(3, 0, 0, ""), false, "empty full data"},
      {rec(3, 0, 0, "x"), false, "one octet"},
      {rec(3, 0, 0, "hello, world"), false, "not DER"},
      {rec(3, 0, 0, std::string("\x31\x01\x00", 3)), false, "a SET, not a SEQUENCE"},
      {rec(3, 0, 0, std::string("\x30\x05\x00", 3)), false, "truncated"},
      {rec(3, 0, 0, der_sequence(3) + "x"), false, "trailing data"},
      {rec(3, 0, 0, std::string("\x30\x80\x00\x00", 4)), false, "indefinite length"},
      {rec(3, 0, 0, std::string("\x30\x81\x05", 3) + bytes(5)), false, "non-minimal long form"},
      {rec(3, 0, 0, std::string("\x30\x82\x00\x90", 4) + bytes(0x90)), false,
       "leading zero length octet"},
      {rec(3, 0, 0, std::string("\x30\x85\x01\x00\x00\x00\x00", 7)), false, "five length octets"},
  };
  for (const auto& row : rows) EXPECT_EQ(usable(row.record), row.usable) << row.why;
}

TEST(Tlsa, ClassifyKeepsUsableInOrderAndCountsTheRest) {
  auto a = rec(3, 1, 1, bytes(32, '\x01'));
  auto b = rec(2, 0, 2, bytes(64, '\x02'));
  auto set = classify({rec(1, 1, 1, bytes(32)), a, rec(3, 1, 1, bytes(5)), b, rec(3, 9, 1, "")});
  ASSERT_EQ(set.usable.size(), 2u);
  EXPECT_EQ(set.usable[0].data, a.data);
  EXPECT_EQ(set.usable[1].data, b.data);
  EXPECT_EQ(set.usable[1].usage, 2);
  EXPECT_EQ(set.unusable, 3u);

  auto empty = classify({});
  EXPECT_TRUE(empty.usable.empty());
  EXPECT_EQ(empty.unusable, 0u);
}

TEST(Tlsa, ToStringIsPresentationForm) {
  EXPECT_EQ(to_string(rec(3, 1, 1, std::string("\x00\xff\x10\xab", 4))), "3 1 1 00ff10ab");
  EXPECT_EQ(to_string(rec(2, 0, 0, "0")), "2 0 0 30");
  EXPECT_EQ(to_string(rec(255, 255, 255, "")), "255 255 255 ");
}

MxHost host(TlsaState state, std::vector<TlsaRecord> records = {}) {
  MxHost h;
  h.name = "mx.example.net";
  h.expanded_name = h.name;
  h.addresses_secure = state != TlsaState::not_looked_up;
  h.expanded_secure = h.addresses_secure;
  h.tlsa_state = state;
  h.tlsa = std::move(records);
  if (state != TlsaState::not_looked_up) h.tlsa_base = h.name;
  return h;
}

TEST(Tlsa, DecisionTable) {
  const auto good = rec(3, 1, 1, bytes(32));
  const auto bad = rec(0, 1, 1, bytes(32));
  struct Case {
    TlsaState state;
    std::vector<TlsaRecord> records;
    DaneDecision expected;
  };
  const std::vector<Case> cases = {
      // Records that are present but must not count, whatever they hold.
      {TlsaState::not_looked_up, {}, DaneDecision::no_dane},
      {TlsaState::not_looked_up, {good}, DaneDecision::no_dane},
      {TlsaState::not_looked_up, {bad}, DaneDecision::no_dane},
      {TlsaState::none, {}, DaneDecision::no_dane},
      {TlsaState::none, {good}, DaneDecision::no_dane},
      {TlsaState::none, {bad}, DaneDecision::no_dane},
      {TlsaState::insecure, {}, DaneDecision::no_dane},
      {TlsaState::insecure, {good}, DaneDecision::no_dane},
      {TlsaState::insecure, {bad}, DaneDecision::no_dane},
      {TlsaState::failed, {}, DaneDecision::host_unusable},
      {TlsaState::failed, {good}, DaneDecision::host_unusable},
      {TlsaState::failed, {bad}, DaneDecision::host_unusable},
      {TlsaState::found, {good}, DaneDecision::authenticate},
      {TlsaState::found, {bad, good}, DaneDecision::authenticate},
      {TlsaState::found, {bad}, DaneDecision::encrypt_only},
      {TlsaState::found, {}, DaneDecision::encrypt_only},  // every record was malformed
  };
  for (const auto& c : cases) {
    EXPECT_EQ(decide(host(c.state, c.records)), c.expected)
        << dns::tlsa_state_name(c.state) << " with " << c.records.size() << " records";
  }
}

TEST(Tlsa, AssessReportsRecordsAndReasons) {
  const auto good = rec(3, 1, 1, bytes(32));
  auto h = host(TlsaState::found, {rec(1, 1, 1, bytes(32)), good});
  h.tlsa_malformed = 2;
  auto a = assess(h);
  EXPECT_EQ(a.decision, DaneDecision::authenticate);
  ASSERT_EQ(a.records.usable.size(), 1u);
  EXPECT_EQ(a.records.usable[0].data, good.data);
  EXPECT_EQ(a.records.unusable, 3u);  // the PKIX-EE record and the two malformed ones
  EXPECT_EQ(a.reason, "1 usable, 3 unusable TLSA records for mx.example.net");

  auto only_bad = host(TlsaState::found, {rec(0, 0, 1, bytes(32))});
  auto e = assess(only_bad);
  EXPECT_EQ(e.decision, DaneDecision::encrypt_only);
  EXPECT_EQ(e.reason, "0 usable, 1 unusable TLSA records for mx.example.net");

  auto failed = host(TlsaState::failed);
  failed.tlsa_error = temporary_error(Stage::dns,
                                      "DNS lookup of _25._tcp.mx.example.net TLSA "
                                      "failed: SERVFAIL");
  auto f = assess(failed);
  EXPECT_EQ(f.decision, DaneDecision::host_unusable);
  EXPECT_EQ(f.reason,
            "the TLSA lookup for mx.example.net failed: DNS lookup of _25._tcp.mx.example.net "
            "TLSA failed: SERVFAIL");
  EXPECT_TRUE(f.records.usable.empty());

  EXPECT_THAT(assess(host(TlsaState::not_looked_up)).reason, HasSubstr("not DNSSEC-secure"));
  EXPECT_EQ(assess(host(TlsaState::none)).reason, "no TLSA records for mx.example.net");
  EXPECT_EQ(assess(host(TlsaState::insecure)).reason,
            "the TLSA records of mx.example.net are not DNSSEC-secure");
}

TEST(Tlsa, DecisionNames) {
  EXPECT_STREQ(decision_name(DaneDecision::no_dane), "no DANE");
  EXPECT_STREQ(decision_name(DaneDecision::authenticate), "DANE authentication");
  EXPECT_STREQ(decision_name(DaneDecision::encrypt_only), "DANE encryption only");
  EXPECT_STREQ(decision_name(DaneDecision::host_unusable), "host unusable");
}

TEST(Tlsa, ReferenceNamesStartWithTheTlsaBase) {
  dns::Destinations d;
  d.domain = "example.net";
  d.expanded_domain = d.domain;
  MxHost h = host(TlsaState::found, {rec(2, 0, 1, bytes(32))});
  h.name = "mx.example.net";
  h.expanded_name = "real.example.org";
  h.tlsa_base = "real.example.org";
  EXPECT_THAT(reference_names(d, h), ElementsAre("real.example.org", "mx.example.net"));

  h.tlsa_base = "mx.example.net";  // fell back to the original name
  EXPECT_THAT(reference_names(d, h), ElementsAre("mx.example.net", "real.example.org"));

  h.expanded_secure = false;  // an insecure expansion is no name of this host
  EXPECT_THAT(reference_names(d, h), ElementsAre("mx.example.net"));
}

TEST(Tlsa, ReferenceNamesWithoutMxIncludeTheNextHop) {
  dns::Destinations d;
  d.domain = "example.net";
  d.expanded_domain = d.domain;
  d.implicit_mx = true;
  MxHost h = host(TlsaState::found);
  h.name = "example.net";
  h.expanded_name = "Web.Example.ORG";
  h.tlsa_base = "web.example.org";
  // Names differing only in case are one name.
  EXPECT_THAT(reference_names(d, h), ElementsAre("web.example.org", "example.net"));

  dns::Destinations with_mx = d;
  with_mx.implicit_mx = false;
  MxHost mx = host(TlsaState::found);
  EXPECT_THAT(reference_names(with_mx, mx), ElementsAre("mx.example.net"));
}

}  // namespace
}  // namespace mx::dane
