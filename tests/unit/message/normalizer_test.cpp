// Unit tests for mx::message::Normalizer: line-end normalization across arbitrary chunk
// boundaries and the statistics it gathers.
#include "message/normalizer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx::message {
namespace {

using namespace std::string_literals;

std::string normalize(std::string_view in) {
  Normalizer n;
  std::string out;
  n.feed(in, out);
  n.finish(out);
  return out;
}

// Feeds `in` cut at the given ascending positions.
std::string normalize_split(std::string_view in, const std::vector<std::size_t>& cuts) {
  Normalizer n;
  std::string out;
  std::size_t pos = 0;
  for (std::size_t cut : cuts) {
    n.feed(in.substr(pos, cut - pos), out);
    pos = cut;
  }
  n.feed(in.substr(pos), out);
  n.finish(out);
  return out;
}

struct Case {
  const char* name;
  std::string in;
  std::string want;
};

class NormalizerCases : public ::testing::TestWithParam<Case> {};

TEST_P(NormalizerCases, WholeInput) {
  EXPECT_EQ(normalize(GetParam().in), GetParam().want);
}

TEST_P(NormalizerCases, ByteByByte) {
  const std::string& in = GetParam().in;
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < in.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(normalize_split(in, cuts), GetParam().want);
}

TEST_P(NormalizerCases, EveryTwoWaySplit) {
  const std::string& in = GetParam().in;
  for (std::size_t i = 0; i <= in.size(); ++i) {
    EXPECT_EQ(normalize_split(in, {i}), GetParam().want) << "split at " << i;
  }
}

TEST_P(NormalizerCases, EveryThreeWaySplitWithEmptyChunks) {
  const std::string& in = GetParam().in;
  for (std::size_t i = 0; i <= in.size(); ++i) {
    for (std::size_t j = i; j <= in.size(); ++j) {
      EXPECT_EQ(normalize_split(in, {i, j}), GetParam().want) << "split at " << i << "," << j;
    }
  }
}

TEST_P(NormalizerCases, StatsSizeMatchesOutput) {
  Normalizer n;
  std::string out;
  n.feed(GetParam().in, out);
  n.finish(out);
  EXPECT_EQ(n.stats().size, out.size());
}

INSTANTIATE_TEST_SUITE_P(
    Lines, NormalizerCases,
    ::testing::Values(
        Case{"Empty", "", ""}, Case{"Crlf", "a\r\nb\r\n", "a\r\nb\r\n"},
        Case{"Lf", "a\nb\n", "a\r\nb\r\n"}, Case{"BareCr", "a\rb\r", "a\r\nb\r\n"},
        Case{"Mixed", "a\nb\r\nc\rd\n\re", "a\r\nb\r\nc\r\nd\r\n\r\ne\r\n"},
        Case{"CrCrLf", "a\r\r\nb", "a\r\n\r\nb\r\n"}, Case{"LfCr", "a\n\rb", "a\r\n\r\nb\r\n"},
        Case{"CrLfLf", "a\r\n\nb", "a\r\n\r\nb\r\n"},
        Case{"OnlyLineEnds", "\n\r\r\n\r", "\r\n\r\n\r\n\r\n"}, Case{"LoneCr", "\r", "\r\n"},
        Case{"LoneLf", "\n", "\r\n"},
        Case{"NoTrailingNewline", "Subject: x\n\nbody", "Subject: x\r\n\r\nbody\r\n"},
        Case{"NulAndEightBit", "a\0b\n\xff\xc3\xa9\r\0"s, "a\0b\r\n\xff\xc3\xa9\r\n\0\r\n"s},
        Case{"Dots", ".\n..\n.x", ".\r\n..\r\n.x\r\n"},
        Case{"SmugglingAttempt", "x\n.\ny\r.\rz\r\n.\r\n", "x\r\n.\r\ny\r\n.\r\nz\r\n.\r\n"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Normalizer, CrAtChunkEndThenLfIsOneLineEnd) {
  Normalizer n;
  std::string out;
  n.feed("abc\r", out);
  EXPECT_EQ(out, "abc");  // the CR is held back until its successor is known
  n.feed("\ndef", out);
  n.finish(out);
  EXPECT_EQ(out, "abc\r\ndef\r\n");
  EXPECT_EQ(n.stats().lines, 2u);
}

TEST(Normalizer, CrAtChunkEndThenOtherIsBareCr) {
  Normalizer n;
  std::string out;
  n.feed("abc\r", out);
  n.feed("def", out);
  n.finish(out);
  EXPECT_EQ(out, "abc\r\ndef\r\n");
}

TEST(Normalizer, CrAtChunkEndThenCrLf) {
  Normalizer n;
  std::string out;
  n.feed("a\r", out);
  n.feed("\r\n", out);
  n.finish(out);
  EXPECT_EQ(out, "a\r\n\r\n");
}

TEST(Normalizer, EmptyChunkKeepsPendingCr) {
  Normalizer n;
  std::string out;
  n.feed("a\r", out);
  n.feed("", out);
  n.feed("\n", out);
  n.finish(out);
  EXPECT_EQ(out, "a\r\n");
}

TEST(Normalizer, FinishFlushesPendingCr) {
  Normalizer n;
  std::string out;
  n.feed("a\r", out);
  n.finish(out);
  EXPECT_EQ(out, "a\r\n");
}

TEST(Normalizer, FinishTwiceAddsNothing) {
  Normalizer n;
  std::string out;
  n.feed("a", out);
  n.finish(out);
  n.finish(out);
  EXPECT_EQ(out, "a\r\n");
}

TEST(Normalizer, EmptyMessageStaysEmpty) {
  Normalizer n;
  std::string out;
  n.feed("", out);
  n.finish(out);
  EXPECT_EQ(out, "");
  EXPECT_EQ(n.stats().size, 0u);
  EXPECT_EQ(n.stats().lines, 0u);
}

TEST(Normalizer, AppendsToExistingOutput) {
  Normalizer n;
  std::string out = "keep";
  n.feed("x\n", out);
  EXPECT_EQ(out, "keepx\r\n");
  EXPECT_EQ(n.stats().size, 3u);
}

TEST(Normalizer, NoBareCrOrLfEverInOutput) {
  // Every CR in the output is followed by LF and every LF preceded by CR.
  std::string in;
  for (int i = 0; i < 2000; ++i) in.push_back("ab\r\n."[(i * 7 + i / 3) % 5]);
  const std::string out = normalize(in);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\r') {
      ASSERT_TRUE(i + 1 < out.size() && out[i + 1] == '\n') << i;
    }
    if (out[i] == '\n') {
      ASSERT_TRUE(i > 0 && out[i - 1] == '\r') << i;
    }
  }
}

TEST(NormalizerStats, LongestLineAndCounts) {
  Normalizer n;
  std::string out;
  n.feed("abc\r\n12345\nxy", out);
  n.finish(out);
  const MessageStats& s = n.stats();
  EXPECT_EQ(s.lines, 3u);
  EXPECT_EQ(s.longest_line, 5u);
  EXPECT_EQ(s.long_lines, 0u);
  EXPECT_EQ(s.first_long_line, 0u);
  EXPECT_FALSE(s.eight_bit);
  EXPECT_FALSE(s.has_nul);
  EXPECT_EQ(s.size, out.size());
}

TEST(NormalizerStats, LineOf998IsNotLong999Is) {
  {
    Normalizer n;
    std::string out;
    n.feed(std::string(998, 'x') + "\r\n", out);
    n.finish(out);
    EXPECT_EQ(n.stats().longest_line, 998u);
    EXPECT_EQ(n.stats().long_lines, 0u);
    EXPECT_EQ(n.stats().first_long_line, 0u);
  }
  {
    Normalizer n;
    std::string out;
    n.feed(std::string(999, 'x') + "\r\n", out);
    n.finish(out);
    EXPECT_EQ(n.stats().longest_line, 999u);
    EXPECT_EQ(n.stats().long_lines, 1u);
    EXPECT_EQ(n.stats().first_long_line, 1u);
  }
}

TEST(NormalizerStats, FirstLongLineNumberAndCountAcrossChunks) {
  const std::string in = "a\n" + std::string(1000, 'x') + "\nb\n" + std::string(2000, 'y') + "\r" +
                         std::string(5000, 'z');  // last line unterminated
  std::string out;
  Normalizer n;
  for (std::size_t i = 0; i < in.size(); i += 7) n.feed(std::string_view(in).substr(i, 7), out);
  n.finish(out);
  const MessageStats& s = n.stats();
  EXPECT_EQ(s.lines, 5u);
  EXPECT_EQ(s.long_lines, 3u);
  EXPECT_EQ(s.first_long_line, 2u);
  EXPECT_EQ(s.longest_line, 5000u);
  EXPECT_EQ(s.size, out.size());
}

TEST(NormalizerStats, CrLfNotCountedInLineLength) {
  Normalizer n;
  std::string out;
  n.feed(std::string(998, 'x') + "\r", out);
  n.feed("\n", out);
  n.finish(out);
  EXPECT_EQ(n.stats().longest_line, 998u);
  EXPECT_EQ(n.stats().long_lines, 0u);
}

TEST(NormalizerStats, EightBitDetected) {
  Normalizer n;
  std::string out;
  n.feed("abc\n", out);
  EXPECT_FALSE(n.stats().eight_bit);
  n.feed("\x80", out);
  EXPECT_TRUE(n.stats().eight_bit);
  EXPECT_FALSE(n.stats().has_nul);
}

TEST(NormalizerStats, NulDetectedAndKept) {
  Normalizer n;
  std::string out;
  n.feed("a\0b"s, out);
  n.finish(out);
  EXPECT_TRUE(n.stats().has_nul);
  EXPECT_FALSE(n.stats().eight_bit);
  EXPECT_EQ(out, "a\0b\r\n"s);
  EXPECT_EQ(n.stats().longest_line, 3u);
}

TEST(NormalizerStats, ByteValue0x7FIsNotEightBit) {
  Normalizer n;
  std::string out;
  n.feed("\x7f\x01", out);
  EXPECT_FALSE(n.stats().eight_bit);
  EXPECT_FALSE(n.stats().has_nul);
}

TEST(Normalizer, TenThousandByteLineIsNotSplit) {
  const std::string line(10000, 'q');
  const std::string out = normalize(line + "\n");
  EXPECT_EQ(out, line + "\r\n");
}

}  // namespace
}  // namespace mx::message
