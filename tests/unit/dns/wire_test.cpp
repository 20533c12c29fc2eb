// Tests for the DNS message codec used by the trust-AD resolver (dns/wire).
#include "dns/wire.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_dns_server.hpp"

namespace mx::dns::wire {
namespace {

using namespace std::string_literals;
using testing::build_response;
using ::testing::ElementsAre;
using testing::FakeRr;
using testing::parse_query;

TEST(BuildQuery, HasRdAdAndEdnsDo) {
  auto q = build_query(0xbeef, "Mx.Example.net.", rrtype::MX);
  ASSERT_TRUE(q);
  const std::string expected =
      "\xbe\xef\x01\x20\x00\x01\x00\x00\x00\x00\x00\x01"s  // header: RD, AD; 1 question, 1 OPT
      "\x02Mx\x07"
      "Example\x03net\x00\x00\x0f\x00\x01"s             // question MX IN
      "\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00"s;  // OPT: 1232 octets, DO
  EXPECT_EQ(*q, expected);
  auto seen = parse_query(*q);
  ASSERT_TRUE(seen);
  EXPECT_TRUE(seen->do_bit);
}

TEST(BuildQuery, RejectsBadName) {
  EXPECT_FALSE(build_query(1, "a..b", rrtype::A));
  EXPECT_FALSE(build_query(1, std::string(64, 'x') + ".net", rrtype::A));
}

std::string response_bytes(std::uint16_t flags, std::string answers, std::uint16_t ancount) {
  std::string m = "\x12\x34"s;
  m += static_cast<char>(flags >> 8);
  m += static_cast<char>(flags & 0xff);
  m += "\x00\x01"s;
  m += static_cast<char>(0);
  m += static_cast<char>(ancount);
  m += "\x00\x00\x00\x00"s;
  m += "\x03www\x07"
       "example\x03net\x00\x00\x01\x00\x01"s;  // question at offset 12
  return m + answers;
}

TEST(ParseMessage, ReadsHeaderQuestionAndCompressedAnswers) {
  // www.example.net CNAME mail.example.net (compressed), then mail.example.net A 192.0.2.1.
  const std::string answers =
      "\xc0\x0c\x00\x05\x00\x01\x00\x00\x0e\x10\x00\x07\x04mail\xc0\x10"s   // CNAME -> mail.<16>
      "\xc0\x2d\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01"s;  // owner ptr to 45
  auto m = parse_message(response_bytes(0x81a0, answers, 2));
  ASSERT_TRUE(m) << m.error().detail;
  EXPECT_EQ(m->id, 0x1234);
  EXPECT_TRUE(m->qr);
  EXPECT_TRUE(m->ad);
  EXPECT_FALSE(m->tc);
  EXPECT_EQ(m->rcode, 0);
  EXPECT_EQ(m->qname, "www.example.net");
  EXPECT_EQ(m->qtype, rrtype::A);
  ASSERT_EQ(m->answers.size(), 2u);
  EXPECT_EQ(m->answers[0].owner, "www.example.net");
  EXPECT_EQ(m->answers[0].type, rrtype::CNAME);
  EXPECT_EQ(m->answers[0].ttl, 3600u);
  EXPECT_EQ(m->answers[0].rdata,
            "\x04mail\x07"
            "example\x03net\x00"s);  // decompressed
  EXPECT_EQ(m->answers[1].owner, "mail.example.net");
  EXPECT_EQ(m->answers[1].rdata, "\xc0\x00\x02\x01"s);

  Answer a = to_answer(*m, "WWW.example.net.", rrtype::A);
  EXPECT_EQ(a.qname, "www.example.net");
  EXPECT_EQ(a.canonical_name, "mail.example.net");
  EXPECT_EQ(a.security, Security::secure);
  EXPECT_THAT(a.rdata, ElementsAre("\xc0\x00\x02\x01"s));
  EXPECT_EQ(a.ttl, 60u);
}

TEST(ParseMessage, DecompressesMxExchange) {
  const std::string answers = "\xc0\x0c\x00\x0f\x00\x01\x00\x00\x00\x3c\x00\x04\x00\x0a\xc0\x10"s;
  auto m = parse_message(response_bytes(0x8180, answers, 1));
  ASSERT_TRUE(m) << m.error().detail;
  EXPECT_EQ(m->answers[0].rdata,
            "\x00\x0a\x07"
            "example\x03net\x00"s);
  EXPECT_FALSE(m->ad);
}

TEST(ParseMessage, RejectsMalformed) {
  EXPECT_FALSE(parse_message("\x12\x34"s));
  // Owner name pointing at itself (offset 33, just after the question): a loop.
  EXPECT_FALSE(parse_message(response_bytes(0x8180, "\xc0\x21\x00\x01"s, 1)));
  // Forward pointer.
  EXPECT_FALSE(parse_message(response_bytes(0x8180, "\xc0\x40"s, 1)));
  // Answer count larger than the answers present.
  EXPECT_FALSE(parse_message(response_bytes(0x8180, ""s, 1)));
  // RDLENGTH past the end.
  EXPECT_FALSE(parse_message(
      response_bytes(0x8180, "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x09\x01\x02"s, 1)));
  // CNAME whose name does not fill RDLENGTH exactly.
  EXPECT_FALSE(parse_message(
      response_bytes(0x8180, "\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x04\x01x\x00\x00"s, 1)));
  // Zero questions.
  std::string noq = response_bytes(0x8180, ""s, 0);
  noq[5] = 0;
  EXPECT_FALSE(parse_message(noq));
}

TEST(ParseMessage, TruncatedResponseStopsAfterQuestion) {
  auto m = parse_message(response_bytes(0x8380, ""s, 3));  // TC set, answers missing
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->tc);
  EXPECT_TRUE(m->answers.empty());
}

TEST(ToAnswer, KeepsOnlyAskedTypeAtChainEnd) {
  Message m;
  m.rcode = 0;
  m.answers = {
      {"a.example", rrtype::CNAME, kClassIn, 10, *encode_name("b.example")},
      {"b.example", rrtype::CNAME, kClassIn, 20, *encode_name("c.example")},
      {"c.example", rrtype::A, kClassIn, 30, "\x01\x02\x03\x04"s},
      {"a.example", rrtype::A, kClassIn, 30, "\x09\x09\x09\x09"s},      // not at chain end
      {"c.example", rrtype::AAAA, kClassIn, 30, std::string(16, 'x')},  // other type
      {"c.example", rrtype::A, 3, 30, "\x05\x05\x05\x05"s},             // other class
  };
  Answer a = to_answer(m, "a.example", rrtype::A);
  EXPECT_EQ(a.canonical_name, "c.example");
  EXPECT_THAT(a.rdata, ElementsAre("\x01\x02\x03\x04"s));
  EXPECT_EQ(a.security, Security::insecure);
}

TEST(ToAnswer, CnameLoopEnds) {
  Message m;
  m.answers = {
      {"a.example", rrtype::CNAME, kClassIn, 10, *encode_name("b.example")},
      {"b.example", rrtype::CNAME, kClassIn, 10, *encode_name("a.example")},
  };
  Answer a = to_answer(m, "a.example", rrtype::A);
  EXPECT_TRUE(a.rdata.empty());
}

TEST(ToAnswer, NxdomainAndNodata) {
  Message m;
  m.rcode = rcode::nxdomain;
  Answer a = to_answer(m, "x.example", rrtype::A);
  EXPECT_TRUE(a.nxdomain());
  m.rcode = 0;
  EXPECT_TRUE(to_answer(m, "x.example", rrtype::A).nodata());
}

TEST(ToAnswer, RoundTripThroughTestServerBuilder) {
  auto q = build_query(7, "mx.example.org", rrtype::A);
  ASSERT_TRUE(q);
  auto seen = parse_query(*q);
  ASSERT_TRUE(seen);
  const std::string resp = build_response(
      *seen, 0, true, false, {FakeRr{"mx.example.org", rrtype::A, "\x7f\x00\x00\x01"s}});
  auto m = parse_message(resp);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 7);
  Answer a = to_answer(*m, "mx.example.org", rrtype::A);
  EXPECT_EQ(a.security, Security::secure);
  EXPECT_THAT(a.rdata, ElementsAre("\x7f\x00\x00\x01"s));
}

}  // namespace
}  // namespace mx::dns::wire
