// Tests for dns/records: RDATA parsing (valid and malformed) and name helpers.
#include "dns/records.hpp"

#include "dns/resolver.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mx::dns {
namespace {

using namespace std::string_literals;

TEST(ReadName, ParsesLowercasesAndAdvances) {
  const std::string wire =
      "\x02Mx\x07"
      "Example\x03net\x00rest"s;
  std::size_t off = 0;
  auto name = read_name(wire, off);
  ASSERT_TRUE(name) << name.error().detail;
  EXPECT_EQ(*name, "mx.example.net");
  EXPECT_EQ(off, 16u);
}

TEST(ReadName, RootIsEmpty) {
  std::size_t off = 0;
  auto name = read_name("\x00"s, off);
  ASSERT_TRUE(name);
  EXPECT_EQ(*name, "");
  EXPECT_EQ(off, 1u);
}

TEST(ReadName, RejectsCompressionPointer) {
  std::size_t off = 0;
  auto name = read_name("\x02mx\xc0\x0c"s, off);
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().stage, Stage::dns);
  EXPECT_TRUE(name.error().temporary());
  EXPECT_EQ(off, 0u);  // not advanced on failure
}

TEST(ReadName, RejectsTruncation) {
  std::size_t off = 0;
  EXPECT_FALSE(read_name("\x05mx"s, off));
  off = 0;
  EXPECT_FALSE(read_name("\x02mx"s, off));  // no terminating root label
  off = 0;
  EXPECT_FALSE(read_name(""s, off));
}

TEST(ReadName, RejectsOverlongName) {
  std::string wire;
  for (int i = 0; i < 5; ++i) wire += "\x3f"s + std::string(63, 'a');  // 5 * 64 > 255
  wire += '\0';
  std::size_t off = 0;
  EXPECT_FALSE(read_name(wire, off));
}

TEST(ReadName, AcceptsMaximalName) {
  // 3 labels of 63 + one of 61: 3*64 + 62 + 1 = 255 octets.
  std::string wire;
  for (int i = 0; i < 3; ++i) wire += "\x3f"s + std::string(63, 'a');
  wire += "\x3d"s + std::string(61, 'b') + '\0';
  ASSERT_EQ(wire.size(), 255u);
  std::size_t off = 0;
  EXPECT_TRUE(read_name(wire, off));
}

TEST(ReadName, HostnameSyntaxRejectsOddCharacters) {
  for (const std::string& bad : {"\x03"
                                 "a.b\x00"s,
                                 "\x03"
                                 "a b\x00"s,
                                 "\x03"
                                 "a\nb\x00"s,
                                 "\x03"
                                 "a\x00"
                                 "b\x00"s,
                                 "\x03\xc3\xa9"
                                 "a\x00"s}) {
    std::size_t off = 0;
    EXPECT_FALSE(read_name(bad, off)) << bad;
  }
  std::size_t off = 0;
  auto ok = read_name("\x04_25-\x00"s, off);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, "_25-");
}

TEST(ReadName, PrintableSyntaxAllowsMoreButNotDotsOrSpace) {
  std::size_t off = 0;
  auto star = read_name("\x01*\x04te+t\x00"s, off, NameSyntax::printable);
  ASSERT_TRUE(star);
  EXPECT_EQ(*star, "*.te+t");
  off = 0;
  EXPECT_FALSE(
      read_name("\x03"
                "a.b\x00"s,
                off, NameSyntax::printable));
  off = 0;
  EXPECT_FALSE(
      read_name("\x03"
                "a b\x00"s,
                off, NameSyntax::printable));
  off = 0;
  EXPECT_FALSE(
      read_name("\x03"
                "a\\b\x00"s,
                off, NameSyntax::printable));
}

TEST(ParseName, RejectsTrailingOctets) {
  EXPECT_TRUE(parse_name("\x02mx\x00"s));
  EXPECT_FALSE(parse_name("\x02mx\x00x"s));
}

TEST(EncodeName, EncodesWithOrWithoutTrailingDot) {
  EXPECT_EQ(*encode_name("mx.example.net"),
            "\x02mx\x07"
            "example\x03net\x00"s);
  EXPECT_EQ(*encode_name("mx.example.net."),
            "\x02mx\x07"
            "example\x03net\x00"s);
  EXPECT_EQ(*encode_name("."), "\x00"s);
  EXPECT_EQ(*encode_name(""), "\x00"s);
}

TEST(EncodeName, RejectsBadNames) {
  EXPECT_FALSE(encode_name("a..b"));
  EXPECT_FALSE(encode_name(".a"));
  EXPECT_FALSE(encode_name(std::string(64, 'a') + ".net"));
  EXPECT_TRUE(encode_name(std::string(63, 'a') + ".net"));
  std::string longname;
  for (int i = 0; i < 4; ++i) longname += std::string(63, 'a') + ".";
  EXPECT_FALSE(encode_name(longname));
  EXPECT_FALSE(encode_name("a b.net"));
  EXPECT_FALSE(encode_name("a\0b.net"s));
  EXPECT_FALSE(encode_name("a+b.net", NameSyntax::hostname));
  EXPECT_TRUE(encode_name("a+b.net", NameSyntax::printable));
}

TEST(ParseMx, ParsesPreferenceAndExchange) {
  auto mx = parse_mx(
      "\x01\x02\x02MX\x07"
      "example\x03NET\x00"s);
  ASSERT_TRUE(mx) << mx.error().detail;
  EXPECT_EQ(mx->preference, 0x0102);
  EXPECT_EQ(mx->exchange, "mx.example.net");
}

TEST(ParseMx, RootExchangeIsEmpty) {
  auto mx = parse_mx("\x00\x00\x00"s);
  ASSERT_TRUE(mx);
  EXPECT_EQ(mx->preference, 0);
  EXPECT_EQ(mx->exchange, "");
}

TEST(ParseMx, RejectsMalformed) {
  EXPECT_FALSE(parse_mx(""s));
  EXPECT_FALSE(parse_mx("\x00\x0a"s));                // no exchange
  EXPECT_FALSE(parse_mx("\x00\x0a\x02mx"s));          // unterminated
  EXPECT_FALSE(parse_mx("\x00\x0a\x02mx\x00junk"s));  // trailing data
  EXPECT_FALSE(parse_mx("\x00\x0a\xc0\x0c"s));        // compression pointer
  EXPECT_FALSE(parse_mx("\x00\x0a\x04m x!\x00"s));    // not a host name
  auto e = parse_mx("\x00"s);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().stage, Stage::dns);
  EXPECT_EQ(e.error().permanence, Permanence::temporary);
}

TEST(ParseA, FormatsDottedQuad) {
  auto a = parse_a("\xc0\x00\x02\x01"s);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, "192.0.2.1");
  EXPECT_FALSE(parse_a("\xc0\x00\x02"s));
  EXPECT_FALSE(parse_a("\xc0\x00\x02\x01\x00"s));
  EXPECT_FALSE(parse_a(""s));
}

TEST(ParseAaaa, FormatsRfc5952) {
  auto a = parse_aaaa("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"s);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, "2001:db8::1");
  EXPECT_FALSE(parse_aaaa("\xc0\x00\x02\x01"s));
  EXPECT_FALSE(parse_aaaa(std::string(17, '\0')));
}

TEST(ParseTlsa, ParsesFields) {
  auto t = parse_tlsa("\x03\x01\x01\xab\xcd"s);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->usage, 3);
  EXPECT_EQ(t->selector, 1);
  EXPECT_EQ(t->mtype, 1);
  EXPECT_EQ(t->data, "\xab\xcd"s);
}

TEST(ParseTlsa, RejectsShortOrEmptyData) {
  EXPECT_FALSE(parse_tlsa("\x03\x01\x01"s));
  EXPECT_FALSE(parse_tlsa("\x03"s));
  EXPECT_FALSE(parse_tlsa(""s));
}

TEST(Names, NormalizeAndCompare) {
  EXPECT_EQ(normalize_name("MX.Example.NET."), "mx.example.net");
  EXPECT_EQ(normalize_name("."), "");
  EXPECT_TRUE(same_name("Example.net.", "example.NET"));
  EXPECT_FALSE(same_name("example.net", "example.org"));
}

TEST(Names, TypeAndRcodeNames) {
  EXPECT_EQ(type_name(rrtype::MX), "MX");
  EXPECT_EQ(type_name(rrtype::AAAA), "AAAA");
  EXPECT_EQ(type_name(99), "TYPE99");
  EXPECT_EQ(rcode_name(rcode::servfail), "SERVFAIL");
  EXPECT_EQ(rcode_name(9), "RCODE9");
}

}  // namespace
}  // namespace mx::dns
