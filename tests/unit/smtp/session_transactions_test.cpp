// Dialogue tests for several transactions on one connection: RFC 9422 RCPTMAX/MAILMAX, 452 to
// RCPT (RFC 5321 §4.5.3.1.10), RSET after a failed transaction, and keep_open reuse with Idle.
#include <gtest/gtest.h>

#include <string>

#include "dialog.hpp"
#include "smtp/session.hpp"

namespace mx::smtp {
namespace {

using namespace dialog;

std::vector<Recipient> five() {
  return {"a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org"};
}

std::string group(std::initializer_list<const char*> rcpts, const char* tail = "DATA\r\n") {
  std::string out = "MAIL FROM:<sender@example.net>\r\n";
  for (const char* r : rcpts) out += std::string("RCPT TO:<") + r + ">\r\n";
  return out + tail;
}

// Answers a pipelined DATA group whose RCPTs are all accepted, sends the body, and returns what
// follows the reply `dot` to the final dot.
std::string complete(Session& s, int rcpts, std::string_view dot = "250 2.0.0 ok\r\n") {
  std::string replies = "250 ok\r\n";
  for (int i = 0; i < rcpts; ++i) replies += "250 ok\r\n";
  EXPECT_EQ(step(s, replies + "354 go\r\n"), "<body>");
  s.body_sent();
  return step(s, dot);
}

TEST(Limits, RcptmaxSplitsFiveRecipientsIntoThreeTransactions) {
  Session s(envelope(five()), options(TlsMode::none));
  EXPECT_EQ(hello(s, "250-mx\r\n250-PIPELINING\r\n250 LIMITS RCPTMAX=2\r\n"),
            group({"a@example.org", "b@example.org"}) + "|<recv>");
  // A completed transaction needs no RSET before the next MAIL.
  EXPECT_EQ(complete(s, 2, "250 2.0.0 queued as A\r\n"),
            group({"c@example.org", "d@example.org"}) + "|<recv>");
  EXPECT_EQ(complete(s, 2, "250 2.0.0 queued as B\r\n"), group({"e@example.org"}) + "|<recv>");
  EXPECT_EQ(complete(s, 1, "250 2.0.0 queued as C\r\n"), "QUIT\r\n|<done>");
  const Outcome& o = s.outcome();
  EXPECT_TRUE(o.delivered);
  EXPECT_FALSE(o.error);
  EXPECT_EQ(o.transactions, 3);
  ASSERT_EQ(o.recipients.size(), 5u);
  const char* ids[] = {"queued as A", "queued as A", "queued as B", "queued as B", "queued as C"};
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(o.recipients[i].delivered) << i;
    ASSERT_TRUE(o.recipients[i].data_reply);
    EXPECT_EQ(o.recipients[i].data_reply->text(), ids[i]);
  }
}

TEST(Limits, RcptmaxWithoutPipelining) {
  Session s(envelope({"a@example.org", "b@example.org"}), options(TlsMode::none));
  EXPECT_EQ(hello(s, "250-mx\r\n250 LIMITS RCPTMAX=1\r\n"),
            "MAIL FROM:<sender@example.net>\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "RCPT TO:<a@example.org>\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "DATA\r\n|<recv>");
  EXPECT_EQ(step(s, "354 go\r\n"), "<body>");
  s.body_sent();
  EXPECT_EQ(step(s, "250 ok\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "RCPT TO:<b@example.org>\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "DATA\r\n|<recv>");
  EXPECT_EQ(step(s, "354 go\r\n"), "<body>");
  s.body_sent();
  EXPECT_EQ(step(s, "250 ok\r\n"), "QUIT\r\n|<done>");
  EXPECT_TRUE(s.outcome().recipients[1].delivered);
}

TEST(Limits, TooManyRecipientsPipelinedGoesToASecondTransaction) {
  Session s(envelope({"a@example.org", "b@example.org", "c@example.org"}), options(TlsMode::none));
  hello(s, "250-mx\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING\r\n");
  EXPECT_EQ(step(s,
                 "250 ok\r\n250 2.1.5 ok\r\n452 4.5.3 too many recipients\r\n"
                 "452 4.5.3 too many recipients\r\n354 go\r\n"),
            "<body>");
  s.body_sent();
  EXPECT_EQ(step(s, "250 2.0.0 first\r\n"), group({"b@example.org", "c@example.org"}) + "|<recv>");
  // Meanwhile the deferred ones carry their 452, not a failure.
  EXPECT_FALSE(s.outcome().recipients[1].accepted);
  ASSERT_TRUE(s.outcome().recipients[1].reply);
  EXPECT_EQ(s.outcome().recipients[1].reply->code, 452);
  EXPECT_FALSE(s.outcome().error);
  EXPECT_EQ(complete(s, 2, "250 2.0.0 second\r\n"), "QUIT\r\n|<done>");
  const Outcome& o = s.outcome();
  EXPECT_FALSE(o.error);
  EXPECT_EQ(o.transactions, 2);
  for (const auto& rr : o.recipients) EXPECT_TRUE(rr.delivered) << rr.recipient;
  ASSERT_TRUE(o.recipients[0].data_reply);
  EXPECT_EQ(o.recipients[0].data_reply->text(), "first");
  ASSERT_TRUE(o.recipients[2].data_reply);
  EXPECT_EQ(o.recipients[2].data_reply->text(), "second");
  ASSERT_TRUE(o.recipients[2].reply);
  EXPECT_EQ(o.recipients[2].reply->code, 250);
}

TEST(Limits, TooManyRecipientsWithoutPipeliningStopsRcpts) {
  Session s(envelope({"a@example.org", "b@example.org", "c@example.org"}), options(TlsMode::none));
  hello(s, "250 mx\r\n");
  step(s, "250 ok\r\n");
  EXPECT_EQ(step(s, "250 ok\r\n"), "RCPT TO:<b@example.org>\r\n|<recv>");
  // 452 after an acceptance: c would be refused too, so DATA at once.
  EXPECT_EQ(step(s, "452 too many\r\n"), "DATA\r\n|<recv>");
  EXPECT_EQ(step(s, "354 go\r\n"), "<body>");
  s.body_sent();
  EXPECT_EQ(step(s, "250 ok\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "RCPT TO:<b@example.org>\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "RCPT TO:<c@example.org>\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "DATA\r\n|<recv>");
  EXPECT_EQ(step(s, "354 go\r\n"), "<body>");
  s.body_sent();
  EXPECT_EQ(step(s, "250 ok\r\n"), "QUIT\r\n|<done>");
  for (const auto& rr : s.outcome().recipients) EXPECT_TRUE(rr.delivered) << rr.recipient;
}

TEST(Limits, EnhancedTooManyRecipientsDefers) {
  Session s(envelope({"a@example.org", "b@example.org"}), options(TlsMode::none));
  hello(s, "250-mx\r\n250 PIPELINING\r\n");
  step(s, "250 ok\r\n250 ok\r\n451 4.5.3 too many recipients\r\n354 go\r\n");
  s.body_sent();
  EXPECT_EQ(step(s, "250 ok\r\n"), group({"b@example.org"}) + "|<recv>");
}

TEST(Limits, First452IsAnOrdinaryTemporaryRejection) {
  Session s(envelope({"a@example.org"}), options(TlsMode::none));
  hello(s, "250-mx\r\n250 PIPELINING\r\n");
  EXPECT_EQ(step(s, "250 ok\r\n452 4.3.1 insufficient storage\r\n503 no rcpts\r\n"),
            "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.permanence, Permanence::temporary);
  EXPECT_EQ(e.smtp_code, 452);
  EXPECT_EQ(s.outcome().transactions, 1);
}

TEST(Limits, MailmaxOneLeavesTheRestUndeliveredTemporarily) {
  Session s(envelope(five()), options(TlsMode::none));
  EXPECT_EQ(hello(s, "250-mx\r\n250-PIPELINING\r\n250 LIMITS RCPTMAX=2 MAILMAX=1\r\n"),
            group({"a@example.org", "b@example.org"}) + "|<recv>");
  EXPECT_EQ(complete(s, 2), "QUIT\r\n|<done>");
  const Outcome& o = s.outcome();
  EXPECT_TRUE(o.delivered);
  EXPECT_EQ(o.transactions, 1);
  EXPECT_TRUE(o.recipients[0].delivered);
  EXPECT_TRUE(o.recipients[1].delivered);
  for (std::size_t i = 2; i < 5; ++i) {
    EXPECT_FALSE(o.recipients[i].accepted);
    EXPECT_FALSE(o.recipients[i].delivered);
    EXPECT_FALSE(o.recipients[i].reply);  // never tried
  }
  Error e = error_of(s);
  EXPECT_EQ(e.permanence, Permanence::temporary);
  EXPECT_EQ(e.stage, Stage::smtp);
  EXPECT_NE(e.detail.find("3 recipient(s) not attempted"), std::string::npos) << e.detail;
}

TEST(Limits, MailmaxKeepsThe452OfADeferredRecipient) {
  Session s(envelope({"a@example.org", "b@example.org"}), options(TlsMode::none));
  hello(s, "250-mx\r\n250-PIPELINING\r\n250 LIMITS MAILMAX=1\r\n");
  step(s, "250 ok\r\n250 ok\r\n452 4.5.3 too many\r\n354 go\r\n");
  s.body_sent();
  EXPECT_EQ(step(s, "250 ok\r\n"), "QUIT\r\n|<done>");
  const RecipientResult& b = s.outcome().recipients[1];
  EXPECT_FALSE(b.delivered);
  ASSERT_TRUE(b.reply);
  EXPECT_EQ(b.reply->code, 452);
  EXPECT_EQ(error_of(s).permanence, Permanence::temporary);
}

TEST(Limits, AllRejectedTransactionIsFollowedByRsetAndTheNext) {
  Session s(envelope({"a@example.org", "b@example.org"}), options(TlsMode::none));
  hello(s, "250-mx\r\n250-PIPELINING\r\n250 LIMITS RCPTMAX=1\r\n");
  // RFC 2920: RSET may open the next group.
  EXPECT_EQ(step(s, "250 ok\r\n550 5.1.1 no a\r\n554 5.5.1 no valid recipients\r\n"),
            "RSET\r\n" + group({"b@example.org"}) + "|<recv>");
  EXPECT_EQ(s.phase(), Phase::mail);
  EXPECT_EQ(step(s, "250 reset\r\n"), "<recv>");
  EXPECT_EQ(complete(s, 1), "QUIT\r\n|<done>");
  const Outcome& o = s.outcome();
  EXPECT_TRUE(o.delivered);
  EXPECT_FALSE(o.error);  // a's rejection is in its own reply
  EXPECT_FALSE(o.recipients[0].delivered);
  ASSERT_TRUE(o.recipients[0].reply);
  EXPECT_EQ(o.recipients[0].reply->code, 550);
  EXPECT_TRUE(o.recipients[1].delivered);
}

TEST(Limits, RsetWithoutPipeliningWaitsForItsReply) {
  Session s(envelope({"a@example.org", "b@example.org"}), options(TlsMode::none));
  hello(s, "250-mx\r\n250 LIMITS RCPTMAX=1\r\n");
  step(s, "250 ok\r\n");
  EXPECT_EQ(step(s, "550 5.1.1 no\r\n"), "RSET\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
}

TEST(Limits, RsetRefusedEndsTheSession) {
  Session s(envelope({"a@example.org", "b@example.org"}), options(TlsMode::none));
  hello(s, "250-mx\r\n250 LIMITS RCPTMAX=1\r\n");
  step(s, "250 ok\r\n");
  step(s, "550 5.1.1 no\r\n");
  EXPECT_EQ(step(s, "502 no RSET\r\n"), "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(s).command, "RSET");
  EXPECT_EQ(error_of(s).permanence, Permanence::temporary);
  EXPECT_FALSE(s.outcome().recipients[1].reply);
}

TEST(Limits, EveryTransactionRejectedReportsAllRejected) {
  Session s(envelope({"a@example.org", "b@example.org"}), options(TlsMode::none));
  hello(s, "250-mx\r\n250 LIMITS RCPTMAX=1\r\n");
  step(s, "250 ok\r\n");
  step(s, "550 5.1.1 no\r\n");
  step(s, "250 ok\r\n");
  step(s, "250 ok\r\n");
  EXPECT_EQ(step(s, "550 5.1.1 no\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.detail, "all recipients were rejected");
  EXPECT_EQ(e.permanence, Permanence::permanent);
  EXPECT_EQ(s.outcome().transactions, 2);
}

TEST(Limits, LaterTransactionFailingKeepsEarlierDeliveries) {
  Session s(envelope({"a@example.org", "b@example.org"}), options(TlsMode::none));
  hello(s, "250-mx\r\n250-PIPELINING\r\n250 LIMITS RCPTMAX=1\r\n");
  complete(s, 1);
  EXPECT_EQ(complete(s, 1, "451 4.3.0 try later\r\n"), "QUIT\r\n|<done>");
  const Outcome& o = s.outcome();
  EXPECT_TRUE(o.delivered);
  EXPECT_TRUE(o.recipients[0].delivered);
  EXPECT_TRUE(o.recipients[1].accepted);
  EXPECT_FALSE(o.recipients[1].delivered);
  EXPECT_EQ(error_of(s).smtp_code, 451);
  EXPECT_EQ(error_of(s).permanence, Permanence::temporary);
}

// --- keep_open: several messages on one connection ---

SessionOptions keep_open(TlsMode tls = TlsMode::none) {
  SessionOptions o = options(tls);
  o.keep_open = true;
  return o;
}

TEST(Reuse, TwoMessagesWithIdleInBetween) {
  Session s(envelope({"a@example.org"}), keep_open());
  EXPECT_FALSE(s.can_reuse());
  hello(s, "250-mx\r\n250 PIPELINING\r\n");
  EXPECT_EQ(complete(s, 1, "250 2.0.0 one\r\n"), "<idle>");
  EXPECT_EQ(step(s), "<idle>");  // repeats until start_transaction() or quit()
  EXPECT_EQ(s.phase(), Phase::idle);
  EXPECT_FALSE(s.quit_sent());
  EXPECT_TRUE(s.can_reuse());
  EXPECT_TRUE(s.outcome().delivered);
  ASSERT_TRUE(s.outcome().final_reply);
  EXPECT_EQ(s.outcome().final_reply->text(), "one");

  Envelope second = envelope({"b@example.org"});
  second.reverse_path = "other@example.net";
  s.start_transaction(second);
  EXPECT_FALSE(s.can_reuse());
  EXPECT_FALSE(s.outcome().delivered);  // now the second message's outcome
  ASSERT_EQ(s.outcome().recipients.size(), 1u);
  EXPECT_EQ(s.outcome().recipients[0].recipient, "b@example.org");
  EXPECT_EQ(step(s), "MAIL FROM:<other@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n|<recv>");
  EXPECT_EQ(complete(s, 1, "250 2.0.0 two\r\n"), "<idle>");
  EXPECT_TRUE(s.outcome().delivered);
  ASSERT_TRUE(s.outcome().final_reply);
  EXPECT_EQ(s.outcome().final_reply->text(), "two");
  s.quit();
  EXPECT_EQ(step(s), "QUIT\r\n|<done>");
  EXPECT_TRUE(s.quit_sent());
  EXPECT_FALSE(s.can_reuse());
}

TEST(Reuse, RsetAfterAFailedMessage) {
  Session s(envelope(), keep_open());
  hello(s, "250 mx\r\n");
  EXPECT_EQ(step(s, "550 5.7.1 sender blocked\r\n"), "<idle>");
  EXPECT_EQ(error_of(s).detail, "sender rejected");
  EXPECT_TRUE(s.can_reuse());
  s.start_transaction(envelope());
  EXPECT_FALSE(s.outcome().error);
  EXPECT_EQ(step(s), "RSET\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
}

TEST(Reuse, FailedPipelinedMessageIsDrainedBeforeIdle) {
  Session s(envelope({"a@example.org", "b@example.org"}), keep_open());
  hello(s, "250-mx\r\n250 PIPELINING\r\n");
  EXPECT_EQ(step(s, "550 5.7.1 no\r\n503 need MAIL\r\n"), "<recv>");
  EXPECT_EQ(step(s, "503 need MAIL\r\n"), "<recv>");
  // A broken server's 354 still gets an (empty) body.
  EXPECT_EQ(step(s, "354 go\r\n"), ".\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "<idle>");
  Error e = error_of(s);
  EXPECT_EQ(e.detail, "sender rejected");
  EXPECT_EQ(e.smtp_code, 550);
  EXPECT_FALSE(s.outcome().recipients[0].reply);  // the 503s mean nothing
  s.start_transaction(envelope());
  EXPECT_EQ(step(s),
            "RSET\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<rcpt@example.org>\r\nDATA\r\n|"
            "<recv>");
}

TEST(Reuse, LossWhileDrainingKeepsTheRealReason) {
  Session s(envelope(), keep_open());
  hello(s, "250-mx\r\n250 PIPELINING\r\n");
  EXPECT_EQ(step(s, "550 5.7.1 no\r\n"), "<recv>");
  s.connection_lost(temporary_error(Stage::connect, "EOF"));
  EXPECT_EQ(step(s), "<done>");
  EXPECT_EQ(error_of(s).detail, "sender rejected");
  EXPECT_FALSE(s.can_reuse());
}

TEST(Reuse, CheckFailureBeforeMailNeedsNoRset) {
  Envelope big = envelope();
  big.body_8bit = true;
  Session s(big, keep_open());
  EXPECT_EQ(hello(s, "250 mx\r\n"), "<idle>");
  EXPECT_EQ(error_of(s).detail, "server lacks 8BITMIME");
  EXPECT_EQ(s.outcome().transactions, 0);
  s.start_transaction(envelope());
  EXPECT_EQ(step(s), "MAIL FROM:<sender@example.net>\r\n|<recv>");
}

TEST(Reuse, InvalidNextEnvelopeStaysIdle) {
  Session s(envelope(), keep_open());
  hello(s, "250-mx\r\n250 PIPELINING\r\n");
  complete(s, 1);
  s.start_transaction(envelope({"bad\r\naddress"}));
  EXPECT_EQ(step(s), "<idle>");
  EXPECT_EQ(error_of(s).stage, Stage::input);
  EXPECT_TRUE(s.can_reuse());
}

TEST(Reuse, MailmaxExhaustedCannotReuse) {
  Session s(envelope(), keep_open());
  hello(s, "250-mx\r\n250-PIPELINING\r\n250 LIMITS MAILMAX=1\r\n");
  EXPECT_EQ(complete(s, 1), "<idle>");
  EXPECT_FALSE(s.can_reuse());
  s.start_transaction(envelope({"b@example.org"}));
  EXPECT_EQ(step(s), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.permanence, Permanence::temporary);
  EXPECT_EQ(s.outcome().recipients[0].recipient, "b@example.org");
  EXPECT_FALSE(s.outcome().delivered);
}

TEST(Reuse, ConnectionLostWhileIdleKeepsTheOutcome) {
  Session s(envelope(), keep_open());
  hello(s, "250-mx\r\n250 PIPELINING\r\n");
  complete(s, 1);
  s.connection_lost(temporary_error(Stage::connect, "EOF"));
  EXPECT_EQ(step(s), "<done>");
  EXPECT_TRUE(s.outcome().delivered);
  EXPECT_FALSE(s.outcome().error);
  EXPECT_FALSE(s.can_reuse());
  s.start_transaction(envelope());  // the message fails without a byte written
  EXPECT_EQ(step(s), "<done>");
  EXPECT_TRUE(s.outcome().error);
}

TEST(Reuse, StartTransactionMidTransactionIsRefused) {
  Session s(envelope(), keep_open());
  hello(s, "250 mx\r\n");
  s.start_transaction(envelope());
  EXPECT_EQ(step(s), "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(s).stage, Stage::internal);
}

TEST(Reuse, QuitMidTransactionFailsTheMessage) {
  Session s(envelope(), keep_open());
  hello(s, "250-mx\r\n250 PIPELINING\r\n");
  step(s, "250 ok\r\n250 ok\r\n354 go\r\n");
  s.body_sent();
  s.quit();
  EXPECT_EQ(step(s), "QUIT\r\n|<done>");
  EXPECT_TRUE(error_of(s).maybe_delivered);  // the final dot had been written
}

TEST(Reuse, WithoutKeepOpenQuitIsAutomatic) {
  Session s(envelope(), options(TlsMode::none));
  hello(s, "250-mx\r\n250 PIPELINING\r\n");
  EXPECT_EQ(complete(s, 1), "QUIT\r\n|<done>");
  EXPECT_FALSE(s.can_reuse());
}

TEST(Reuse, RcptmaxSplitThenIdle) {
  Session s(envelope({"a@example.org", "b@example.org"}), keep_open());
  hello(s, "250-mx\r\n250-PIPELINING\r\n250 LIMITS RCPTMAX=1\r\n");
  EXPECT_EQ(complete(s, 1), group({"b@example.org"}) + "|<recv>");
  EXPECT_EQ(complete(s, 1), "<idle>");
  EXPECT_EQ(s.outcome().transactions, 2);
}

}  // namespace
}  // namespace mx::smtp
