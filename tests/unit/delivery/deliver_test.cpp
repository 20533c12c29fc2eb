// delivery::deliver against scripted SMTP servers on loopback and a fake resolver: which server
// is tried next, which outcome is final, and what each recipient ends with.
#include "delivery/deliver.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>

#include "support/smtp_server.hpp"
#include "unit/dns/fake_resolver.hpp"

namespace mx::delivery {
namespace {

using dns::testing::FakeResolver;
using mx::testing::ServerScript;
using mx::testing::SmtpServer;

class DeliverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ctx = tls::Context::create(tls::ContextOptions{});
    ASSERT_TRUE(ctx) << ctx.error().detail;
    tls_ = std::make_unique<tls::Context>(std::move(*ctx));
  }

  /// Starts a server on `ip`, all servers sharing one port (the MX port of the Environment).
  SmtpServer& server(const std::string& ip, ServerScript script = {}) {
    servers_.push_back(std::make_unique<SmtpServer>(ip, port_, std::move(script)));
    port_ = servers_.back()->port();
    return *servers_.back();
  }

  Report run(std::vector<std::string> recipients, std::string body = "Subject: t\r\n\r\nhi\r\n",
             Level level = Level::dane, std::vector<Route> routes = {},
             std::vector<std::size_t> recipient_routes = {}) {
    Request req;
    req.level = level;
    req.routes = std::move(routes);
    req.recipient_routes = std::move(recipient_routes);
    req.reverse_path = "sender@client.example";
    req.recipients = std::move(recipients);
    req.helo_name = "client.example";
    auto spool = message::Spool::from_string(body);
    Environment env(resolver_, *tls_, progress_);
    env.port = port_;
    env.timeouts.connect = std::chrono::milliseconds(2000);
    env.timeouts.tls_handshake = std::chrono::milliseconds(500);
    env.random = [] { return 0u; };
    env.mta_sts = mta_sts_;
    return deliver(req, spool, env);
  }

  /// An MTA-STS lookup that found no policy because the fetch failed with `stage`.
  void sts_fetch_fails(Stage stage, std::string why) {
    mta_sts_ = [stage, why](const std::string&) -> std::optional<mtasts::PolicyLookup> {
      mtasts::PolicyLookup l;
      l.fetch_error = temporary_error(stage, why);
      return l;
    };
  }

  FakeResolver resolver_;
  NullProgress progress_;
  std::unique_ptr<tls::Context> tls_;
  std::vector<std::unique_ptr<SmtpServer>> servers_;
  std::uint16_t port_ = 0;
  std::function<std::optional<mtasts::PolicyLookup>(const std::string&)> mta_sts_;
};

TEST_F(DeliverTest, MtaStsThatCannotBeCheckedHereDefersHostsWithoutDane) {
  SmtpServer& a = server("127.0.0.2");
  resolver_.add_mx("d.example", 10, "a.d.example");
  resolver_.add_a("a.d.example", "127.0.0.2");
  sts_fetch_fails(Stage::internal, "cannot load libcurl.so.4: no such file");
  Report r = run({"rcpt@d.example"});
  ASSERT_EQ(r.recipients.size(), 1u);
  ASSERT_TRUE(r.recipients[0].error);
  EXPECT_TRUE(r.recipients[0].error->temporary());
  EXPECT_NE(r.recipients[0].error->detail.find("cannot check MTA-STS: cannot load libcurl.so.4"),
            std::string::npos)
      << r.recipients[0].error->detail;
  EXPECT_TRUE(a.messages().empty());
}

TEST_F(DeliverTest, MtaStsFetchFailureAtThePolicyHostMeansNoPolicy) {
  SmtpServer& a = server("127.0.0.2");
  resolver_.add_mx("d.example", 10, "a.d.example");
  resolver_.add_a("a.d.example", "127.0.0.2");
  sts_fetch_fails(Stage::connect, "connection refused");  // RFC 8461 §3.3: no cached policy
  Report r = run({"rcpt@d.example"});
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_FALSE(r.recipients[0].error) << r.recipients[0].error->describe();
  EXPECT_EQ(a.messages().size(), 1u);
}

TEST_F(DeliverTest, FirstServerDownSecondDelivers) {
  SmtpServer& b = server("127.0.0.2");
  resolver_.add_mx("d.example", 10, "a.d.example");
  resolver_.add_mx("d.example", 20, "b.d.example");
  resolver_.add_a("a.d.example", "127.0.0.4");  // nothing listens there
  resolver_.add_a("b.d.example", "127.0.0.2");
  Report r = run({"rcpt@d.example"});
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_FALSE(r.recipients[0].error) << r.recipients[0].error->describe();
  EXPECT_EQ(r.recipients[0].delivered_via, "b.d.example [127.0.0.2]");
  EXPECT_EQ(r.recipients[0].smtp_code, 250);  // the final reply, for the report
  EXPECT_EQ(r.recipients[0].enhanced_code, "2.0.0");
  EXPECT_EQ(r.recipients[0].server_reply, "queued");
  ASSERT_EQ(b.messages().size(), 1u);
  EXPECT_EQ(b.messages()[0], "Subject: t\r\n\r\nhi\r\n");
  // The record of the run: the DNS path and both attempts.
  ASSERT_EQ(r.domains.size(), 1u);
  const DomainRecord& d = r.domains[0];
  EXPECT_EQ(d.domain, "d.example");
  ASSERT_TRUE(d.destinations);
  EXPECT_EQ(d.destinations->hosts.size(), 2u);
  ASSERT_EQ(d.attempts.size(), 2u);
  EXPECT_EQ(d.attempts[0].address, "127.0.0.4");
  ASSERT_TRUE(d.attempts[0].error);
  EXPECT_EQ(d.attempts[0].error->stage, Stage::connect);
  EXPECT_EQ(d.attempts[1].host, "b.d.example");
  EXPECT_FALSE(d.attempts[1].error);
  EXPECT_EQ(d.attempts[1].delivered, std::vector<std::string>{"rcpt@d.example"});
  EXPECT_EQ(d.attempts[1].via, "directly");
}

TEST_F(DeliverTest, FiveHundredGreetingMovesOn) {
  ServerScript refuse;
  refuse.greeting = "554 5.7.1 go away\r\n";
  SmtpServer& a = server("127.0.0.2", refuse);
  SmtpServer& b = server("127.0.0.3");
  resolver_.add_mx("d.example", 10, "a.d.example");
  resolver_.add_mx("d.example", 20, "b.d.example");
  resolver_.add_a("a.d.example", "127.0.0.2");
  resolver_.add_a("b.d.example", "127.0.0.3");
  Report r = run({"rcpt@d.example"});
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_FALSE(r.recipients[0].error);
  EXPECT_EQ(a.connections(), 1);
  EXPECT_EQ(b.messages().size(), 1u);
}

TEST_F(DeliverTest, TemporaryRcptMovesOnPermanentRcptIsFinal) {
  ServerScript picky;
  picky.on_command = [](const std::string& line) -> std::string {
    if (line.starts_with("RCPT TO:<later@")) return "451 4.3.0 try later\r\n";
    if (line.starts_with("RCPT TO:<nobody@")) return "550 5.1.1 no such user\r\n";
    return "";
  };
  picky.ehlo_reply = "250-a\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n";
  SmtpServer& a = server("127.0.0.2", picky);
  SmtpServer& b = server("127.0.0.3");
  resolver_.add_mx("d.example", 10, "a.d.example");
  resolver_.add_mx("d.example", 20, "b.d.example");
  resolver_.add_a("a.d.example", "127.0.0.2");
  resolver_.add_a("b.d.example", "127.0.0.3");
  Report r = run({"later@d.example", "nobody@d.example"});
  ASSERT_EQ(r.recipients.size(), 2u);
  const RecipientOutcome* later = nullptr;
  const RecipientOutcome* nobody = nullptr;
  for (const auto& o : r.recipients) (o.recipient.starts_with("later") ? later : nobody) = &o;
  ASSERT_TRUE(later && nobody);
  EXPECT_FALSE(later->error);
  EXPECT_EQ(later->delivered_via, "b.d.example [127.0.0.3]");
  ASSERT_TRUE(nobody->error);
  EXPECT_TRUE(nobody->error->permanent());
  EXPECT_EQ(nobody->error->enhanced, "5.1.1");
  // The pipelined DATA got 354 from this naive server: only the lone "." may follow (RFC 2920
  // §3.1).
  for (const auto& m : a.messages()) EXPECT_EQ(m, "");
  // The second server only saw the recipient that was still pending.
  int rcpts = 0;
  for (const auto& c : b.commands()) rcpts += c.starts_with("RCPT") ? 1 : 0;
  EXPECT_EQ(rcpts, 1);
}

TEST_F(DeliverTest, LostFinalReplyIsNotRetriedElsewhere) {
  ServerScript drop;
  drop.final_reply = "";  // closes the connection after the final dot
  server("127.0.0.2", drop);
  SmtpServer& b = server("127.0.0.3");
  resolver_.add_mx("d.example", 10, "a.d.example");
  resolver_.add_mx("d.example", 20, "b.d.example");
  resolver_.add_a("a.d.example", "127.0.0.2");
  resolver_.add_a("b.d.example", "127.0.0.3");
  Report r = run({"rcpt@d.example"});
  ASSERT_EQ(r.recipients.size(), 1u);
  ASSERT_TRUE(r.recipients[0].error);
  EXPECT_TRUE(r.recipients[0].error->maybe_delivered);
  EXPECT_TRUE(r.recipients[0].error->temporary());
  EXPECT_EQ(b.connections(), 0);
}

TEST_F(DeliverTest, AtMostTwoSessions) {
  ServerScript busy;
  busy.greeting = "421 4.3.2 busy\r\n";
  SmtpServer& a = server("127.0.0.2", busy);
  SmtpServer& b = server("127.0.0.3", busy);
  SmtpServer& c = server("127.0.0.5", busy);
  resolver_.add_mx("d.example", 10, "a.d.example");
  resolver_.add_mx("d.example", 20, "b.d.example");
  resolver_.add_mx("d.example", 30, "c.d.example");
  resolver_.add_a("a.d.example", "127.0.0.2");
  resolver_.add_a("b.d.example", "127.0.0.3");
  resolver_.add_a("c.d.example", "127.0.0.5");
  Report r = run({"rcpt@d.example"});
  ASSERT_EQ(r.recipients.size(), 1u);
  ASSERT_TRUE(r.recipients[0].error);
  EXPECT_TRUE(r.recipients[0].error->temporary());
  EXPECT_EQ(r.recipients[0].error->smtp_code, 421);
  EXPECT_EQ(a.connections() + b.connections() + c.connections(), 2);
}

TEST_F(DeliverTest, DnsFailureReachesEveryRecipientOfTheDomain) {
  resolver_.set_rcode("gone.example", dns::rrtype::MX, dns::rcode::nxdomain, dns::Security::secure);
  Report r = run({"a@gone.example", "b@gone.example"});
  ASSERT_EQ(r.recipients.size(), 2u);
  for (const auto& o : r.recipients) {
    ASSERT_TRUE(o.error);
    EXPECT_EQ(o.error->reason, Reason::no_such_domain);
    EXPECT_TRUE(o.error->permanent());
  }
}

TEST_F(DeliverTest, MailRejectionIsFinalForAllRecipients) {
  ServerScript no;
  no.on_command = [](const std::string& line) -> std::string {
    return line.starts_with("MAIL") ? "550 5.7.1 sender refused\r\n" : "";
  };
  server("127.0.0.2", no);
  SmtpServer& b = server("127.0.0.3");
  resolver_.add_mx("d.example", 10, "a.d.example");
  resolver_.add_mx("d.example", 20, "b.d.example");
  resolver_.add_a("a.d.example", "127.0.0.2");
  resolver_.add_a("b.d.example", "127.0.0.3");
  Report r = run({"x@d.example", "y@d.example"});
  ASSERT_EQ(r.recipients.size(), 2u);
  for (const auto& o : r.recipients) {
    ASSERT_TRUE(o.error);
    EXPECT_TRUE(o.error->permanent());
    EXPECT_EQ(o.error->smtp_code, 550);
  }
  EXPECT_EQ(b.connections(), 0);
}

TEST_F(DeliverTest, LostFinalReplyOnlyConcernsTheAcceptedRecipients) {
  ServerScript a_script;
  a_script.on_command = [](const std::string& line) -> std::string {
    return line.starts_with("RCPT TO:<second@") ? "452 4.5.3 too many recipients\r\n" : "";
  };
  a_script.final_reply = "";  // the connection drops after the final dot
  server("127.0.0.2", a_script);
  SmtpServer& b = server("127.0.0.3");
  resolver_.add_mx("d.example", 10, "a.d.example");
  resolver_.add_mx("d.example", 20, "b.d.example");
  resolver_.add_a("a.d.example", "127.0.0.2");
  resolver_.add_a("b.d.example", "127.0.0.3");
  Report r = run({"first@d.example", "second@d.example"});
  ASSERT_EQ(r.recipients.size(), 2u);
  ASSERT_TRUE(r.recipients[0].error);
  EXPECT_TRUE(r.recipients[0].error->maybe_delivered);
  EXPECT_FALSE(r.recipients[1].error) << r.recipients[1].error->describe();
  EXPECT_EQ(r.recipients[1].delivered_via, "b.d.example [127.0.0.3]");
  ASSERT_EQ(b.messages().size(), 1u);
}

TEST_F(DeliverTest, ChunkingSendsTheOctetsUnstuffedInTheSameWriteAsTheCommands) {
  ServerScript chunking;
  chunking.ehlo_reply = "250-c\r\n250-PIPELINING\r\n250 CHUNKING\r\n";
  SmtpServer& a = server("127.0.0.2", chunking);
  resolver_.add_mx("d.example", 10, "a.d.example");
  resolver_.add_a("a.d.example", "127.0.0.2");
  const std::string body = "Subject: dots\r\n\r\n.leading\r\n.\r\nend\r\n";
  Report r = run({"rcpt@d.example"}, body);
  ASSERT_FALSE(r.recipients[0].error) << r.recipients[0].error->describe();
  ASSERT_EQ(a.messages().size(), 1u);
  EXPECT_EQ(a.messages()[0], body);  // RFC 3030: no dot-stuffing, no terminator
  bool bdat = false;
  for (const auto& c : a.commands()) bdat |= c == "BDAT " + std::to_string(body.size()) + " LAST";
  EXPECT_TRUE(bdat);
  // TCP handshake, greeting, EHLO, then MAIL+RCPT+BDAT+body answered together.
  EXPECT_EQ(r.round_trips, 4);
}

TEST_F(DeliverTest, DomainsSharingAnMxHostShareOneConnection) {
  SmtpServer& a = server("127.0.0.2");
  resolver_.add_mx("one.example", 10, "mx.shared.example");
  resolver_.add_mx("two.example", 10, "mx.shared.example");
  resolver_.add_a("mx.shared.example", "127.0.0.2");
  Report r = run({"a@one.example", "b@two.example"});
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_FALSE(r.recipients[0].error);
  EXPECT_FALSE(r.recipients[1].error);
  EXPECT_EQ(a.connections(), 1);
  EXPECT_EQ(a.messages().size(), 2u);
  int quits = 0;
  for (const auto& c : a.commands()) quits += c == "QUIT" ? 1 : 0;
  EXPECT_EQ(quits, 1);
}

TEST_F(DeliverTest, RelayRouteCarriesEveryDomainInOneTransaction) {
  SmtpServer& relay = server("127.0.0.2");
  Route r;
  r.name = "smarthost";
  r.relay = RelayTarget{};
  r.relay->host = "127.0.0.2";
  r.relay->port = port_;
  r.relay->tls = smtp::TlsMode::none;
  // One recipient through the relay, one directly to its MX (no MX exists: it fails).
  Report rep = run({"a@one.example", "b@two.example", "c@direct.example"}, "x\r\n", Level::dane,
                   {r}, {0, 0, 1});
  ASSERT_EQ(rep.recipients.size(), 3u);
  EXPECT_FALSE(rep.recipients[0].error);
  EXPECT_FALSE(rep.recipients[1].error);
  ASSERT_TRUE(rep.recipients[2].error);  // went direct: no such domain in the fake DNS
  EXPECT_EQ(relay.messages().size(), 1u);
  int rcpts = 0;
  for (const auto& c : relay.commands()) rcpts += c.starts_with("RCPT") ? 1 : 0;
  EXPECT_EQ(rcpts, 2);
}

TEST_F(DeliverTest, RelayRequiringTlsRefusesAPlaintextRelay) {
  SmtpServer& relay = server("127.0.0.2");  // offers no STARTTLS
  Route r;
  r.name = "smarthost";
  r.relay = RelayTarget{};
  r.relay->host = "127.0.0.2";
  r.relay->port = port_;
  Report rep = run({"a@one.example"}, "x\r\n", Level::dane, {r}, {0});
  ASSERT_TRUE(rep.recipients[0].error);
  EXPECT_TRUE(rep.recipients[0].error->temporary());
  EXPECT_EQ(relay.messages().size(), 0u);
}

// A server that offers STARTTLS but cannot do TLS: the handshake fails.
ServerScript broken_tls() {
  ServerScript s;
  s.ehlo_reply = "250-broken\r\n250-PIPELINING\r\n250 STARTTLS\r\n";
  s.on_command = [](const std::string& line) -> std::string {
    return line == "STARTTLS" ? "220 go ahead\r\n" : "";
  };
  return s;
}

TEST_F(DeliverTest, OpportunisticTlsFailureIsRetriedInPlaintext) {
  SmtpServer& a = server("127.0.0.2", broken_tls());
  resolver_.add_mx("d.example", 10, "a.d.example");
  resolver_.add_a("a.d.example", "127.0.0.2");
  Report r = run({"rcpt@d.example"});
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_FALSE(r.recipients[0].error) << r.recipients[0].error->describe();
  EXPECT_EQ(r.recipients[0].security, "no TLS");
  EXPECT_EQ(a.connections(), 2);
  EXPECT_EQ(a.messages().size(), 1u);
}

TEST_F(DeliverTest, RequiredTlsIsNeverRetriedInPlaintext) {
  SmtpServer& a = server("127.0.0.2", broken_tls());
  resolver_.add_mx("d.example", 10, "a.d.example");
  resolver_.add_a("a.d.example", "127.0.0.2");
  Report r = run({"rcpt@d.example"}, "x\r\n", Level::encrypt);
  ASSERT_EQ(r.recipients.size(), 1u);
  ASSERT_TRUE(r.recipients[0].error);
  EXPECT_TRUE(r.recipients[0].error->temporary());
  EXPECT_EQ(r.recipients[0].error->stage, Stage::tls);
  EXPECT_EQ(a.connections(), 1);
  EXPECT_EQ(a.messages().size(), 0u);
}

TEST_F(DeliverTest, RequiredTlsWithoutStartTlsSkipsTheHost) {
  SmtpServer& a = server("127.0.0.2");  // no STARTTLS offered
  resolver_.add_mx("d.example", 10, "a.d.example");
  resolver_.add_a("a.d.example", "127.0.0.2");
  Report r = run({"rcpt@d.example"}, "x\r\n", Level::encrypt);
  ASSERT_TRUE(r.recipients[0].error);
  EXPECT_TRUE(r.recipients[0].error->temporary());
  EXPECT_EQ(a.messages().size(), 0u);
  for (const auto& c : a.commands()) EXPECT_FALSE(c.starts_with("MAIL")) << c;
  ASSERT_EQ(r.domains.at(0).attempts.size(), 1u);
  EXPECT_EQ(r.domains[0].attempts[0].tlsrpt_result, "starttls-not-supported");
}

}  // namespace
}  // namespace mx::delivery
