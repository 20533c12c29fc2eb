// Dialogue tests for the sans-I/O SMTP session: scripted server bytes, expected client bytes.
#include "smtp/session.hpp"

#include <gtest/gtest.h>

#include <string>

#include "dialog.hpp"

namespace mx::smtp {
namespace {

using namespace dialog;

TEST(Session, HappyPathWithoutPipelining) {
  Session s(envelope({"a@example.org", "b@example.org"}), options(TlsMode::none));
  EXPECT_EQ(hello(s, "250-mx.example.org\r\n250 8BITMIME\r\n"),
            "MAIL FROM:<sender@example.net>\r\n|<recv>");
  EXPECT_EQ(s.phase(), Phase::mail);
  EXPECT_EQ(step(s, "250 2.1.0 Ok\r\n"), "RCPT TO:<a@example.org>\r\n|<recv>");
  EXPECT_EQ(s.phase(), Phase::rcpt);
  EXPECT_EQ(step(s, "250 2.1.5 Ok\r\n"), "RCPT TO:<b@example.org>\r\n|<recv>");
  EXPECT_EQ(step(s, "250 2.1.5 Ok\r\n"), "DATA\r\n|<recv>");
  EXPECT_EQ(s.phase(), Phase::data);
  EXPECT_EQ(step(s, "354 go ahead\r\n"), "<body>");
  EXPECT_EQ(s.phase(), Phase::data);
  EXPECT_EQ(step(s), "<body>");  // repeats until body_sent()
  s.body_sent();
  EXPECT_EQ(s.phase(), Phase::data_end);
  EXPECT_EQ(step(s), "<recv>");
  s.feed("250 2.0.0 Ok: queued as ABC\r\n");
  Action quit = s.next();
  ASSERT_TRUE(std::holds_alternative<Send>(quit));
  EXPECT_EQ(std::get<Send>(quit).bytes, "QUIT\r\n");
  EXPECT_EQ(std::get<Send>(quit).log_lines, std::vector<std::string>{"QUIT"});
  EXPECT_TRUE(s.quit_sent());
  // The QUIT reply is never needed: Done comes at once, the driver may grant a grace.
  EXPECT_EQ(step(s), "<done>");
  EXPECT_EQ(s.phase(), Phase::done);
  EXPECT_TRUE(s.outcome().delivered);
  EXPECT_FALSE(s.outcome().error);
  EXPECT_EQ(step(s, "221 2.0.0 Bye\r\n"), "<done>");
  const Outcome& o = s.outcome();
  EXPECT_TRUE(o.delivered);
  ASSERT_EQ(o.recipients.size(), 2u);
  EXPECT_TRUE(o.recipients[0].accepted);
  EXPECT_TRUE(o.recipients[1].accepted);
  ASSERT_TRUE(o.final_reply);
  EXPECT_EQ(o.final_reply->code, 250);
}

TEST(Session, HappyPathWithPipelining) {
  Session s(envelope({"a@example.org", "b@example.org"}), options(TlsMode::none));
  EXPECT_EQ(hello(s, "250-mx.example.org\r\n250 PIPELINING\r\n"),
            "MAIL FROM:<sender@example.net>\r\nRCPT TO:<a@example.org>\r\n"
            "RCPT TO:<b@example.org>\r\nDATA\r\n|<recv>");
  EXPECT_EQ(s.phase(), Phase::mail);
  EXPECT_EQ(step(s, "250 ok\r\n250 ok\r\n"), "<recv>");
  EXPECT_EQ(s.phase(), Phase::rcpt);
  EXPECT_EQ(step(s, "250 ok\r\n354 go\r\n"), "<body>");
  s.body_sent();
  EXPECT_EQ(step(s, "250 queued\r\n"), "QUIT\r\n|<done>");
  EXPECT_TRUE(s.outcome().delivered);
}

TEST(Session, PipelinedSendHasOneLogLinePerCommand) {
  Session s(envelope(), options(TlsMode::none));
  s.feed(kGreeting);
  ASSERT_TRUE(std::holds_alternative<Send>(s.next()));
  s.feed("250-mx\r\n250 PIPELINING\r\n");
  Action a = s.next();
  ASSERT_TRUE(std::holds_alternative<Send>(a));
  EXPECT_EQ(std::get<Send>(a).log_lines,
            (std::vector<std::string>{"MAIL FROM:<sender@example.net>",
                                      "RCPT TO:<rcpt@example.org>", "DATA"}));
}

TEST(Session, NullSender) {
  for (const char* null : {"", "<>"}) {
    Envelope e = envelope();
    e.reverse_path = null;
    Session s(e, options(TlsMode::none));
    EXPECT_EQ(hello(s, "250 mx\r\n"), "MAIL FROM:<>\r\n|<recv>");
  }
}

TEST(Session, MultiLineGreeting) {
  Session s(envelope(), options(TlsMode::none));
  EXPECT_EQ(step(s, "220-mx.example.org\r\n220-"), "<recv>");
  EXPECT_EQ(step(s, "still greeting\r\n220 ready\r\n"), kEhlo);
}

TEST(Session, StartTlsFlowReplacesCapabilities) {
  Session s(envelope(), options(TlsMode::opportunistic));
  EXPECT_EQ(hello(s, "250-mx\r\n250-STARTTLS\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"),
            "STARTTLS\r\n|<recv>");
  EXPECT_EQ(s.phase(), Phase::starttls);
  EXPECT_TRUE(s.capabilities().pipelining);
  EXPECT_EQ(step(s, "220 2.0.0 Ready to start TLS\r\n"), "<tls>");
  EXPECT_EQ(s.phase(), Phase::starttls);
  EXPECT_EQ(step(s), "<tls>");
  EXPECT_FALSE(s.tls_active());
  s.tls_started();
  EXPECT_TRUE(s.tls_active());
  EXPECT_FALSE(s.capabilities().pipelining);  // forgotten
  EXPECT_EQ(step(s), kEhlo);
  // After TLS no PIPELINING and no SIZE: one command per round trip, no SIZE=.
  EXPECT_EQ(step(s, "250-mx\r\n250 8BITMIME\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
  EXPECT_FALSE(s.capabilities().pipelining);
  EXPECT_FALSE(s.capabilities().starttls);
  EXPECT_FALSE(s.capabilities().size);
  EXPECT_TRUE(s.capabilities().eightbitmime);
}

TEST(Session, StartTlsNotRepeatedWhenStillAdvertised) {
  Session s(envelope(), options(TlsMode::required));
  EXPECT_EQ(hello(s, "250-mx\r\n250 STARTTLS\r\n"), "STARTTLS\r\n|<recv>");
  EXPECT_EQ(step(s, "220 go\r\n"), "<tls>");
  s.tls_started();
  EXPECT_EQ(step(s), kEhlo);
  EXPECT_EQ(step(s, "250-mx\r\n250 STARTTLS\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
}

TEST(Session, StartTlsResponseInjection) {
  Session s(envelope(), options(TlsMode::opportunistic));
  EXPECT_EQ(hello(s, "250-mx\r\n250 STARTTLS\r\n"), "STARTTLS\r\n|<recv>");
  // The plaintext "250-..." must never be read as the post-TLS EHLO reply.
  EXPECT_EQ(step(s, "220 go ahead\r\n250-evil\r\n250 AUTH PLAIN\r\n"), "<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.stage, Stage::tls);
  EXPECT_EQ(e.permanence, Permanence::temporary);
  EXPECT_EQ(e.detail, "STARTTLS response injection: server sent data after 220");
  EXPECT_FALSE(s.tls_active());
  EXPECT_FALSE(s.outcome().delivered);
  s.tls_started();  // ignored: the session is over
  EXPECT_EQ(step(s), "<done>");
}

TEST(Session, StartTlsInjectionFedAfterTheReply) {
  Session s(envelope(), options(TlsMode::opportunistic));
  EXPECT_EQ(hello(s, "250-mx\r\n250 STARTTLS\r\n"), "STARTTLS\r\n|<recv>");
  EXPECT_EQ(step(s, "220 go ahead\r\n"), "<tls>");
  s.feed("250 injected\r\n");
  s.tls_started();
  EXPECT_EQ(step(s), "<done>");
  EXPECT_EQ(error_of(s).stage, Stage::tls);
}

TEST(Session, StartTlsRefusedOpportunisticContinuesInPlaintext) {
  Session s(envelope(), options(TlsMode::opportunistic));
  EXPECT_EQ(hello(s, "250-mx\r\n250 STARTTLS\r\n"), "STARTTLS\r\n|<recv>");
  EXPECT_EQ(step(s, "454 4.7.0 TLS not available\r\n"),
            "MAIL FROM:<sender@example.net>\r\n|<recv>");
  EXPECT_FALSE(s.tls_active());
  EXPECT_FALSE(s.outcome().error);
}

TEST(Session, StartTlsRefusedRequiredFails) {
  for (const char* refusal : {"454 4.7.0 TLS not available\r\n", "502 5.5.1 no\r\n"}) {
    Session s(envelope(), options(TlsMode::required));
    EXPECT_EQ(hello(s, "250-mx\r\n250 STARTTLS\r\n"), "STARTTLS\r\n|<recv>");
    EXPECT_EQ(step(s, refusal), "QUIT\r\n|<done>");
    Error e = error_of(s);
    EXPECT_EQ(e.stage, Stage::tls);
    EXPECT_EQ(e.permanence, Permanence::temporary);
    EXPECT_EQ(e.command, "STARTTLS");
    EXPECT_EQ(step(s, "221 bye\r\n"), "<done>");
  }
}

TEST(Session, StartTlsNotOfferedRequiredFails) {
  Session s(envelope(), options(TlsMode::required));
  EXPECT_EQ(hello(s, "250-mx\r\n250 PIPELINING\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.stage, Stage::tls);
  EXPECT_EQ(e.permanence, Permanence::temporary);
}

TEST(Session, StartTlsNotOfferedOpportunisticContinues) {
  Session s(envelope(), options(TlsMode::opportunistic));
  EXPECT_EQ(hello(s, "250 mx\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
}

TEST(Session, TlsModeNoneIgnoresStartTls) {
  Session s(envelope(), options(TlsMode::none));
  EXPECT_EQ(hello(s, "250-mx\r\n250 STARTTLS\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
}

TEST(Session, AlreadyTlsSkipsStartTls) {
  SessionOptions o = options(TlsMode::required);
  o.tls_active = true;
  Session s(envelope(), o);
  EXPECT_TRUE(s.tls_active());
  EXPECT_EQ(hello(s, "250-mx\r\n250 STARTTLS\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
}

TEST(Session, TlsHandshakeFailed) {
  Session s(envelope(), options(TlsMode::opportunistic));
  EXPECT_EQ(hello(s, "250-mx\r\n250 STARTTLS\r\n"), "STARTTLS\r\n|<recv>");
  EXPECT_EQ(step(s, "220 go\r\n"), "<tls>");
  s.tls_failed(temporary_error(Stage::tls, "handshake failed"));
  EXPECT_EQ(step(s), "<done>");
  EXPECT_EQ(error_of(s).detail, "handshake failed");
}

TEST(Session, HeloFallback) {
  for (const char* refusal :
       {"500 what?\r\n", "501 x\r\n", "502 not implemented\r\n", "503 x\r\n", "504 x\r\n"}) {
    Session s(envelope(), options(TlsMode::opportunistic));
    EXPECT_EQ(hello(s, refusal), "HELO client.example.net\r\n|<recv>");
    EXPECT_EQ(s.phase(), Phase::helo);
    EXPECT_EQ(step(s, "250 mx.example.org\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
    EXPECT_FALSE(s.capabilities().pipelining);
    EXPECT_EQ(s.capabilities().greeting, "mx.example.org");
  }
}

TEST(Session, HeloFallbackWithRequiredTlsFails) {
  Session s(envelope(), options(TlsMode::required));
  EXPECT_EQ(hello(s, "502 no EHLO\r\n"), "HELO client.example.net\r\n|<recv>");
  EXPECT_EQ(step(s, "250 mx\r\n"), "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(s).stage, Stage::tls);
}

TEST(Session, EhloOtherFailureEnds) {
  Session s(envelope(), options());
  EXPECT_EQ(hello(s, "550 go away\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.permanence, Permanence::permanent);
  EXPECT_EQ(e.command, "EHLO client.example.net");
  EXPECT_EQ(e.smtp_code, 550);
}

TEST(Session, HeloRejected) {
  Session s(envelope(), options());
  EXPECT_EQ(hello(s, "502 no\r\n"), "HELO client.example.net\r\n|<recv>");
  EXPECT_EQ(step(s, "501 bad name\r\n"), "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(s).command, "HELO client.example.net");
}

TEST(Session, TransientGreeting) {
  Session s(envelope(), options());
  EXPECT_EQ(step(s, "450 busy, try later\r\n"), "QUIT\r\n|<done>");
  EXPECT_TRUE(s.quit_sent());
  Error e = error_of(s);
  EXPECT_EQ(e.permanence, Permanence::temporary);
  EXPECT_EQ(e.stage, Stage::smtp);
  EXPECT_EQ(e.smtp_code, 450);
  EXPECT_EQ(e.server_text, "busy, try later");
  EXPECT_EQ(step(s, "221 bye\r\n"), "<done>");
}

TEST(Session, PermanentGreeting) {
  Session s(envelope(), options());
  EXPECT_EQ(step(s, "554-5.7.1 no mail\r\n554 5.7.1 here\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.permanence, Permanence::permanent);
  EXPECT_EQ(e.enhanced, "5.7.1");
  EXPECT_EQ(e.server_text, "no mail\nhere");
}

TEST(Session, Greeting421ClosesWithoutQuit) {
  Session s(envelope(), options());
  EXPECT_EQ(step(s, "421 4.3.2 shutting down\r\n"), "<done>");
  EXPECT_FALSE(s.quit_sent());
  EXPECT_EQ(error_of(s).permanence, Permanence::temporary);
}

TEST(Session, GarbageGreetingIsProtocolError) {
  Session s(envelope(), options());
  EXPECT_EQ(step(s, "SSH-2.0-OpenSSH\r\n"), "<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.reason, Reason::protocol);
  EXPECT_EQ(e.permanence, Permanence::temporary);
}

TEST(Session, MailRejected) {
  for (auto [reply, perm] : {std::pair{"550 5.7.1 sender blocked\r\n", Permanence::permanent},
                             std::pair{"451 4.3.0 try later\r\n", Permanence::temporary}}) {
    Session s(envelope(), options(TlsMode::none));
    EXPECT_EQ(hello(s, "250 mx\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
    EXPECT_EQ(step(s, reply), "QUIT\r\n|<done>");
    Error e = error_of(s);
    EXPECT_EQ(e.permanence, perm);
    EXPECT_EQ(e.stage, Stage::smtp);
    EXPECT_EQ(e.command, "MAIL FROM:<sender@example.net>");
    EXPECT_FALSE(s.outcome().delivered);
    EXPECT_FALSE(s.outcome().recipients[0].reply);
  }
}

TEST(Session, PipelinedMailRejectedStopsReading) {
  Session s(envelope(), options(TlsMode::none));
  hello(s, "250-mx\r\n250 PIPELINING\r\n");
  EXPECT_EQ(step(s, "550 5.7.1 no\r\n503 5.5.1 need MAIL\r\n554 5.5.1 no valid recipients\r\n"),
            "QUIT\r\n|<done>");  // leftover pipelined replies are never read
  EXPECT_EQ(error_of(s).command, "MAIL FROM:<sender@example.net>");
  EXPECT_EQ(error_of(s).smtp_code, 550);
}

TEST(Session, UnexpectedCodeToMail) {
  Session s(envelope(), options(TlsMode::none));
  hello(s, "250 mx\r\n");
  EXPECT_EQ(step(s, "354 what\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.reason, Reason::protocol);
  EXPECT_EQ(e.permanence, Permanence::temporary);
}

TEST(Session, UnexpectedCodeToRcpt) {
  Session s(envelope(), options(TlsMode::none));
  hello(s, "250 mx\r\n");
  step(s, "250 ok\r\n");
  EXPECT_EQ(step(s, "354 what\r\n"), "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(s).reason, Reason::protocol);
  EXPECT_EQ(error_of(s).command, "RCPT TO:<rcpt@example.org>");
}

TEST(Session, OneOfTwoRecipientsRejected) {
  Session s(envelope({"bad@example.org", "good@example.org"}), options(TlsMode::none));
  hello(s, "250-mx\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING\r\n");
  EXPECT_EQ(step(s, "250 2.1.0 ok\r\n550 5.1.1 no such user\r\n250 2.1.5 ok\r\n354 go\r\n"),
            "<body>");
  s.body_sent();
  EXPECT_EQ(step(s, "250 2.0.0 queued\r\n"), "QUIT\r\n|<done>");
  const Outcome& o = s.outcome();
  EXPECT_TRUE(o.delivered);
  EXPECT_FALSE(o.error);
  EXPECT_FALSE(o.recipients[0].accepted);
  ASSERT_TRUE(o.recipients[0].reply);
  EXPECT_EQ(o.recipients[0].reply->code, 550);
  EXPECT_EQ(o.recipients[0].reply->enhanced, "5.1.1");
  EXPECT_TRUE(o.recipients[1].accepted);
}

TEST(Session, AllRecipientsRejectedWithoutPipeliningSendsNoData) {
  Session s(envelope({"a@example.org", "b@example.org"}), options(TlsMode::none));
  hello(s, "250 mx\r\n");
  EXPECT_EQ(step(s, "250 ok\r\n"), "RCPT TO:<a@example.org>\r\n|<recv>");
  EXPECT_EQ(step(s, "550 5.1.1 no\r\n"), "RCPT TO:<b@example.org>\r\n|<recv>");
  EXPECT_EQ(step(s, "550 5.1.1 no\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.permanence, Permanence::permanent);
  EXPECT_EQ(e.reason, Reason::no_such_user);
  EXPECT_EQ(e.command, "RCPT TO:<a@example.org>");
}

TEST(Session, AllRecipientsRejectedPipelinedData354) {
  Session s(envelope({"a@example.org", "b@example.org"}), options(TlsMode::none));
  hello(s, "250-mx\r\n250 PIPELINING\r\n");
  // RFC 2920 §3.1: a broken server answers DATA with 354 anyway; send only the dot.
  EXPECT_EQ(step(s, "250 ok\r\n550 5.1.1 no a\r\n450 4.2.1 busy b\r\n354 go\r\n"), ".\r\n|<recv>");
  EXPECT_EQ(s.phase(), Phase::data_end);
  EXPECT_EQ(step(s, "250 2.0.0 queued (nothing)\r\n"), "QUIT\r\n|<done>");
  const Outcome& o = s.outcome();
  EXPECT_FALSE(o.delivered);
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->permanence, Permanence::temporary);  // not every rejection was 5xx
  EXPECT_EQ(o.error->smtp_code, 450);
  EXPECT_EQ(o.error->command, "RCPT TO:<b@example.org>");
}

TEST(Session, AllRecipientsRejectedPipelinedData503) {
  Session s(envelope({"a@example.org"}), options(TlsMode::none));
  hello(s, "250-mx\r\n250 PIPELINING\r\n");
  EXPECT_EQ(step(s, "250 ok\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n"),
            "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(s).permanence, Permanence::permanent);
  EXPECT_EQ(error_of(s).smtp_code, 550);
}

TEST(Session, Rcpt451IsTemporary) {
  Session s(envelope(), options(TlsMode::none));
  hello(s, "250 mx\r\n");
  step(s, "250 ok\r\n");
  EXPECT_EQ(step(s, "451 4.7.1 greylisted\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.permanence, Permanence::temporary);
  EXPECT_EQ(e.smtp_code, 451);
  EXPECT_EQ(e.enhanced, "4.7.1");
  EXPECT_EQ(e.server_text, "greylisted");
}

TEST(Session, Rcpt550UnknownUserIsPermanent) {
  Session s(envelope(), options(TlsMode::none));
  hello(s, "250-mx\r\n250 ENHANCEDSTATUSCODES\r\n");
  step(s, "250 2.1.0 ok\r\n");
  EXPECT_EQ(step(s,
                 "550-5.1.1 The email account that you tried to reach\r\n"
                 "550 5.1.1 does not exist.\r\n"),
            "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.permanence, Permanence::permanent);
  EXPECT_EQ(e.stage, Stage::smtp);
  EXPECT_EQ(e.reason, Reason::no_such_user);
  EXPECT_EQ(e.smtp_code, 550);
  EXPECT_EQ(e.enhanced, "5.1.1");
  EXPECT_EQ(e.command, "RCPT TO:<rcpt@example.org>");
  EXPECT_EQ(e.server_text, "The email account that you tried to reach\ndoes not exist.");
}

// Runs a non-pipelined dialogue up to the reply to the final dot.
void to_final_dot(Session& s) {
  hello(s, "250 mx\r\n");
  step(s, "250 ok\r\n");
  EXPECT_EQ(step(s, "250 ok\r\n"), "DATA\r\n|<recv>");
  EXPECT_EQ(step(s, "354 go\r\n"), "<body>");
  s.body_sent();
  EXPECT_EQ(step(s), "<recv>");
  EXPECT_EQ(s.phase(), Phase::data_end);
}

TEST(Session, FinalDot250) {
  Session s(envelope(), options(TlsMode::none));
  to_final_dot(s);
  EXPECT_EQ(step(s, "250 2.0.0 Ok: queued\r\n"), "QUIT\r\n|<done>");
  EXPECT_TRUE(s.outcome().delivered);
  EXPECT_EQ(s.outcome().final_reply->text(), "Ok: queued");
  // Losing the connection (e.g. QUIT failing to write) changes nothing now.
  s.connection_lost(temporary_error(Stage::connect, "EOF"));
  EXPECT_EQ(step(s), "<done>");
  EXPECT_TRUE(s.outcome().delivered);
  EXPECT_FALSE(s.outcome().error);
}

TEST(Session, FinalDot451) {
  Session s(envelope(), options(TlsMode::none));
  to_final_dot(s);
  EXPECT_EQ(step(s, "451 4.3.0 local error\r\n"), "QUIT\r\n|<done>");
  EXPECT_FALSE(s.outcome().delivered);
  Error e = error_of(s);
  EXPECT_EQ(e.permanence, Permanence::temporary);
  EXPECT_EQ(e.smtp_code, 451);
  EXPECT_FALSE(e.maybe_delivered);
  EXPECT_EQ(s.outcome().final_reply->code, 451);
}

TEST(Session, FinalDot554) {
  Session s(envelope(), options(TlsMode::none));
  to_final_dot(s);
  EXPECT_EQ(step(s, "554 5.7.1 spam\r\n"), "QUIT\r\n|<done>");
  EXPECT_FALSE(s.outcome().delivered);
  Error e = error_of(s);
  EXPECT_EQ(e.permanence, Permanence::permanent);
  EXPECT_EQ(e.enhanced, "5.7.1");
}

TEST(Session, ConnectionLostAfterFinalDot) {
  Session s(envelope(), options(TlsMode::none));
  to_final_dot(s);
  s.connection_lost(temporary_error(Stage::connect, "connection reset by peer"));
  EXPECT_EQ(step(s), "<done>");
  Error e = error_of(s);
  EXPECT_TRUE(e.maybe_delivered);
  EXPECT_EQ(e.permanence, Permanence::temporary);
  EXPECT_EQ(
      e.detail.rfind("connection lost after the final dot: the message may have been delivered", 0),
      0u);
  EXPECT_FALSE(s.outcome().delivered);
}

TEST(Session, GarbledReplyAfterFinalDotMayHaveDelivered) {
  Session s(envelope(), options(TlsMode::none));
  to_final_dot(s);
  EXPECT_EQ(step(s, "xyz\r\n"), "<done>");
  EXPECT_TRUE(error_of(s).maybe_delivered);
}

TEST(Session, ConnectionLostElsewhereNamesPhase) {
  Session s(envelope(), options(TlsMode::none));
  hello(s, "250 mx\r\n");
  s.connection_lost(permanent_error(Stage::connect, "EOF"));
  EXPECT_EQ(step(s), "<done>");
  Error e = error_of(s);
  EXPECT_FALSE(e.maybe_delivered);
  EXPECT_EQ(e.permanence, Permanence::temporary);
  EXPECT_NE(e.detail.find("MAIL"), std::string::npos);
  EXPECT_EQ(e.command, "MAIL FROM:<sender@example.net>");
}

TEST(Session, ConnectionLostWhileSendingBodyIsNotMaybeDelivered) {
  Session s(envelope(), options(TlsMode::none));
  hello(s, "250 mx\r\n");
  step(s, "250 ok\r\n");
  step(s, "250 ok\r\n");
  EXPECT_EQ(step(s, "354 go\r\n"), "<body>");
  s.connection_lost(temporary_error(Stage::connect, "EPIPE"));
  EXPECT_EQ(step(s), "<done>");
  EXPECT_FALSE(error_of(s).maybe_delivered);
}

TEST(Session, EightBitMimeMissing) {
  Envelope env = envelope();
  env.body_8bit = true;
  Session s(env, options(TlsMode::none));
  EXPECT_EQ(hello(s, "250-mx\r\n250 PIPELINING\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.permanence, Permanence::permanent);
  EXPECT_EQ(e.detail, "server lacks 8BITMIME");
}

TEST(Session, EightBitMimePresent) {
  Envelope env = envelope();
  env.body_8bit = true;
  Session s(env, options(TlsMode::none));
  EXPECT_EQ(hello(s, "250-mx\r\n250 8BITMIME\r\n"),
            "MAIL FROM:<sender@example.net> BODY=8BITMIME\r\n|<recv>");
}

TEST(Session, SevenBitBodyHasNoBodyParameter) {
  Session s(envelope(), options(TlsMode::none));
  EXPECT_EQ(hello(s, "250-mx\r\n250 8BITMIME\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
}

TEST(Session, SizeExceeded) {
  Envelope env = envelope();
  env.size = 2000;
  Session s(env, options(TlsMode::none));
  EXPECT_EQ(hello(s, "250-mx\r\n250 SIZE 1000\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.permanence, Permanence::permanent);
  EXPECT_NE(e.detail.find("1000"), std::string::npos);
}

TEST(Session, SizeParameter) {
  Envelope env = envelope();
  env.size = 1000;
  {
    Session s(env, options(TlsMode::none));
    EXPECT_EQ(hello(s, "250-mx\r\n250 SIZE 1000\r\n"),
              "MAIL FROM:<sender@example.net> SIZE=1000\r\n|<recv>");
  }
  {
    Session s(env, options(TlsMode::none));  // SIZE without a limit: still declare ours
    EXPECT_EQ(hello(s, "250-mx\r\n250 SIZE\r\n"),
              "MAIL FROM:<sender@example.net> SIZE=1000\r\n|<recv>");
  }
  {
    Session s(env, options(TlsMode::none));  // no SIZE extension: no parameter
    EXPECT_EQ(hello(s, "250 mx\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
  }
}

TEST(Session, Utf8AddressNeedsSmtpUtf8) {
  Session bad(envelope({"j\xc3\xb6rg@example.org"}), options(TlsMode::none));
  EXPECT_EQ(hello(bad, "250-mx\r\n250 8BITMIME\r\n"), "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(bad).detail, "server lacks SMTPUTF8");
  Session ok(envelope({"j\xc3\xb6rg@example.org"}), options(TlsMode::none));
  EXPECT_EQ(hello(ok, "250-mx\r\n250 SMTPUTF8\r\n"),
            "MAIL FROM:<sender@example.net> SMTPUTF8\r\n|<recv>");
}

TEST(Session, InvalidAddressesNeverReachTheWire) {
  for (const char* bad : {"victim@example.org>\r\nRCPT TO:<evil@example.org", "no-at-sign", ""}) {
    Session s(envelope({"ok@example.org", bad}), options(TlsMode::none));
    EXPECT_EQ(step(s), "<done>");
    Error e = error_of(s);
    EXPECT_EQ(e.stage, Stage::input);
    EXPECT_EQ(e.reason, Reason::bad_data);
  }
  Envelope env = envelope();
  env.reverse_path = "a@b\r\nDATA";
  Session s(env, options(TlsMode::none));
  EXPECT_EQ(step(s), "<done>");
  EXPECT_EQ(error_of(s).stage, Stage::input);
}

TEST(Session, NoRecipients) {
  Session s(envelope({}), options());
  EXPECT_EQ(step(s), "<done>");
  EXPECT_EQ(error_of(s).stage, Stage::input);
}

TEST(Session, InvalidHeloName) {
  for (const char* name : {"", "bad name", "x\r\nMAIL FROM:<a@b>", "b\xc3\xbc\x63her.example"}) {
    SessionOptions o = options();
    o.helo_name = name;
    Session s(envelope(), o);
    EXPECT_EQ(step(s), "<done>") << name;
    EXPECT_EQ(error_of(s).stage, Stage::config);
  }
}

TEST(Session, RecipientsAreCanonical) {
  Session s(envelope({"<a@example.org>"}), options(TlsMode::none));
  hello(s, "250 mx\r\n");
  EXPECT_EQ(step(s, "250 ok\r\n"), "RCPT TO:<a@example.org>\r\n|<recv>");
  EXPECT_EQ(s.outcome().recipients[0].recipient, "a@example.org");
}

TEST(Session, DataRejected) {
  Session s(envelope(), options(TlsMode::none));
  hello(s, "250 mx\r\n");
  step(s, "250 ok\r\n");
  EXPECT_EQ(step(s, "250 ok\r\n"), "DATA\r\n|<recv>");
  EXPECT_EQ(step(s, "554 5.5.1 no\r\n"), "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(s).command, "DATA");
  EXPECT_EQ(error_of(s).permanence, Permanence::permanent);
}

TEST(Session, Server421MidTransactionEndsWithoutQuit) {
  Session s(envelope(), options(TlsMode::none));
  hello(s, "250 mx\r\n");
  EXPECT_EQ(step(s, "421 4.4.2 timeout\r\n"), "<done>");
  EXPECT_EQ(error_of(s).permanence, Permanence::temporary);
  EXPECT_EQ(error_of(s).smtp_code, 421);
}

TEST(Session, BodySentOutsideDataIsIgnored) {
  Session s(envelope(), options(TlsMode::none));
  s.body_sent();
  EXPECT_EQ(step(s), "<recv>");
  EXPECT_EQ(s.phase(), Phase::greeting);
}

TEST(Session, DataPhaseTimeouts) {
  using std::chrono::seconds;
  EXPECT_EQ(default_timeout(Phase::greeting), seconds(300));
  EXPECT_EQ(default_timeout(Phase::ehlo), seconds(300));
  EXPECT_EQ(default_timeout(Phase::helo), seconds(300));
  EXPECT_EQ(default_timeout(Phase::starttls), seconds(300));
  EXPECT_EQ(default_timeout(Phase::mail), seconds(300));
  EXPECT_EQ(default_timeout(Phase::rcpt), seconds(300));
  EXPECT_EQ(default_timeout(Phase::data), seconds(120));
  EXPECT_EQ(default_timeout(Phase::data_end), seconds(600));
  EXPECT_EQ(default_timeout(Phase::quit), seconds(5));
  EXPECT_EQ(kDataBlockTimeout, seconds(180));
}

}  // namespace
}  // namespace mx::smtp

namespace mx::smtp {
namespace {

// --probe: the whole posture (STARTTLS, the second EHLO) and then QUIT, never a transaction.
TEST(Session, ProbeStopsAfterTheTlsEhlo) {
  SessionOptions o = options(TlsMode::opportunistic);
  o.probe = true;
  Envelope e;
  Session s(e, o);
  EXPECT_EQ(step(s, "220 mx.example.org ESMTP\r\n"), "EHLO client.example.net\r\n|<recv>");
  EXPECT_EQ(step(s, "250-mx.example.org\r\n250 STARTTLS\r\n"), "STARTTLS\r\n|<recv>");
  EXPECT_EQ(step(s, "220 go ahead\r\n"), "<tls>");
  s.tls_started(false);
  EXPECT_EQ(step(s), "EHLO client.example.net\r\n|<recv>");
  EXPECT_EQ(step(s, "250-mx.example.org\r\n250 CHUNKING\r\n"), "QUIT\r\n|<done>");
  EXPECT_FALSE(s.outcome().error);
  EXPECT_TRUE(s.capabilities().chunking);
}

}  // namespace
}  // namespace mx::smtp
