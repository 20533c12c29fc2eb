// Tests for the MTA-STS policy parser (RFC 8461 §3.2) and MX pattern matching (§4.1).
#include "mtasts/policy.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mx::mtasts {
namespace {

constexpr const char* kExample =
    "version: STSv1\r\n"
    "mode: enforce\r\n"
    "mx: mail.example.com\r\n"
    "mx: *.example.net\r\n"
    "mx: backupmx.example.com\r\n"
    "max_age: 604800\r\n";

TEST(ParsePolicy, RfcExample) {
  auto p = parse_policy(kExample);
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->mode, Mode::enforce);
  EXPECT_EQ(p->max_age, 604800u);
  ASSERT_EQ(p->mx.size(), 3u);
  EXPECT_EQ(p->mx[1], "*.example.net");
}

TEST(ParsePolicy, LfOnlyMixedAndUnterminated) {
  auto p = parse_policy("version: STSv1\nmode: testing\r\nmx: a.example\nmax_age: 86400");
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->mode, Mode::testing);
  EXPECT_EQ(p->max_age, 86400u);
}

TEST(ParsePolicy, AnyOrderVersionNotFirst) {
  auto p = parse_policy("max_age: 1\nmx: a.example\nmode: enforce\nversion: STSv1\n");
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->max_age, 1u);
}

TEST(ParsePolicy, ModeNoneNeedsNoMx) {
  auto p = parse_policy("version: STSv1\nmode: none\nmax_age: 0\n");
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->mode, Mode::none);
  EXPECT_TRUE(p->mx.empty());
}

TEST(ParsePolicy, WhitespaceAroundValues) {
  auto p = parse_policy("version:STSv1\nmode:\t enforce \t\r\nmx:   A.Example.COM  \nmax_age: 5\n");
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->mode, Mode::enforce);
  EXPECT_EQ(p->mx.front(), "a.example.com");  // stored lower case
}

TEST(ParsePolicy, UnknownKeysIgnored) {
  auto p = parse_policy(
      "version: STSv1\nmode: enforce\nfoo_bar.baz-1: any value; with=punct \xc3\xa9\n"
      "mx: a.example\nmax_age: 5\nMode: none\n");
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->mode, Mode::enforce);  // "Mode" is an unknown key: names are case-sensitive
}

TEST(ParsePolicy, RepeatedSingleValuedKeysFirstWins) {
  // RFC 8461 §3.2: senders ignore all but the first instance of a non-repeated field.
  auto p = parse_policy(
      "version: STSv1\nmode: enforce\nmode: testing\nmx: a.example\nmax_age: 10\nmax_age: 20\n"
      "version: STSv1\n");
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->mode, Mode::enforce);
  EXPECT_EQ(p->max_age, 10u);
}

TEST(ParsePolicy, RepeatedKeyMustStillBeWellFormed) {
  EXPECT_FALSE(
      parse_policy("version: STSv1\nmode: enforce\nmode: bogus\nmx: a.example\nmax_age: 1"));
  EXPECT_FALSE(parse_policy("version: STSv1\nmode: none\nmax_age: 1\nmax_age: x\n"));
}

struct MaxAgeCase {
  const char* value;
  long long expected;  // -1: rejected
};

class MaxAgeTable : public ::testing::TestWithParam<MaxAgeCase> {};

TEST_P(MaxAgeTable, Bounds) {
  const auto& c = GetParam();
  auto p = parse_policy(std::string("version: STSv1\nmode: none\nmax_age: ") + c.value + "\n");
  if (c.expected < 0) {
    EXPECT_FALSE(p) << c.value;
  } else {
    ASSERT_TRUE(p) << c.value << ": " << p.error().detail;
    EXPECT_EQ(p->max_age, static_cast<std::uint32_t>(c.expected));
  }
}

INSTANTIATE_TEST_SUITE_P(Rfc8461, MaxAgeTable,
                         ::testing::Values(MaxAgeCase{"0", 0}, MaxAgeCase{"1", 1},
                                           MaxAgeCase{"31557600", 31557600},
                                           MaxAgeCase{"0031557600", 31557600},  // 10 digits
                                           MaxAgeCase{"31557601", -1}, MaxAgeCase{"9999999999", -1},
                                           MaxAgeCase{"00000000001", -1},           // 11 digits
                                           MaxAgeCase{"18446744073709551617", -1},  // > 2^64
                                           MaxAgeCase{"-1", -1}, MaxAgeCase{"+5", -1},
                                           MaxAgeCase{"1e3", -1}, MaxAgeCase{"5 6", -1},
                                           MaxAgeCase{"0x10", -1}, MaxAgeCase{"", -1}));

struct InvalidCase {
  const char* text;
  const char* reason;  // a piece of the error detail
};

class InvalidPolicy : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidPolicy, Rejected) {
  const auto& c = GetParam();
  auto p = parse_policy(c.text);
  ASSERT_FALSE(p) << c.text;
  EXPECT_EQ(p.error().stage, Stage::tls);
  EXPECT_NE(p.error().detail.find(c.reason), std::string::npos) << p.error().detail;
}

INSTANTIATE_TEST_SUITE_P(
    Rfc8461, InvalidPolicy,
    ::testing::Values(
        InvalidCase{"", "empty"},
        InvalidCase{"mode: enforce\nmx: a.example\nmax_age: 1\n", "no version"},
        InvalidCase{"version: STSv1\nmx: a.example\nmax_age: 1\n", "no mode"},
        InvalidCase{"version: STSv1\nmode: enforce\nmx: a.example\n", "no max_age"},
        InvalidCase{"version: STSv1\nmode: enforce\nmax_age: 1\n", "no mx"},
        InvalidCase{"version: STSv1\nmode: testing\nmax_age: 1\n", "no mx"},
        InvalidCase{"version: STSv2\nmode: none\nmax_age: 1\n", "unsupported version"},
        InvalidCase{"version: stsv1\nmode: none\nmax_age: 1\n", "unsupported version"},
        InvalidCase{"version: STSv1\nmode: Enforce\nmx: a.b\nmax_age: 1\n", "invalid mode"},
        InvalidCase{"version: STSv1\nmode: report\nmx: a.b\nmax_age: 1\n", "invalid mode"},
        InvalidCase{"version: STSv1\n\nmode: none\nmax_age: 1\n", "line 2: empty line"},
        InvalidCase{"version: STSv1\nmode: none\nmax_age: 1\n\n", "line 4: empty line"},
        InvalidCase{" version: STSv1\nmode: none\nmax_age: 1\n", "invalid key"},
        InvalidCase{"version : STSv1\nmode: none\nmax_age: 1\n", "invalid key"},
        InvalidCase{"version STSv1\nmode: none\nmax_age: 1\n", "no ':'"},
        InvalidCase{"version: STSv1\nmode: none\nmax_age: 1\nfoo:\n", "missing or invalid value"},
        InvalidCase{"version: STSv1\nmode: none\nmax_age: 1\nfoo: a\x01\n", "invalid value"},
        InvalidCase{"version: STSv1\nmode: none\rmax_age: 1\n", "invalid value"},
        InvalidCase{"version: STSv1\nmode: enforce\nmx: *\nmax_age: 1\n", "invalid mx"},
        InvalidCase{"version: STSv1\nmode: enforce\nmx: *.\nmax_age: 1\n", "invalid mx"},
        InvalidCase{"version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n", "invalid mx"},
        InvalidCase{"version: STSv1\nmode: enforce\nmx: mail*.example\nmax_age: 1\n", "invalid mx"},
        InvalidCase{"version: STSv1\nmode: enforce\nmx: .example.com\nmax_age: 1\n", "invalid mx"},
        InvalidCase{"version: STSv1\nmode: enforce\nmx: mail.example.\nmax_age: 1\n", "invalid mx"},
        InvalidCase{"version: STSv1\nmode: enforce\nmx: -a.example\nmax_age: 1\n", "invalid mx"},
        InvalidCase{"version: STSv1\nmode: enforce\nmx: a_b.example\nmax_age: 1\n", "invalid mx"},
        InvalidCase{"version: STSv1\nmode: enforce\nmx: a b.example\nmax_age: 1\n", "invalid mx"},
        InvalidCase{"<html>\n<body>not a policy</body>\n", "no ':'"}));

struct MatchCase {
  const char* host;
  bool matches;
};

class MatchTable : public ::testing::TestWithParam<MatchCase> {};

TEST_P(MatchTable, Rfc8461Section41) {
  Policy p;
  p.mode = Mode::enforce;
  p.mx = {"mail.example.com", "*.example.net"};
  EXPECT_EQ(p.matches(GetParam().host), GetParam().matches) << GetParam().host;
}

INSTANTIATE_TEST_SUITE_P(
    Patterns, MatchTable,
    ::testing::Values(MatchCase{"mail.example.com", true}, MatchCase{"MAIL.Example.COM", true},
                      MatchCase{"mail.example.com.", true}, MatchCase{"example.com", false},
                      MatchCase{"amail.example.com", false}, MatchCase{"x.mail.example.com", false},
                      MatchCase{"mx1.example.net", true}, MatchCase{"MX1.EXAMPLE.NET.", true},
                      MatchCase{"example.net", false}, MatchCase{"a.b.example.net", false},
                      MatchCase{".example.net", false}, MatchCase{"xexample.net", false},
                      MatchCase{"mx1.example.net.evil", false}, MatchCase{"", false},
                      MatchCase{".", false}));

TEST(Matches, WildcardFromParsedPolicyIsCaseInsensitive) {
  auto p = parse_policy("version: STSv1\nmode: enforce\nmx: *.Example.ORG\nmax_age: 5\n");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->matches("mx.example.org"));
  EXPECT_FALSE(p->matches("example.org"));
}

TEST(ModeName, Names) {
  EXPECT_STREQ(mode_name(Mode::enforce), "enforce");
  EXPECT_STREQ(mode_name(Mode::testing), "testing");
  EXPECT_STREQ(mode_name(Mode::none), "none");
}

}  // namespace
}  // namespace mx::mtasts
