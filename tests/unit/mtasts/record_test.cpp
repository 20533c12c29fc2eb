// Tests for the MTA-STS TXT record parser and record selection (RFC 8461 §3.1).
#include "mtasts/record.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx::mtasts {
namespace {

// One TXT RDATA made of the given character-strings.
std::string txt(const std::vector<std::string>& strings) {
  std::string out;
  for (const auto& s : strings) {
    out += static_cast<char>(s.size());
    out += s;
  }
  return out;
}

TEST(TxtRdata, ConcatenatesStrings) {
  auto t = txt_rdata_text(txt({"v=STSv1; ", "id=abc;"}));
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, "v=STSv1; id=abc;");
}

TEST(TxtRdata, EmptyStringsAndEmptyRdata) {
  EXPECT_EQ(*txt_rdata_text(txt({"", "x", ""})), "x");
  EXPECT_EQ(*txt_rdata_text(""), "");
}

TEST(TxtRdata, RejectsTruncatedString) {
  std::string bad = txt({"abc"});
  bad.pop_back();
  EXPECT_FALSE(txt_rdata_text(bad));
  EXPECT_FALSE(txt_rdata_text(std::string(1, '\x05')));
}

struct RecordCase {
  const char* text;
  const char* id;  // nullptr: must be rejected
};

class RecordTable : public ::testing::TestWithParam<RecordCase> {};

TEST_P(RecordTable, Parses) {
  const auto& c = GetParam();
  auto r = parse_record(c.text);
  if (c.id == nullptr) {
    EXPECT_FALSE(r) << "accepted: " << c.text;
    if (!r) {
      EXPECT_EQ(r.error().stage, Stage::dns);
      EXPECT_NE(r.error().detail.find("MTA-STS TXT record"), std::string::npos);
    }
  } else {
    ASSERT_TRUE(r) << c.text << ": " << r.error().detail;
    EXPECT_EQ(r->id, c.id);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rfc8461, RecordTable,
    ::testing::Values(
        RecordCase{"v=STSv1; id=20160831085700Z;", "20160831085700Z"},  // the RFC example
        RecordCase{"v=STSv1; id=abc", "abc"},                           // no trailing delimiter
        RecordCase{"v=STSv1;id=abc", "abc"},                            // no whitespace
        RecordCase{"v=STSv1 ;\tid=abc ; ", "abc"},  // *WSP ";" *WSP, trailing delim
        RecordCase{"v=STSv1; id=12345678901234567890123456789012",
                   "12345678901234567890123456789012"},
        RecordCase{"v=STSv1; id=abc; ext=val!ue", "abc"},     // extension ignored
        RecordCase{"v=STSv1; foo-1.x_y=1; id=Z9", "Z9"},      // id need not be first
        RecordCase{"v=STSv1; id=first; id=second", "first"},  // first instance counts
        RecordCase{"v=STSv1; id=123456789012345678901234567890123", nullptr},  // 33 chars
        RecordCase{"v=STSv1; id=", nullptr},                                   // empty id
        RecordCase{"v=STSv1; id=ab-c", nullptr},                               // not alphanumeric
        RecordCase{"v=STSv1; id=ab c", nullptr},                               // space inside
        RecordCase{"v=STSv1; ID=abc", nullptr},  // %s"id": case-sensitive
        RecordCase{"v=STSv1;", nullptr},         // no field at all
        RecordCase{"v=STSv1", nullptr}, RecordCase{"v=STSv1; ext=1", nullptr},  // no id
        RecordCase{" v=STSv1; id=abc", nullptr},                                // leading space
        RecordCase{"id=abc; v=STSv1", nullptr},                                 // version not first
        RecordCase{"v=stsv1; id=abc", nullptr},                                 // %s"v=STSv1"
        RecordCase{"v=STSv1 id=abc", nullptr},                                  // no ';'
        RecordCase{"v=STSv1; id=abc ", nullptr},          // trailing WSP without ';'
        RecordCase{"v=STSv1; id=abc;; ", nullptr},        // empty field
        RecordCase{"v=STSv1; id=abc; ext", nullptr},      // field without '='
        RecordCase{"v=STSv1; id=abc; ext=", nullptr},     // empty extension value
        RecordCase{"v=STSv1; id=abc; ext=a=b", nullptr},  // '=' in a value
        RecordCase{"v=STSv1; id=abc; _ext=1", nullptr},   // name must start alnum
        RecordCase{"v=STSv1; id=abc; a123456789012345678901234567890123=1", nullptr},  // 33
        RecordCase{"v=STSv1; id=abc; ext=\x01", nullptr},      // control character
        RecordCase{"v=STSv1; id=abc; ext=\xc3\xa9", nullptr},  // non-ASCII
        RecordCase{"v=STSv10; id=abc", nullptr}));

TEST(RecordExtensions, KeptInOrder) {
  auto r = parse_record("v=STSv1; a=1; id=x; b=2");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->extensions.size(), 2u);
  EXPECT_EQ(r->extensions[0].first, "a");
  EXPECT_EQ(r->extensions[1].second, "2");
}

TEST(LooksLikeRecord, VersionMustEndThere) {
  EXPECT_TRUE(looks_like_sts_record("v=STSv1"));
  EXPECT_TRUE(looks_like_sts_record("v=STSv1;"));
  EXPECT_TRUE(looks_like_sts_record("v=STSv1 ;"));
  EXPECT_FALSE(looks_like_sts_record("v=STSv10;"));
  EXPECT_FALSE(looks_like_sts_record("v=spf1 -all"));
  EXPECT_FALSE(looks_like_sts_record(""));
}

TEST(SelectRecord, OneAmongOtherTxtRecords) {
  const std::vector<std::string> rrs = {txt({"v=spf1 -all"}), txt({"v=STSv1; ", "id=abc"}),
                                        txt({"hello"})};
  auto r = select_record(rrs);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->id, "abc");
}

TEST(SelectRecord, NoneIsNoRecord) {
  const std::vector<std::string> rrs = {txt({"v=spf1 -all"})};
  auto r = select_record(rrs);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("no \"v=STSv1\" record"), std::string::npos);
  EXPECT_FALSE(select_record(std::vector<std::string>{}));
}

TEST(SelectRecord, TwoIsNoRecordEvenIfIdentical) {
  const std::vector<std::string> rrs = {txt({"v=STSv1; id=abc"}), txt({"v=STSv1; id=abc"})};
  auto r = select_record(rrs);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("2 \"v=STSv1\" records"), std::string::npos);
}

TEST(SelectRecord, TwoWhereOneIsInvalidIsStillTwo) {
  const std::vector<std::string> rrs = {txt({"v=STSv1; id=abc"}), txt({"v=STSv1; bogus"})};
  EXPECT_FALSE(select_record(rrs));
}

TEST(SelectRecord, TheOneMustBeValid) {
  const std::vector<std::string> rrs = {txt({"v=STSv1; id=a-b"}), txt({"other"})};
  EXPECT_FALSE(select_record(rrs));
}

TEST(SelectRecord, MalformedRdataFails) {
  const std::vector<std::string> rrs = {std::string("\x09v=STSv1"), txt({"v=STSv1; id=a"})};
  EXPECT_FALSE(select_record(rrs));
}

}  // namespace
}  // namespace mx::mtasts
