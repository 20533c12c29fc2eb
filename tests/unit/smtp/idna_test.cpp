// Tests for IDNA2008 domain conversion (smtp/idna.hpp).
#include "smtp/idna.hpp"

#include <gtest/gtest.h>
#include <idn2.h>

#include <cstdlib>
#include <string>

namespace mx::smtp {
namespace {

std::string ok(std::string_view in) {
  auto r = domain_to_ascii(in);
  EXPECT_TRUE(r.has_value()) << in << ": " << (r ? "" : r.error().detail);
  return r ? *r : std::string("<error>");
}

TEST(DomainToAscii, AsciiIsLowerCased) {
  EXPECT_EQ(ok("example.org"), "example.org");
  EXPECT_EQ(ok("Mail.EXAMPLE.org"), "mail.example.org");
  EXPECT_EQ(ok("x-1.example"), "x-1.example");
  EXPECT_EQ(ok("localhost"), "localhost");
  EXPECT_EQ(ok("123.example"), "123.example");
}

TEST(DomainToAscii, ULabelsBecomeALabels) {
  EXPECT_EQ(ok("bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(ok("BÜCHER.Example"), "xn--bcher-kva.example");
  EXPECT_EQ(ok("münchen.de"), "xn--mnchen-3ya.de");
  EXPECT_EQ(ok("例え.jp"), "xn--r8jz45g.jp");
}

TEST(DomainToAscii, NonTransitionalKeepsSharpS) {
  // IDNA2008 / UTS #46 non-transitional: "ß" is a valid character, not mapped to "ss".
  EXPECT_EQ(ok("straße.de"), "xn--strae-oqa.de");
}

TEST(DomainToAscii, NfcAndCompatibilityMapping) {
  // "u" + COMBINING DIAERESIS normalizes to "ü".
  EXPECT_EQ(ok("bu\xcc\x88"
               "cher.example"),
            "xn--bcher-kva.example");
  EXPECT_EQ(ok("\xef\xac\x81.example"), "fi.example");  // U+FB01 LATIN SMALL LIGATURE FI
}

TEST(DomainToAscii, ValidALabelsPassAndAreLowerCased) {
  EXPECT_EQ(ok("xn--bcher-kva.example"), "xn--bcher-kva.example");
  EXPECT_EQ(ok("XN--BCHER-KVA.example"), "xn--bcher-kva.example");
}

TEST(DomainToAscii, AddressLiteralsPassUnchanged) {
  EXPECT_EQ(ok("[192.0.2.1]"), "[192.0.2.1]");
  EXPECT_EQ(ok("[IPv6:2001:db8::1]"), "[IPv6:2001:db8::1]");
}

TEST(DomainToAscii, RejectsBadInput) {
  const std::string bad[] = {
      "",
      ".",
      "a..b",
      ".example",
      "example.",  // SMTP domains have no trailing dot (RFC 5321 §4.1.2)
      "-a.example",
      "a-.example",
      "ab--c.example",         // hyphens in positions 3 and 4, not an A-label
      "xn--zz.example",        // invalid punycode
      "xn--a.example",         // decodes to nothing
      "under_score.example",   // not LDH
      "space in.example",      // not LDH
      "a@b.example",           // not LDH
      "\xe2\x98\x83.example",  // U+2603 SNOWMAN is DISALLOWED
      "\xff.example",          // not UTF-8
      "\xc3.example",          // truncated UTF-8
      "\xd9\xa1\xd9\xa2.com",  // Arabic-Indic digits alone break the Bidi rule
      std::string("a\0b.example", 11),
      "a\x01"
      "b.example",
      std::string(64, 'a') + ".example",  // label over 63 octets
      std::string(250, 'a').insert(60, ".").insert(120, ".").insert(180, ".") + ".example",
      "[192.0.2.300]",
      "[not a literal]",
  };
  for (const auto& in : bad) {
    auto r = domain_to_ascii(in);
    ASSERT_FALSE(r.has_value()) << "accepted \"" << in << "\" as " << *r;
    EXPECT_EQ(r.error().stage, Stage::input);
    EXPECT_TRUE(r.error().permanent());
    EXPECT_EQ(r.error().reason, Reason::bad_data);
    EXPECT_TRUE(r.error().detail.starts_with("invalid internationalized domain name: "))
        << r.error().detail;
  }
}

TEST(DomainToAscii, LengthLimitIsExact) {
  // 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 octets: the longest allowed.
  std::string max = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') +
                    "." + std::string(61, 'd');
  ASSERT_EQ(max.size(), 253u);
  EXPECT_EQ(ok(max), max);
  EXPECT_EQ(ok(std::string(63, 'a') + ".example"), std::string(63, 'a') + ".example");
  EXPECT_FALSE(domain_to_ascii(max + "d").has_value());
  // A U-label whose A-label would exceed 63 octets.
  std::string long_u;
  for (int i = 0; i < 30; ++i) long_u += "\xc3\xbc";  // 30 x "ü"
  long_u += std::string(30, 'b');
  EXPECT_FALSE(domain_to_ascii(long_u + ".example").has_value());
  EXPECT_FALSE(domain_to_ascii(std::string(5000, 'a')).has_value());
}

TEST(DomainToAscii, ErrorDetailHidesControlCharacters) {
  auto r = domain_to_ascii("a\x1b[31m.example");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().detail.find('\x1b'), std::string::npos) << r.error().detail;
}

TEST(DomainToUnicode, ALabelsBecomeULabels) {
  EXPECT_EQ(domain_to_unicode("xn--bcher-kva.example"), "bücher.example");
  EXPECT_EQ(domain_to_unicode("xn--r8jz45g.jp"), "例え.jp");
  EXPECT_EQ(domain_to_unicode("example.org"), "example.org");
  EXPECT_EQ(domain_to_unicode("bücher.example"), "bücher.example");
}

TEST(DomainToUnicode, UnconvertibleInputIsReturnedUnchanged) {
  EXPECT_EQ(domain_to_unicode(""), "");
  EXPECT_EQ(domain_to_unicode("xn--zz.example"), "xn--zz.example");
  EXPECT_EQ(domain_to_unicode("\xff.example"), "\xff.example");
  const std::string with_nul("a\0b", 3);
  EXPECT_EQ(domain_to_unicode(with_nul), with_nul);
}

TEST(Idna, RoundTrip) {
  for (std::string_view u : {"bücher.example", "straße.de", "例え.jp", "plain.example"}) {
    auto a = domain_to_ascii(u);
    ASSERT_TRUE(a.has_value()) << u;
    EXPECT_EQ(domain_to_unicode(*a), u);
  }
}

// All-ASCII names skip libidn2 (smtp/idna.cpp); libidn2 itself must agree on every one of them.
TEST(DomainToAscii, AsciiFastPathAgreesWithLibidn2) {
  const char* names[] = {"example.org",
                         "Mail.EXAMPLE.org",
                         "A-B.c-D.example",
                         "x_y.example",
                         "a..b",
                         "-a.example",
                         "a-.example",
                         "ab--c.example",
                         "a b.example",
                         "a*.example",
                         "UPPER",
                         "xn--bcher-kva.example",
                         "XN--BCHER-KVA.Example",
                         "xn--zz.example",
                         "a.example.",
                         "0.1.2.3"};
  for (const char* n : names) {
    std::uint8_t* raw = nullptr;
    const int rc = idn2_lookup_u8(reinterpret_cast<const std::uint8_t*>(n), &raw,
                                  IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    std::string expected = rc == IDN2_OK ? reinterpret_cast<const char*>(raw) : "";
    std::free(raw);
    auto ours = domain_to_ascii(n);
    // Where libidn2 accepts the name, our result is exactly its output, or a rejection by the
    // LDH checks that apply to both paths alike.
    if (ours) {
      EXPECT_EQ(*ours, expected) << n;
    }
    if (rc != IDN2_OK) {
      EXPECT_FALSE(ours.has_value()) << n;
    }
  }
}

}  // namespace
}  // namespace mx::smtp
