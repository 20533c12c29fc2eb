// Tests for the SMTP reply parser: framing, code checks, caps and enhanced codes.
#include "smtp/reply.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace mx::smtp {
namespace {

// Feeds everything at once and returns the first reply (asserting there is one).
Reply parse_one(std::string_view bytes) {
  ReplyParser p;
  p.feed(bytes);
  auto r = p.next();
  EXPECT_TRUE(r.has_value()) << (r.has_value() ? "" : r.error().detail);
  if (!r.has_value() || !r->has_value()) {
    ADD_FAILURE() << "no complete reply";
    return {};
  }
  return **r;
}

Error parse_error(std::string_view bytes) {
  ReplyParser p;
  p.feed(bytes);
  auto r = p.next();
  if (r.has_value()) {
    ADD_FAILURE() << "expected a protocol error";
    return {};
  }
  return r.error();
}

TEST(ReplyParser, SingleLine) {
  Reply r = parse_one("250 OK\r\n");
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.lines, std::vector<std::string>{"OK"});
  EXPECT_EQ(r.text(), "OK");
  EXPECT_TRUE(r.positive_completion());
  EXPECT_FALSE(r.positive_intermediate() || r.transient() || r.permanent());
}

TEST(ReplyParser, MultiLine) {
  Reply r = parse_one("250-mx.example.org Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
  EXPECT_EQ(r.code, 250);
  ASSERT_EQ(r.lines.size(), 3u);
  EXPECT_EQ(r.lines[0], "mx.example.org Hello");
  EXPECT_EQ(r.lines[2], "SIZE 1000");
  EXPECT_EQ(r.text(), "mx.example.org Hello\nPIPELINING\nSIZE 1000");
}

TEST(ReplyParser, CodeAloneEndsReply) {
  Reply r = parse_one("354\r\n");
  EXPECT_EQ(r.code, 354);
  EXPECT_TRUE(r.positive_intermediate());
  EXPECT_EQ(r.lines, std::vector<std::string>{""});
  Reply m = parse_one("250-first\r\n250\r\n");
  EXPECT_EQ(m.lines, (std::vector<std::string>{"first", ""}));
}

TEST(ReplyParser, ClassPredicates) {
  EXPECT_TRUE(parse_one("451 later\r\n").transient());
  EXPECT_TRUE(parse_one("554 no\r\n").permanent());
}

TEST(ReplyParser, IncompleteReplyWaits) {
  ReplyParser p;
  p.feed("250-one\r\n250 tw");
  auto r = p.next();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(p.buffered(), 15u);
  p.feed("o\r\n");
  r = p.next();
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->lines.size(), 2u);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(ReplyParser, SplitAtEveryByte) {
  const std::string input =
      "220-mx.example ESMTP\r\n220-second line\r\n220 last\r\n550 5.1.1 no such user\r\n";
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    ReplyParser p;
    std::vector<Reply> got;
    for (std::string_view part :
         {std::string_view(input).substr(0, cut), std::string_view(input).substr(cut)}) {
      p.feed(part);
      for (;;) {
        auto r = p.next();
        ASSERT_TRUE(r.has_value()) << "cut " << cut << ": " << r.error().detail;
        if (!r->has_value()) break;
        got.push_back(**r);
      }
    }
    ASSERT_EQ(got.size(), 2u) << "cut " << cut;
    EXPECT_EQ(got[0].code, 220);
    EXPECT_EQ(got[0].lines.size(), 3u);
    EXPECT_EQ(got[1].code, 550);
    EXPECT_EQ(got[1].enhanced, "5.1.1");
    EXPECT_EQ(p.buffered(), 0u);
  }
}

TEST(ReplyParser, ByteByByte) {
  const std::string input = "250-a\r\n250-b\r\n250 c\r\n";
  ReplyParser p;
  int replies = 0;
  for (char c : input) {
    p.feed(std::string_view(&c, 1));
    auto r = p.next();
    ASSERT_TRUE(r.has_value());
    if (r->has_value()) ++replies;
  }
  EXPECT_EQ(replies, 1);
}

TEST(ReplyParser, InconsistentCodesAreProtocolError) {
  Error e = parse_error("250-a\r\n251 b\r\n");
  EXPECT_EQ(e.stage, Stage::smtp);
  EXPECT_EQ(e.permanence, Permanence::temporary);
  EXPECT_EQ(e.reason, Reason::protocol);
  EXPECT_NE(e.detail.find("250"), std::string::npos);
  EXPECT_NE(e.detail.find("251"), std::string::npos);
}

TEST(ReplyParser, NonNumericLine) {
  EXPECT_EQ(parse_error("hello there\r\n").reason, Reason::protocol);
  EXPECT_EQ(parse_error("25x ok\r\n").reason, Reason::protocol);
  // A bad continuation line is as bad as a bad first line.
  EXPECT_EQ(parse_error("250-ok\r\nPIPELINING\r\n").reason, Reason::protocol);
}

TEST(ReplyParser, GarbageFailsBeforeNewline) {
  ReplyParser p;
  p.feed("HTTP/1.1 400");
  EXPECT_FALSE(p.next().has_value());
}

TEST(ReplyParser, TwoDigitCode) {
  EXPECT_EQ(parse_error("25 ok\r\n").reason, Reason::protocol);
  EXPECT_EQ(parse_error("25\r\n").reason, Reason::protocol);
  EXPECT_EQ(parse_error("\r\n").reason, Reason::protocol);
}

TEST(ReplyParser, CodeOutOfRange) {
  EXPECT_EQ(parse_error("199 hm\r\n").reason, Reason::protocol);
  EXPECT_EQ(parse_error("600 hm\r\n").reason, Reason::protocol);
  EXPECT_EQ(parse_error("099 hm\r\n").reason, Reason::protocol);
}

TEST(ReplyParser, BadSeparator) {
  EXPECT_EQ(parse_error("2500 ok\r\n").reason, Reason::protocol);
  EXPECT_EQ(parse_error("250_ok\r\n").reason, Reason::protocol);
}

TEST(ReplyParser, HugeReplyIsRejectedWithoutBuffering) {
  ReplyParser p;
  std::string line = "250-" + std::string(100, 'x') + "\r\n";
  bool failed = false;
  for (int i = 0; i < 2000 && !failed; ++i) {  // ~200 KiB if nobody stopped it
    p.feed(line);
    auto r = p.next();
    if (!r.has_value()) {
      failed = true;
      EXPECT_NE(r.error().detail.find("64 KiB"), std::string::npos);
    } else {
      EXPECT_FALSE(r->has_value());
    }
  }
  EXPECT_TRUE(failed);
  EXPECT_EQ(p.buffered(), 0u);
  p.feed("250 ok\r\n");  // still failed, still not buffering
  EXPECT_FALSE(p.next().has_value());
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(ReplyParser, HugeLineWithoutNewline) {
  ReplyParser p;
  p.feed("250 ");
  p.feed(std::string(70 * 1024, 'a'));
  auto r = p.next();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().detail.find("line longer"), std::string::npos);
}

TEST(ReplyParser, ReplyCapAppliesToPartialLine) {
  // Neither line is too long, but together they pass 64 KiB before the last newline arrives.
  ReplyParser p;
  p.feed("250-" + std::string(60 * 1024, 'a') + "\r\n");
  p.feed("250 " + std::string(8 * 1024, 'b'));
  auto r = p.next();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().detail.find("reply longer"), std::string::npos);
}

TEST(ReplyParser, LargeButAllowedReply) {
  std::string text(60 * 1024, 'a');
  Reply r = parse_one("250 " + text + "\r\n");
  EXPECT_EQ(r.lines[0].size(), text.size());
}

TEST(ReplyParser, ErrorIsSticky) {
  ReplyParser p;
  p.feed("abc\r\n");
  EXPECT_FALSE(p.next().has_value());
  p.feed("250 ok\r\n");
  EXPECT_FALSE(p.next().has_value());
}

TEST(ReplyParser, GarbageAfterReplyStaysBuffered) {
  ReplyParser p;
  p.feed("220 ready\r\nEVIL");
  auto r = p.next();
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->code, 220);
  EXPECT_EQ(p.buffered(), 4u);
}

TEST(ReplyParser, BareLf) {
  Reply r = parse_one("250-a\n250 b\n");
  EXPECT_EQ(r.lines, (std::vector<std::string>{"a", "b"}));
}

TEST(ReplyParser, ControlCharactersNeutralised) {
  Reply r = parse_one("250 a\x1b[31mb\rc\r\n");
  EXPECT_EQ(r.lines[0], "a?[31mb?c");
}

TEST(ReplyParser, EnhancedCodeOnEveryLine) {
  Reply r = parse_one("550-5.1.1 The email account\r\n550 5.1.1 does not exist\r\n");
  EXPECT_EQ(r.enhanced, "5.1.1");
  EXPECT_EQ(r.lines[0], "5.1.1 The email account");
  EXPECT_EQ(r.text(), "The email account\ndoes not exist");
}

TEST(ReplyParser, EnhancedCodeMissingOnOneLine) {
  Reply r = parse_one("550-5.1.1 first\r\n550 second\r\n");
  EXPECT_EQ(r.enhanced, "");
  EXPECT_EQ(r.text(), "5.1.1 first\nsecond");
}

TEST(ReplyParser, EnhancedCodeSyntax) {
  EXPECT_EQ(parse_one("250 2.0.0\r\n").enhanced, "2.0.0");
  EXPECT_EQ(parse_one("451 4.7.650 later\r\n").enhanced, "4.7.650");
  EXPECT_EQ(parse_one("250 2.0.0 Ok: queued\r\n").text(), "Ok: queued");
  EXPECT_EQ(parse_one("250 3.0.0 bad class\r\n").enhanced, "");
  EXPECT_EQ(parse_one("250 5.0.0 class contradicts code\r\n").enhanced, "");
  EXPECT_EQ(parse_one("250 2.1234.0 too long\r\n").enhanced, "");
  EXPECT_EQ(parse_one("250 2.0.0x\r\n").enhanced, "");
  EXPECT_EQ(parse_one("250 2..0 x\r\n").enhanced, "");
  EXPECT_EQ(parse_one("250 Ok\r\n").enhanced, "");
}

TEST(EnhancedCodePrefix, Parses) {
  EXPECT_EQ(enhanced_code_prefix("5.7.1 denied"), "5.7.1");
  EXPECT_EQ(enhanced_code_prefix("5.7"), "");
  EXPECT_EQ(enhanced_code_prefix("1.2.3 x"), "");
}

// Thousands of pipelined replies in one read must parse in linear time: erasing each reply from
// the front of the buffer made this take tens of seconds.
TEST(ReplyParser, ManyRepliesInOneFeedAreLinear) {
  constexpr std::size_t kReplies = 200'000;
  std::string stream;
  for (std::size_t i = 0; i < kReplies; ++i) stream += "250 2.1.5 Ok\r\n";
  stream += "354 go";  // and an incomplete one
  ReplyParser p;
  auto start = std::chrono::steady_clock::now();
  p.feed(stream);
  std::size_t n = 0;
  for (;;) {
    auto r = p.next();
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    if (!r->has_value()) break;
    ASSERT_EQ((*r)->code, 250);
    ++n;
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(n, kReplies);
  EXPECT_EQ(p.buffered(), 6u);
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  p.feed("\r\n");
  auto last = p.next();
  ASSERT_TRUE(last.has_value() && last->has_value());
  EXPECT_EQ((*last)->code, 354);
  EXPECT_EQ(p.buffered(), 0u);
}

// The 64 KiB cap applies to each reply, not to everything buffered behind it.
TEST(ReplyParser, CapIsPerReplyWhenManyAreBuffered) {
  std::string stream;
  while (stream.size() < 3 * kMaxReplyBytes) stream += "250 ok\r\n";
  ReplyParser p;
  p.feed(stream);
  for (;;) {
    auto r = p.next();
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    if (!r->has_value()) break;
  }
  p.feed(std::string(kMaxReplyBytes + 8, '2'));  // then one oversized line still fails
  EXPECT_FALSE(p.next().has_value());
}

}  // namespace
}  // namespace mx::smtp

namespace mx::smtp {
namespace {

// Found by fuzzing: a code-only line ("250", RFC 5321 §4.2) split between its CR and LF.
TEST(ReplyParser, CodeOnlyLineSplitBetweenCrAndLf) {
  ReplyParser p;
  p.feed("250\r");
  auto first = p.next();
  ASSERT_TRUE(first) << first.error().detail;
  EXPECT_FALSE(first->has_value());
  p.feed("\n");
  auto second = p.next();
  ASSERT_TRUE(second) << second.error().detail;
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->code, 250);
}

}  // namespace
}  // namespace mx::smtp
