// Dialogue tests for MAIL/RCPT parameters: DSN (RFC 3461) on and off, the fixed MAIL parameter
// order, and REQUIRETLS (RFC 8689) across TLS states.
#include <gtest/gtest.h>

#include <string>

#include "dialog.hpp"
#include "smtp/session.hpp"

namespace mx::smtp {
namespace {

using namespace dialog;

Envelope dsn_envelope() {
  Recipient a("a@example.org");
  a.notify = Notify{true, true, false};
  a.orcpt = "a+tag@example.org";
  Recipient b("b@example.org");
  b.notify = Notify{};  // NEVER
  Envelope e = envelope({a, b, "c@example.org"});
  e.ret = "hdrs";
  e.envid = "QQ314159=1";
  return e;
}

TEST(Dsn, ParametersWhenAdvertised) {
  Session s(dsn_envelope(), options(TlsMode::none));
  EXPECT_EQ(hello(s, "250-mx\r\n250-PIPELINING\r\n250 DSN\r\n"),
            "MAIL FROM:<sender@example.net> RET=HDRS ENVID=QQ314159+3D1\r\n"
            "RCPT TO:<a@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Btag@example.org\r\n"
            "RCPT TO:<b@example.org> NOTIFY=NEVER\r\n"
            "RCPT TO:<c@example.org>\r\nDATA\r\n|<recv>");
  EXPECT_FALSE(s.outcome().dsn_dropped);
}

TEST(Dsn, OmittedAndFlaggedWithoutExtension) {
  Session s(dsn_envelope(), options(TlsMode::none));
  EXPECT_EQ(hello(s, "250-mx\r\n250 PIPELINING\r\n"),
            "MAIL FROM:<sender@example.net>\r\nRCPT TO:<a@example.org>\r\n"
            "RCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n|<recv>");
  EXPECT_TRUE(s.outcome().dsn_dropped);
}

TEST(Dsn, NotRequestedIsNotDropped) {
  Session s(envelope(), options(TlsMode::none));
  EXPECT_EQ(hello(s, "250 mx\r\n"), "MAIL FROM:<sender@example.net>\r\n|<recv>");
  EXPECT_FALSE(s.outcome().dsn_dropped);
}

TEST(Dsn, EachParameterAloneCountsAsRequested) {
  Envelope ret = envelope();
  ret.ret = "FULL";
  Envelope envid = envelope();
  envid.envid = "x";
  Recipient n("rcpt@example.org");
  n.notify = Notify{false, true, true};
  Recipient o("rcpt@example.org");
  o.orcpt = "rcpt@example.org";
  for (const Envelope& e : {ret, envid, envelope({n}), envelope({o})}) {
    Session s(e, options(TlsMode::none));
    hello(s, "250 mx\r\n");
    EXPECT_TRUE(s.outcome().dsn_dropped);
  }
  Session s(envelope({n}), options(TlsMode::none));
  hello(s, "250-mx\r\n250 DSN\r\n");
  EXPECT_EQ(step(s, "250 ok\r\n"), "RCPT TO:<rcpt@example.org> NOTIFY=FAILURE,DELAY\r\n|<recv>");
}

TEST(Dsn, InvalidValuesNeverReachTheWire) {
  Envelope bad_ret = envelope();
  bad_ret.ret = "FULL\r\nRSET";
  Envelope bad_envid = envelope();
  bad_envid.envid = "has space";
  Envelope long_envid = envelope();
  long_envid.envid = std::string(101, 'x');
  Recipient r("rcpt@example.org");
  r.orcpt = "a@example.org>\r\nDATA";
  for (const Envelope& e : {bad_ret, bad_envid, long_envid, envelope({r})}) {
    Session s(e, options(TlsMode::none));
    EXPECT_EQ(step(s), "<done>");
    Error err = error_of(s);
    EXPECT_EQ(err.stage, Stage::input);
    EXPECT_EQ(err.reason, Reason::bad_data);
    EXPECT_EQ(err.permanence, Permanence::permanent);
  }
}

TEST(MailParameters, FixedOrder) {
  Envelope e = envelope();
  e.size = 10;
  e.body_8bit = true;
  e.smtputf8 = true;
  e.requiretls = true;
  e.ret = "FULL";
  e.envid = "id";
  SessionOptions o = options(TlsMode::required);
  o.tls_active = true;
  o.tls_authenticated = true;
  Session s(e, o);
  EXPECT_EQ(hello(s,
                  "250-mx\r\n250-SIZE 100\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-REQUIRETLS\r\n"
                  "250 DSN\r\n"),
            "MAIL FROM:<sender@example.net> SIZE=10 BODY=8BITMIME SMTPUTF8 REQUIRETLS RET=FULL "
            "ENVID=id\r\n|<recv>");
}

// --- REQUIRETLS (RFC 8689) ---

Envelope requiretls() {
  Envelope e = envelope();
  e.requiretls = true;
  return e;
}

// Runs STARTTLS, reporting `authenticated`, and returns what follows the post-TLS EHLO reply.
std::string via_starttls(Session& s, bool authenticated, std::string_view ehlo_after) {
  EXPECT_EQ(hello(s, "250-mx\r\n250-REQUIRETLS\r\n250 STARTTLS\r\n"), "STARTTLS\r\n|<recv>");
  EXPECT_EQ(step(s, "220 go\r\n"), "<tls>");
  s.tls_started(authenticated);
  EXPECT_EQ(step(s), kEhlo);
  return step(s, ehlo_after);
}

void expect_requiretls_failure(const Session& s, std::string_view why) {
  Error e = error_of(s);
  EXPECT_EQ(e.stage, Stage::tls);
  EXPECT_EQ(e.permanence, Permanence::permanent);
  EXPECT_EQ(e.enhanced, "5.7.30");
  EXPECT_NE(e.detail.find("REQUIRETLS support required"), std::string::npos) << e.detail;
  EXPECT_NE(e.detail.find(why), std::string::npos) << e.detail;
  EXPECT_FALSE(s.outcome().delivered);
}

TEST(RequireTls, AuthenticatedAndAdvertised) {
  Session s(requiretls(), options());
  EXPECT_EQ(via_starttls(s, true, "250-mx\r\n250 REQUIRETLS\r\n"),
            "MAIL FROM:<sender@example.net> REQUIRETLS\r\n|<recv>");
}

TEST(RequireTls, UnauthenticatedTlsFails) {
  Session s(requiretls(), options());
  EXPECT_EQ(via_starttls(s, false, "250-mx\r\n250 REQUIRETLS\r\n"), "QUIT\r\n|<done>");
  expect_requiretls_failure(s, "not authenticated");
}

TEST(RequireTls, ZeroArgTlsStartedIsUnauthenticated) {
  Session s(requiretls(), options());
  hello(s, "250-mx\r\n250 STARTTLS\r\n");
  step(s, "220 go\r\n");
  s.tls_started();
  step(s);
  EXPECT_EQ(step(s, "250-mx\r\n250 REQUIRETLS\r\n"), "QUIT\r\n|<done>");
  expect_requiretls_failure(s, "not authenticated");
}

TEST(RequireTls, NotAdvertisedAfterTlsFails) {
  // Advertised before STARTTLS only: capabilities from before TLS do not count.
  Session s(requiretls(), options());
  EXPECT_EQ(via_starttls(s, true, "250-mx\r\n250 PIPELINING\r\n"), "QUIT\r\n|<done>");
  expect_requiretls_failure(s, "does not advertise REQUIRETLS");
}

TEST(RequireTls, PlaintextFails) {
  // No STARTTLS offered, STARTTLS refused, TLS disabled: MAIL is never sent.
  {
    Session s(requiretls(), options());
    EXPECT_EQ(hello(s, "250-mx\r\n250 REQUIRETLS\r\n"), "QUIT\r\n|<done>");
    expect_requiretls_failure(s, "not encrypted");
  }
  {
    Session s(requiretls(), options());
    hello(s, "250-mx\r\n250-REQUIRETLS\r\n250 STARTTLS\r\n");
    EXPECT_EQ(step(s, "454 4.7.0 no TLS\r\n"), "QUIT\r\n|<done>");
    expect_requiretls_failure(s, "not encrypted");
  }
  {
    Session s(requiretls(), options(TlsMode::none));
    EXPECT_EQ(hello(s, "250-mx\r\n250-REQUIRETLS\r\n250 STARTTLS\r\n"), "QUIT\r\n|<done>");
    expect_requiretls_failure(s, "not encrypted");
  }
}

TEST(RequireTls, ImplicitTls) {
  for (bool authenticated : {true, false}) {
    SessionOptions o = options(TlsMode::required);
    o.tls_active = true;
    o.tls_authenticated = authenticated;
    Session s(requiretls(), o);
    std::string got = hello(s, "250-mx\r\n250 REQUIRETLS\r\n");
    if (authenticated) {
      EXPECT_EQ(got, "MAIL FROM:<sender@example.net> REQUIRETLS\r\n|<recv>");
    } else {
      EXPECT_EQ(got, "QUIT\r\n|<done>");
      expect_requiretls_failure(s, "not authenticated");
    }
  }
}

TEST(RequireTls, NotRequestedSendsNoParameter) {
  Session s(envelope(), options());
  EXPECT_EQ(via_starttls(s, true, "250-mx\r\n250 REQUIRETLS\r\n"),
            "MAIL FROM:<sender@example.net>\r\n|<recv>");
}

}  // namespace
}  // namespace mx::smtp
