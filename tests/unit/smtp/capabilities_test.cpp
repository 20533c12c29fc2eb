// Tests for EHLO capability parsing.
#include "smtp/capabilities.hpp"

#include <gtest/gtest.h>

namespace mx::smtp {
namespace {

Capabilities caps_of(std::vector<std::string> lines) {
  Reply r;
  r.code = 250;
  r.lines = std::move(lines);
  return parse_capabilities(r);
}

TEST(Capabilities, GreetingOnly) {
  auto c = caps_of({"mx.example.org Hello client"});
  EXPECT_EQ(c.greeting, "mx.example.org Hello client");
  EXPECT_TRUE(c.extensions.empty());
  EXPECT_FALSE(c.starttls || c.pipelining || c.size);
}

TEST(Capabilities, KnownKeywordsCaseInsensitive) {
  auto c = caps_of({"mx", "starttls", "Pipelining", "8bitmime", "SMTPUTF8", "EnhancedStatusCodes",
                    "CHUNKING", "dsn", "RequireTLS"});
  EXPECT_TRUE(c.starttls);
  EXPECT_TRUE(c.pipelining);
  EXPECT_TRUE(c.eightbitmime);
  EXPECT_TRUE(c.smtputf8);
  EXPECT_TRUE(c.enhancedstatuscodes);
  EXPECT_TRUE(c.chunking);
  EXPECT_TRUE(c.dsn);
  EXPECT_TRUE(c.requiretls);
  EXPECT_TRUE(c.has("STARTTLS"));
  EXPECT_TRUE(c.has("pipelining"));
  EXPECT_FALSE(c.has("AUTH"));
  EXPECT_EQ(c.extensions[0].keyword, "STARTTLS");
}

TEST(Capabilities, NothingWithoutKeywords) {
  auto c = caps_of({"mx", "X-FOO"});
  EXPECT_FALSE(c.starttls || c.pipelining || c.eightbitmime || c.smtputf8 ||
               c.enhancedstatuscodes || c.chunking || c.dsn || c.requiretls);
}

TEST(Capabilities, SizeWithNumber) {
  auto c = caps_of({"mx", "SIZE 35882577"});
  ASSERT_TRUE(c.size.has_value());
  EXPECT_EQ(*c.size, 35882577u);
}

TEST(Capabilities, SizeWithoutNumber) {
  auto c = caps_of({"mx", "SIZE"});
  ASSERT_TRUE(c.size.has_value());
  EXPECT_EQ(*c.size, 0u);
}

TEST(Capabilities, SizeMalformedIgnored) {
  auto c = caps_of({"mx", "SIZE abc"});
  ASSERT_TRUE(c.size.has_value());
  EXPECT_EQ(*c.size, 0u);
  auto big = caps_of({"mx", "SIZE 99999999999999999999999"});
  EXPECT_EQ(*big.size, 0u);
  auto neg = caps_of({"mx", "SIZE -5"});
  EXPECT_EQ(*neg.size, 0u);
}

TEST(Capabilities, AuthList) {
  auto c = caps_of({"mx", "AUTH plain LOGIN cram-md5 PLAIN", "AUTH=LOGIN XOAUTH2"});
  EXPECT_EQ(c.auth, (std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"}));
  EXPECT_TRUE(c.has("AUTH"));
}

TEST(Capabilities, AuthBadMechanismsSkipped) {
  auto c = caps_of({"mx", "AUTH PLAIN bad/mech THIS-NAME-IS-FAR-TOO-LONG-FOR-SASL"});
  EXPECT_EQ(c.auth, std::vector<std::string>{"PLAIN"});
}

TEST(Capabilities, Limits) {
  auto c = caps_of({"mx", "LIMITS RCPTMAX=50 mailmax=1000 RCPTDOMAINMAX=10 FUTURE=1"});
  EXPECT_EQ(c.limits.rcptmax, 50u);
  EXPECT_EQ(c.limits.mailmax, 1000u);
  EXPECT_EQ(c.limits.rcptdomainmax, 10u);
}

TEST(Capabilities, LimitsMalformedIgnored) {
  auto c =
      caps_of({"mx", "LIMITS RCPTMAX=abc MAILMAX= RCPTMAX MAILMAX=0 RCPTDOMAINMAX=99999999999"});
  EXPECT_FALSE(c.limits.rcptmax);
  EXPECT_FALSE(c.limits.mailmax);
  EXPECT_FALSE(c.limits.rcptdomainmax);
  EXPECT_TRUE(c.has("LIMITS"));
}

TEST(Capabilities, UnknownKeywordsKept) {
  auto c = caps_of({"mx", "X-EXPS GSSAPI NTLM", "ETRN", "VRFY"});
  const Extension* x = c.find("x-exps");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->keyword, "X-EXPS");
  EXPECT_EQ(x->params, (std::vector<std::string>{"GSSAPI", "NTLM"}));
  EXPECT_TRUE(c.has("etrn"));
  EXPECT_EQ(c.raw, (std::vector<std::string>{"X-EXPS GSSAPI NTLM", "ETRN", "VRFY"}));
}

TEST(Capabilities, MalformedKeywordLinesSkipped) {
  auto c = caps_of({"mx", "", "-BAD", "!!!", "PIPELINING"});
  EXPECT_TRUE(c.pipelining);
  EXPECT_EQ(c.extensions.size(), 1u);
  EXPECT_EQ(c.raw.size(), 4u);
}

TEST(Capabilities, GreetingLineIsNotAKeyword) {
  auto c = caps_of({"STARTTLS"});
  EXPECT_FALSE(c.starttls);
}

}  // namespace
}  // namespace mx::smtp
