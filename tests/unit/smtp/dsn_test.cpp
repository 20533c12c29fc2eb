// Tests for RFC 3461 DSN parameter encoding (xtext, ENVID, RET, NOTIFY, ORCPT incl. RFC 6533).
#include "smtp/dsn.hpp"

#include <gtest/gtest.h>

#include <string>

#include "smtp/session.hpp"

namespace mx::smtp {
namespace {

TEST(Xtext, EncodesPlusEqualsSpaceControlsAndHighOctets) {
  EXPECT_EQ(xtext_encode("a@example.org"), "a@example.org");
  EXPECT_EQ(xtext_encode("a+b=c"), "a+2Bb+3Dc");
  EXPECT_EQ(xtext_encode("a b\r\n"), "a+20b+0D+0A");
  EXPECT_EQ(xtext_encode("\x7f\xc3\xa9"), "+7F+C3+A9");
  EXPECT_EQ(xtext_encode("!~"), "!~");
  EXPECT_EQ(xtext_encode(""), "");
}

TEST(Envid, Valid) {
  auto e = encode_envid("QQ314159=x");
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, "QQ314159+3Dx");
  EXPECT_TRUE(encode_envid(std::string(100, 'a')));
}

TEST(Envid, Invalid) {
  for (std::string bad :
       {std::string(), std::string("a b"), std::string("a\r\nb"), std::string("caf\xc3\xa9"),
        std::string(101, 'a'), std::string(34, '+')}) {  // 102 once encoded
    auto e = encode_envid(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().stage, Stage::input);
    EXPECT_EQ(e.error().reason, Reason::bad_data);
    EXPECT_TRUE(e.error().permanent());
  }
}

TEST(Ret, Values) {
  EXPECT_EQ(*encode_ret("full"), "FULL");
  EXPECT_EQ(*encode_ret("Hdrs"), "HDRS");
  EXPECT_FALSE(encode_ret(""));
  EXPECT_FALSE(encode_ret("NONE"));
  EXPECT_FALSE(encode_ret("FULL "));
}

TEST(NotifyValue, NeverAndOrderedList) {
  EXPECT_EQ(notify_value(Notify{}), "NEVER");
  EXPECT_EQ(notify_value(Notify{true, false, false}), "SUCCESS");
  EXPECT_EQ(notify_value(Notify{false, false, true}), "DELAY");
  EXPECT_EQ(notify_value(Notify{true, true, true}), "SUCCESS,FAILURE,DELAY");
  EXPECT_EQ(notify_value(Notify{false, true, true}), "FAILURE,DELAY");
}

TEST(Orcpt, Ascii) {
  EXPECT_EQ(*encode_orcpt("a@example.org"), "rfc822;a@example.org");
  EXPECT_EQ(*encode_orcpt("a+b@example.org"), "rfc822;a+2Bb@example.org");
  EXPECT_EQ(*encode_orcpt("\"a b\"@example.org"), "rfc822;\"a+20b\"@example.org");
}

TEST(Orcpt, Utf8UsesRfc6533Form) {
  // U+00E9 and U+1F600; "+" and "\" are specials there too.
  EXPECT_EQ(*encode_orcpt("j\xc3\xa9+x@example.org"), "utf-8;j\\x{E9}\\x{2B}x@example.org");
  EXPECT_EQ(*encode_orcpt("\xf0\x9f\x98\x80\\@b"), "utf-8;\\x{1F600}\\x{5C}@b");
}

TEST(Orcpt, Invalid) {
  for (std::string bad : {std::string(), std::string("a\r\n@b"), std::string("a\x01@b"),
                          std::string("\xc3@b"), std::string("\xc0\xaf@b"),  // overlong
                          std::string("\xed\xa0\x80@b"),                     // surrogate
                          std::string("\xf4\x90\x80\x80@b"),                 // > U+10FFFF
                          std::string(494, 'a')}) {                          // 501 with "rfc822;"
    auto e = encode_orcpt(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().stage, Stage::input);
    EXPECT_EQ(e.error().reason, Reason::bad_data);
  }
  EXPECT_TRUE(encode_orcpt(std::string(493, 'a')));
}

}  // namespace
}  // namespace mx::smtp
