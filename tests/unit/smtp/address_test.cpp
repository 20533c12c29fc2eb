// Tests for RFC 5321 mailbox and domain validation.
#include "smtp/address.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mx::smtp {
namespace {

struct Valid {
  std::string input, local, domain;
};

TEST(ParseMailbox, ValidTable) {
  const Valid cases[] = {
      {"user@example.org", "user", "example.org"},
      {"<user@example.org>", "user", "example.org"},
      {"first.last@sub.example.org", "first.last", "sub.example.org"},
      {"a+tag@example.org", "a+tag", "example.org"},
      {"!#$%&'*+-/=?^_`{|}~@example.org", "!#$%&'*+-/=?^_`{|}~", "example.org"},
      {"\"john doe\"@example.org", "\"john doe\"", "example.org"},
      {"\"a@b\"@example.org", "\"a@b\"", "example.org"},
      {"\"q\\\"x\"@example.org", "\"q\\\"x\"", "example.org"},
      {"user@localhost", "user", "localhost"},
      {"user@x-1.example", "user", "x-1.example"},
      {"user@[192.0.2.1]", "user", "[192.0.2.1]"},
      {"user@[IPv6:2001:db8::1]", "user", "[IPv6:2001:db8::1]"},
      {"user@[ipv6:2001:db8:0:0:0:0:0:1]", "user", "[ipv6:2001:db8:0:0:0:0:0:1]"},
      {"user@[IPv6:::ffff:192.0.2.1]", "user", "[IPv6:::ffff:192.0.2.1]"},
      {"user@[IPv6:::]", "user", "[IPv6:::]"},
      {"j\xc3\xb6rg@b\xc3\xbc\x63her.example", "j\xc3\xb6rg", "b\xc3\xbc\x63her.example"},
      {std::string(64, 'a') + "@example.org", std::string(64, 'a'), "example.org"},
  };
  for (const auto& c : cases) {
    auto mb = parse_mailbox(c.input);
    ASSERT_TRUE(mb.has_value()) << c.input << ": " << mb.error().detail;
    EXPECT_EQ(mb->local, c.local) << c.input;
    EXPECT_EQ(mb->domain, c.domain) << c.input;
    EXPECT_EQ(mb->to_string(), c.local + "@" + c.domain);
  }
}

TEST(ParseMailbox, InvalidTable) {
  const std::string long_label(64, 'a');
  const std::string cases[] = {
      "",
      "<>",
      "<user@example.org",
      "user@example.org>",
      "userexample.org",
      "@example.org",
      "user@",
      "user@@example.org",
      "us er@example.org",
      " user@example.org",
      "user@example.org ",
      "user@exa mple.org",
      std::string("user\0@example.org", 17),
      "user\r\n@example.org",
      "user@example.org\r\nRCPT TO:<evil@example.org>",
      "user\n@example.org",
      "us\ter@example.org",
      "us\x7f"
      "er@example.org",
      ".user@example.org",
      "user.@example.org",
      "us..er@example.org",
      "us(er)@example.org",
      "us,er@example.org",
      "us\\er@example.org",
      "\"\"@example.org",
      "\"unterminated@example.org",
      "\"a\"b@example.org",
      "\"a\\\x01\"@example.org",
      "user@.example.org",
      "user@example.org.",
      "user@exa..mple.org",
      "user@-example.org",
      "user@example-.org",
      "user@exa_mple.org",
      "user@" + long_label + ".org",
      "user@[192.0.2.256]",
      "user@[192.0.2]",
      "user@[192.0.2.1.5]",
      "user@[192.0.2.1",
      "user@[IPv6:2001:db8::1::2]",
      "user@[IPv6:2001:db8:1:2:3:4:5]",
      "user@[IPv6:1:2:3:4:5:6:7::]",
      "user@[IPv6:12345::1]",
      "user@[IPv6:g::1]",
      "user@[x-tag:content]",
      "@a,@b:user@example.org",
      "user@b\xc3\x28.example",   // malformed UTF-8
      "us\xc0\xafr@example.org",  // overlong encoding
      std::string(65, 'a') + "@example.org",
  };
  for (const auto& c : cases) {
    auto mb = parse_mailbox(c);
    ASSERT_FALSE(mb.has_value()) << "accepted: " << c;
    EXPECT_EQ(mb.error().stage, Stage::input);
    EXPECT_EQ(mb.error().permanence, Permanence::permanent);
    EXPECT_EQ(mb.error().reason, Reason::bad_data);
    EXPECT_FALSE(mb.error().detail.empty());
  }
}

TEST(ParseMailbox, DetailsNameTheProblem) {
  EXPECT_NE(parse_mailbox("a\r\nb@c").error().detail.find("carriage return"), std::string::npos);
  EXPECT_NE(parse_mailbox("a b@c").error().detail.find("space"), std::string::npos);
  EXPECT_NE(parse_mailbox("ab").error().detail.find("missing '@'"), std::string::npos);
  EXPECT_NE(parse_mailbox("a\tb@c").error().detail.find("control character"), std::string::npos);
  EXPECT_NE(parse_mailbox("\"a\x01\"@c").error().detail.find("control character"),
            std::string::npos);
}

TEST(ParseMailbox, DomainLengthLimits) {
  // 4 labels of 63 + 3 dots = 255 octets: the maximum domain.
  std::string label(63, 'a');
  std::string d255 = label + "." + label + "." + label + "." + label;
  ASSERT_EQ(d255.size(), 255u);
  EXPECT_TRUE(validate_domain(d255).has_value());
  EXPECT_FALSE(validate_domain(d255 + "a").has_value());
  // Path limit: "<" local "@" domain ">" <= 256.
  EXPECT_FALSE(parse_mailbox("ab@" + d255).has_value());
  std::string d250 = label + "." + label + "." + label + "." + std::string(58, 'a');
  ASSERT_EQ(d250.size(), 250u);
  EXPECT_TRUE(parse_mailbox("abc@" + d250).has_value());  // 3 + 1 + 250 + 2 = 256
  EXPECT_FALSE(parse_mailbox("abcd@" + d250).has_value());
}

TEST(ParseMailbox, AsciiChecks) {
  EXPECT_TRUE(parse_mailbox("a@example.org")->local_is_ascii());
  EXPECT_TRUE(parse_mailbox("a@example.org")->is_ascii());
  EXPECT_FALSE(parse_mailbox("\xc3\xa4@example.org")->local_is_ascii());
  auto idn = parse_mailbox("a@\xc3\xa4.example");
  EXPECT_TRUE(idn->local_is_ascii());
  EXPECT_FALSE(idn->is_ascii());
}

TEST(ValidateDomain, Table) {
  for (const char* ok : {"example.org", "a", "xn--bcher-kva.example", "[127.0.0.1]", "[IPv6:::1]",
                         "[IPv6:1:2:3:4:5:6:7:8]", "[IPv6:1:2:3:4:5:6:1.2.3.4]"}) {
    EXPECT_TRUE(validate_domain(ok).has_value()) << ok;
  }
  for (const char* bad :
       {"", "exa mple", "example.org\r\n", "a..b", "[::1]", "[IPv6:1:2:3:4:5:6:7]",
        "[IPv6:1:2:3:4:5:6:7:8:9]", "[IPv6:1:2:3:4:5:6::1.2.3.4]", "[]"}) {
    EXPECT_FALSE(validate_domain(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace mx::smtp
