// Dialogue tests for CHUNKING (RFC 3030): BDAT with and without PIPELINING, rejections,
// losses after the body, and the phases the driver times out on.
#include <gtest/gtest.h>

#include <string>

#include "dialog.hpp"
#include "smtp/session.hpp"

namespace mx::smtp {
namespace {

using namespace dialog;

constexpr const char* kPipeChunk = "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n";
constexpr const char* kChunkOnly = "250-mx\r\n250 CHUNKING\r\n";

Envelope sized(std::vector<Recipient> rcpts = {"rcpt@example.org"}, std::uint64_t size = 1234) {
  Envelope e = envelope(std::move(rcpts));
  e.size = size;
  return e;
}

TEST(Chunking, PipelinedGroupAndBodyWithoutWaiting) {
  Session s(sized({"a@example.org", "b@example.org"}), options(TlsMode::none));
  // Commands, then the raw body at once: the driver can put both in one write.
  EXPECT_EQ(hello(s, kPipeChunk),
            "MAIL FROM:<sender@example.net>\r\nRCPT TO:<a@example.org>\r\n"
            "RCPT TO:<b@example.org>\r\nBDAT 1234 LAST\r\n|<raw-body>");
  EXPECT_EQ(s.phase(), Phase::data);
  EXPECT_EQ(step(s), "<raw-body>");  // repeats until body_sent()
  s.body_sent();
  // The replies to the whole group may wait for the chunk: data_end, though MAIL is first.
  EXPECT_EQ(s.phase(), Phase::data_end);
  EXPECT_EQ(step(s, "250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n"), "<recv>");
  EXPECT_EQ(s.phase(), Phase::data_end);
  EXPECT_EQ(step(s, "250 2.0.0 queued as X\r\n"), "QUIT\r\n|<done>");
  const Outcome& o = s.outcome();
  EXPECT_TRUE(o.delivered);
  EXPECT_FALSE(o.error);
  ASSERT_TRUE(o.final_reply);
  EXPECT_EQ(o.final_reply->text(), "queued as X");
  for (const auto& rr : o.recipients) {
    EXPECT_TRUE(rr.accepted);
    EXPECT_TRUE(rr.delivered);
    ASSERT_TRUE(rr.data_reply);
    EXPECT_EQ(rr.data_reply->code, 250);
  }
  EXPECT_EQ(o.transactions, 1);
}

TEST(Chunking, PipelinedSendLogsBdat) {
  Session s(sized(), options(TlsMode::none));
  s.feed(kGreeting);
  ASSERT_TRUE(std::holds_alternative<Send>(s.next()));
  s.feed(kPipeChunk);
  Action a = s.next();
  ASSERT_TRUE(std::holds_alternative<Send>(a));
  EXPECT_EQ(std::get<Send>(a).log_lines,
            (std::vector<std::string>{"MAIL FROM:<sender@example.net>",
                                      "RCPT TO:<rcpt@example.org>", "BDAT 1234 LAST"}));
  Action b = s.next();
  ASSERT_TRUE(std::holds_alternative<SendBody>(b));
  EXPECT_FALSE(std::get<SendBody>(b).dot_stuffed);
}

TEST(Chunking, WithoutPipeliningWaitsForEachReply) {
  Session s(sized({"a@example.org", "b@example.org"}), options(TlsMode::none));
  EXPECT_EQ(hello(s, kChunkOnly), "MAIL FROM:<sender@example.net>\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "RCPT TO:<a@example.org>\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "RCPT TO:<b@example.org>\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "BDAT 1234 LAST\r\n|<raw-body>");
  EXPECT_EQ(s.phase(), Phase::data);
  s.body_sent();
  EXPECT_EQ(s.phase(), Phase::data_end);
  EXPECT_EQ(step(s), "<recv>");
  EXPECT_EQ(step(s, "250 2.0.0 ok\r\n"), "QUIT\r\n|<done>");
  EXPECT_TRUE(s.outcome().delivered);
}

TEST(Chunking, DataBodyIsDotStuffed) {
  Session s(sized(), options(TlsMode::none));
  hello(s, "250-mx\r\n250 PIPELINING\r\n");
  s.feed("250 ok\r\n250 ok\r\n354 go\r\n");
  Action a = s.next();
  ASSERT_TRUE(std::holds_alternative<SendBody>(a));
  EXPECT_TRUE(std::get<SendBody>(a).dot_stuffed);
}

TEST(Chunking, DisabledByOption) {
  SessionOptions o = options(TlsMode::none);
  o.use_chunking = false;
  Session s(sized(), o);
  EXPECT_EQ(hello(s, kPipeChunk),
            "MAIL FROM:<sender@example.net>\r\nRCPT TO:<rcpt@example.org>\r\nDATA\r\n|<recv>");
}

TEST(Chunking, UnknownSizeUsesData) {
  Session s(sized({"rcpt@example.org"}, 0), options(TlsMode::none));
  EXPECT_EQ(hello(s, kPipeChunk),
            "MAIL FROM:<sender@example.net>\r\nRCPT TO:<rcpt@example.org>\r\nDATA\r\n|<recv>");
}

TEST(Chunking, AllRecipientsRejectedPipelined) {
  for (const char* bdat_reply : {"554 5.5.1 no valid recipients\r\n", "250 2.0.0 ok?\r\n"}) {
    Session s(sized({"a@example.org", "b@example.org"}), options(TlsMode::none));
    hello(s, kPipeChunk);
    s.body_sent();
    EXPECT_EQ(step(s, "250 ok\r\n550 5.1.1 no a\r\n550 5.1.1 no b\r\n"), "<recv>");
    // Whatever the server says to BDAT, nothing was delivered.
    EXPECT_EQ(step(s, bdat_reply), "QUIT\r\n|<done>") << bdat_reply;
    const Outcome& o = s.outcome();
    EXPECT_FALSE(o.delivered);
    EXPECT_FALSE(o.final_reply);
    EXPECT_FALSE(o.recipients[0].delivered);
    Error e = error_of(s);
    EXPECT_EQ(e.permanence, Permanence::permanent);
    EXPECT_EQ(e.smtp_code, 550);
    EXPECT_EQ(e.command, "RCPT TO:<a@example.org>");
    EXPECT_FALSE(e.maybe_delivered);
  }
}

TEST(Chunking, AllRecipientsRejectedWithoutPipeliningSendsNoBdat) {
  Session s(sized(), options(TlsMode::none));
  hello(s, kChunkOnly);
  step(s, "250 ok\r\n");
  EXPECT_EQ(step(s, "550 5.1.1 no\r\n"), "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(s).smtp_code, 550);
}

TEST(Chunking, BdatRejected) {
  for (auto [reply, perm] : {std::pair{"554 5.7.1 spam\r\n", Permanence::permanent},
                             std::pair{"452 4.3.1 full\r\n", Permanence::temporary}}) {
    Session s(sized(), options(TlsMode::none));
    hello(s, kPipeChunk);
    s.body_sent();
    EXPECT_EQ(step(s, "250 ok\r\n250 ok\r\n"), "<recv>");
    EXPECT_EQ(step(s, reply), "QUIT\r\n|<done>");
    EXPECT_FALSE(s.outcome().delivered);
    EXPECT_FALSE(s.outcome().recipients[0].delivered);
    EXPECT_TRUE(s.outcome().recipients[0].accepted);
    Error e = error_of(s);
    EXPECT_EQ(e.permanence, perm);
    EXPECT_EQ(e.command, "BDAT 1234 LAST");
    EXPECT_EQ(e.detail, "message rejected");
    EXPECT_FALSE(e.maybe_delivered);
    ASSERT_TRUE(s.outcome().final_reply);
  }
}

TEST(Chunking, PipelinedMailRejected) {
  Session s(sized(), options(TlsMode::none));
  hello(s, kPipeChunk);
  s.body_sent();
  EXPECT_EQ(step(s, "550 5.7.1 sender blocked\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.detail, "sender rejected");
  EXPECT_FALSE(e.maybe_delivered);
}

TEST(Chunking, ConnectionLostAfterBdatBodyMayHaveDelivered) {
  Session s(sized(), options(TlsMode::none));
  hello(s, kPipeChunk);
  s.body_sent();
  EXPECT_EQ(step(s, "250 ok\r\n250 ok\r\n"), "<recv>");
  s.connection_lost(temporary_error(Stage::connect, "EOF"));
  EXPECT_EQ(step(s), "<done>");
  Error e = error_of(s);
  EXPECT_TRUE(e.maybe_delivered);
  EXPECT_EQ(e.permanence, Permanence::temporary);
  EXPECT_EQ(e.detail.rfind("connection lost after BDAT: the message may have been delivered", 0),
            0u);
  EXPECT_EQ(e.command, "BDAT 1234 LAST");
  EXPECT_FALSE(s.outcome().delivered);
}

TEST(Chunking, ConnectionLostBeforeAnyReplyAfterBodyMayHaveDelivered) {
  // The server may have accepted MAIL, RCPT and the chunk; only the replies were lost.
  Session s(sized(), options(TlsMode::none));
  hello(s, kPipeChunk);
  s.body_sent();
  s.connection_lost(temporary_error(Stage::connect, "timeout"));
  EXPECT_TRUE(error_of(s).maybe_delivered);
}

TEST(Chunking, ConnectionLostAfterAllRcptsRejectedIsNotMaybeDelivered) {
  Session s(sized(), options(TlsMode::none));
  hello(s, kPipeChunk);
  s.body_sent();
  step(s, "250 ok\r\n550 5.1.1 no\r\n");
  s.connection_lost(temporary_error(Stage::connect, "EOF"));
  EXPECT_FALSE(error_of(s).maybe_delivered);
}

TEST(Chunking, ConnectionLostWhileWritingBodyIsNotMaybeDelivered) {
  Session s(sized(), options(TlsMode::none));
  hello(s, kPipeChunk);
  s.connection_lost(temporary_error(Stage::connect, "EPIPE"));
  EXPECT_FALSE(error_of(s).maybe_delivered);
}

TEST(Chunking, GarbledBdatReplyMayHaveDelivered) {
  Session s(sized(), options(TlsMode::none));
  hello(s, kChunkOnly);
  step(s, "250 ok\r\n");
  EXPECT_EQ(step(s, "250 ok\r\n"), "BDAT 1234 LAST\r\n|<raw-body>");
  s.body_sent();
  EXPECT_EQ(step(s, "garbage\r\n"), "<done>");
  EXPECT_TRUE(error_of(s).maybe_delivered);
}

TEST(Chunking, UnexpectedCodeToBdatMayHaveDelivered) {
  Session s(sized(), options(TlsMode::none));
  hello(s, kPipeChunk);
  s.body_sent();
  EXPECT_EQ(step(s, "250 ok\r\n250 ok\r\n354 what\r\n"), "QUIT\r\n|<done>");
  EXPECT_TRUE(error_of(s).maybe_delivered);
  EXPECT_EQ(error_of(s).reason, Reason::protocol);
}

TEST(Chunking, Server421ToBdatIsNotDelivered) {
  Session s(sized(), options(TlsMode::none));
  hello(s, kPipeChunk);
  s.body_sent();
  EXPECT_EQ(step(s, "250 ok\r\n250 ok\r\n421 4.3.2 bye\r\n"), "<done>");
  EXPECT_FALSE(s.quit_sent());
  EXPECT_FALSE(error_of(s).maybe_delivered);
  EXPECT_EQ(error_of(s).smtp_code, 421);
}

TEST(Chunking, IdleAndPhaseNames) {
  EXPECT_STREQ(phase_name(Phase::idle), "idle");
  EXPECT_EQ(default_timeout(Phase::idle), std::chrono::seconds(0));
}

}  // namespace
}  // namespace mx::smtp
