// Unit tests for mx::message::DotStuffer: RFC 5321 §4.5.2 transparency across chunk boundaries.
#include "message/dot_stuffer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx::message {
namespace {

using namespace std::string_literals;

std::string stuff_split(std::string_view in, const std::vector<std::size_t>& cuts) {
  DotStuffer d;
  std::string out;
  std::size_t pos = 0;
  for (std::size_t cut : cuts) {
    d.feed(in.substr(pos, cut - pos), out);
    pos = cut;
  }
  d.feed(in.substr(pos), out);
  d.finish(out);
  return out;
}

std::string stuff(std::string_view in) {
  return stuff_split(in, {});
}

struct Case {
  const char* name;
  std::string in;
  std::string want;
};

class DotStufferCases : public ::testing::TestWithParam<Case> {};

TEST_P(DotStufferCases, WholeInput) {
  EXPECT_EQ(stuff(GetParam().in), GetParam().want);
}

TEST_P(DotStufferCases, ByteByByte) {
  const std::string& in = GetParam().in;
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < in.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(stuff_split(in, cuts), GetParam().want);
}

TEST_P(DotStufferCases, EveryTwoWaySplit) {
  const std::string& in = GetParam().in;
  for (std::size_t i = 0; i <= in.size(); ++i) {
    EXPECT_EQ(stuff_split(in, {i}), GetParam().want) << "split at " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Lines, DotStufferCases,
    ::testing::Values(Case{"Empty", "", ".\r\n"}, Case{"Plain", "a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
                      Case{"LeadingDot", ".a\r\n", "..a\r\n.\r\n"},
                      Case{"LoneDotLineIsStuffed", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"},
                      Case{"DoubleDot", "..\r\n", "...\r\n.\r\n"},
                      Case{"DotsNotAtLineStart", "a.b\r\nx..\r\n", "a.b\r\nx..\r\n.\r\n"},
                      Case{"EveryLineDotted", ".\r\n.\r\n.x\r\n", "..\r\n..\r\n..x\r\n.\r\n"},
                      Case{"EmptyLinesAndDot", "\r\n\r\n.\r\n", "\r\n\r\n..\r\n.\r\n"},
                      Case{"EightBitAndNul", ".\xff\0\r\n\0.\r\n"s, "..\xff\0\r\n\0.\r\n.\r\n"s},
                      Case{"MissingFinalCrlfGetsOne", "a\r\n.b", "a\r\n..b\r\n.\r\n"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(DotStuffer, DotAfterChunkEndingInCrLf) {
  DotStuffer d;
  std::string out;
  d.feed("a\r\n", out);
  d.feed(".b\r\n", out);
  d.finish(out);
  EXPECT_EQ(out, "a\r\n..b\r\n.\r\n");
}

TEST(DotStuffer, DotAfterCrLfSplitBetweenChunks) {
  DotStuffer d;
  std::string out;
  d.feed("a\r", out);
  d.feed("\n", out);
  d.feed(".", out);
  d.feed("\r\n", out);
  d.finish(out);
  EXPECT_EQ(out, "a\r\n..\r\n.\r\n");
}

TEST(DotStuffer, DotMidLineAtChunkStartIsNotStuffed) {
  DotStuffer d;
  std::string out;
  d.feed("a", out);
  d.feed(".b\r\n", out);
  d.finish(out);
  EXPECT_EQ(out, "a.b\r\n.\r\n");
}

TEST(DotStuffer, EmptyChunksChangeNothing) {
  DotStuffer d;
  std::string out;
  d.feed("", out);
  d.feed(".", out);
  d.feed("", out);
  d.feed(".\r\n", out);
  d.finish(out);
  EXPECT_EQ(out, "...\r\n.\r\n");
}

TEST(DotStuffer, TenThousandByteLineUnaltered) {
  const std::string line(10000, 'z');
  EXPECT_EQ(stuff(line + "\r\n"), line + "\r\n.\r\n");
  const std::string dotted = "." + line;
  EXPECT_EQ(stuff(dotted + "\r\n"), "." + dotted + "\r\n.\r\n");
}

}  // namespace
}  // namespace mx::message
