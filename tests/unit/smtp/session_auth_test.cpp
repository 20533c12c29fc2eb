// Dialogue tests for SMTP AUTH (RFC 4954) in the session: mechanism choice, initial responses,
// challenges, SCRAM against GNU SASL's server side, failures, and log redaction.
#include <gsasl.h>
#include <gtest/gtest.h>

#include <string>

#include "core/unique_handle.hpp"
#include "dialog.hpp"
#include "sasl/mechanisms.hpp"
#include "smtp/session.hpp"

namespace mx::smtp {
namespace {

using namespace dialog;
using sasl::base64_decode;
using sasl::base64_encode;

constexpr const char* kMail = "MAIL FROM:<sender@example.net>\r\n|<recv>";

AuthOptions auth(std::string password = "pw-secret") {
  AuthOptions a;
  a.credentials = {"alice", std::move(password), std::nullopt};
  return a;
}

SessionOptions auth_options(AuthOptions a, TlsMode tls = TlsMode::required) {
  SessionOptions o = options(tls);
  o.auth = std::move(a);
  return o;
}

// Greeting, EHLO, STARTTLS, handshake, second EHLO answered with `caps`.
std::string after_tls(Session& s, std::string_view caps,
                      std::optional<sasl::ChannelBinding> binding = std::nullopt) {
  EXPECT_EQ(hello(s, "250-mx.example.org\r\n250 STARTTLS\r\n"), "STARTTLS\r\n|<recv>");
  EXPECT_EQ(step(s, "220 go\r\n"), "<tls>");
  s.tls_started(false, std::move(binding));
  EXPECT_EQ(step(s), kEhlo);
  return step(s, caps);
}

// Every line the client logged so far (drives next() like step() does).
std::vector<std::string> logged(Session& s, std::string_view server, std::string* bytes) {
  if (!server.empty()) s.feed(server);
  std::vector<std::string> lines;
  for (int i = 0; i < 10; ++i) {
    Action a = s.next();
    auto* send = std::get_if<Send>(&a);
    if (!send) break;
    *bytes += send->bytes;
    lines.insert(lines.end(), send->log_lines.begin(), send->log_lines.end());
  }
  return lines;
}

TEST(SessionAuth, PlainWithInitialResponse) {
  Session s(envelope(), auth_options(auth()));
  std::string ir = base64_encode(std::string("\0alice\0pw-secret", 16));
  EXPECT_EQ(after_tls(s, "250-mx.example.org\r\n250 AUTH PLAIN LOGIN\r\n"),
            "AUTH PLAIN " + ir + "\r\n|<recv>");
  EXPECT_EQ(s.phase(), Phase::auth);
  EXPECT_FALSE(s.authenticated());
  EXPECT_EQ(step(s, "235 2.7.0 Authentication successful\r\n"), kMail);
  EXPECT_TRUE(s.authenticated());
}

TEST(SessionAuth, LogLinesAreRedacted) {
  Session s(envelope(), auth_options(auth()));
  EXPECT_EQ(hello(s, "250-mx.example.org\r\n250 STARTTLS\r\n"), "STARTTLS\r\n|<recv>");
  EXPECT_EQ(step(s, "220 go\r\n"), "<tls>");
  s.tls_started(false);
  std::string bytes;
  EXPECT_EQ(logged(s, "", &bytes), std::vector<std::string>{"EHLO client.example.net"});
  auto lines = logged(s, "250-mx.example.org\r\n250 AUTH PLAIN\r\n", &bytes);
  EXPECT_EQ(lines, std::vector<std::string>{"AUTH PLAIN <redacted>"});
  EXPECT_NE(bytes.find(base64_encode(std::string("\0alice\0pw-secret", 16))), std::string::npos);
  for (const auto& l : lines) EXPECT_EQ(l.find(base64_encode("pw")), std::string::npos);
}

TEST(SessionAuth, LoginAnswersTwoChallengesRedacted) {
  AuthOptions a = auth();
  a.mechanism = "LOGIN";
  Session s(envelope(), auth_options(a));
  EXPECT_EQ(after_tls(s, "250-mx\r\n250 AUTH LOGIN PLAIN\r\n"), "AUTH LOGIN\r\n|<recv>");
  std::string bytes;
  auto l1 = logged(s, "334 VXNlcm5hbWU6\r\n", &bytes);
  EXPECT_EQ(bytes, base64_encode("alice") + "\r\n");
  EXPECT_EQ(l1, std::vector<std::string>{"<redacted>"});
  bytes.clear();
  auto l2 = logged(s, "334 UGFzc3dvcmQ6\r\n", &bytes);
  EXPECT_EQ(bytes, base64_encode("pw-secret") + "\r\n");
  EXPECT_EQ(l2, std::vector<std::string>{"<redacted>"});
  EXPECT_EQ(step(s, "235 ok\r\n"), kMail);
}

// A GNU SASL server on the other side of the dialogue.
class GsaslServer {
 public:
  GsaslServer(const char* mech, std::string password, std::string exporter = {})
      : password_(std::move(password)), exporter_(std::move(exporter)) {
    Gsasl* raw = nullptr;
    gsasl_init(&raw);
    ctx_.reset(raw);
    gsasl_callback_set(ctx_.get(), &GsaslServer::callback);
    gsasl_callback_hook_set(ctx_.get(), this);
    Gsasl_session* s = nullptr;
    gsasl_server_start(ctx_.get(), mech, &s);
    session_.reset(s);
  }
  // The server's reply to one client line (base64, no CRLF).
  std::string reply_to(const std::string& client_b64) {
    if (done_) return client_b64.empty() ? "235 2.7.0 ok\r\n" : "501 unexpected data\r\n";
    auto raw = base64_decode(client_b64);
    if (!raw) return "501 bad base64\r\n";
    char* out = nullptr;
    std::size_t n = 0;
    int rc = gsasl_step(session_.get(), raw->data(), raw->size(), &out, &n);
    UniqueHandle<char, &gsasl_free> owned(out);
    if (rc == GSASL_NEEDS_MORE) return "334 " + base64_encode(std::string(out, n)) + "\r\n";
    if (rc == GSASL_OK) {
      done_ = true;
      if (n == 0) return "235 2.7.0 ok\r\n";
      return "334 " + base64_encode(std::string(out, n)) + "\r\n";
    }
    return "535 5.7.8 Authentication credentials invalid\r\n";
  }
  bool done() const { return done_; }

 private:
  static int callback(Gsasl* ctx, Gsasl_session* s, Gsasl_property p) {
    auto* self = static_cast<GsaslServer*>(gsasl_callback_hook_get(ctx));
    if (p == GSASL_PASSWORD) {
      gsasl_property_set(s, p, self->password_.c_str());
      return GSASL_OK;
    }
    if (p == GSASL_CB_TLS_EXPORTER && !self->exporter_.empty()) {
      gsasl_property_set(s, p, base64_encode(self->exporter_).c_str());
      return GSASL_OK;
    }
    return GSASL_NO_CALLBACK;
  }
  std::string password_;
  std::string exporter_;
  bool done_ = false;
  UniqueHandle<Gsasl, &gsasl_done> ctx_;
  UniqueHandle<Gsasl_session, &gsasl_finish> session_;
};

// Runs the client's AUTH lines through `server` until the session leaves AUTH.
std::string run_exchange(Session& s, GsaslServer& server, std::string first_line) {
  std::string line = std::move(first_line);
  for (int i = 0; i < 8; ++i) {
    // "AUTH MECH b64\r\n|<recv>" or "b64\r\n|<recv>"
    auto end = line.find("\r\n");
    std::string cmd = line.substr(0, end);
    if (cmd.starts_with("AUTH ")) {
      auto sp = cmd.find(' ', 5);
      cmd = sp == std::string::npos ? "" : cmd.substr(sp + 1);
    }
    std::string reply = server.reply_to(cmd == "=" ? "" : cmd);
    line = step(s, reply);
    if (reply.starts_with("235") || reply.starts_with("5")) return line;
  }
  return line;
}

TEST(SessionAuth, ScramSha256PlusMultiStep) {
  std::string ekm(32, 'k');
  GsaslServer server("SCRAM-SHA-256-PLUS", "pw-secret", ekm);
  Session s(envelope(), auth_options(auth()));
  std::string first = after_tls(s, "250-mx\r\n250 AUTH PLAIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS\r\n",
                                sasl::ChannelBinding{"tls-exporter", ekm});
  ASSERT_TRUE(first.starts_with("AUTH SCRAM-SHA-256-PLUS ")) << first;
  EXPECT_EQ(base64_decode(first.substr(24, first.find("\r\n") - 24))->substr(0, 16),
            "p=tls-exporter,,");
  EXPECT_EQ(run_exchange(s, server, first), kMail);
  EXPECT_TRUE(server.done());
  EXPECT_TRUE(s.authenticated());
}

TEST(SessionAuth, ScramPlusMismatchedBindingFails) {
  GsaslServer server("SCRAM-SHA-256-PLUS", "pw-secret", std::string(32, 'k'));
  Session s(envelope(), auth_options(auth()));
  std::string first = after_tls(s, "250-mx\r\n250 AUTH SCRAM-SHA-256-PLUS\r\n",
                                sasl::ChannelBinding{"tls-exporter", std::string(32, 'm')});
  EXPECT_EQ(run_exchange(s, server, first), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.reason, Reason::auth_refused);
  EXPECT_EQ(e.smtp_code, 535);
}

TEST(SessionAuth, ScramWithoutPlusAdvertisedSendsYFlag) {
  GsaslServer server("SCRAM-SHA-256", "pw-secret");
  Session s(envelope(), auth_options(auth()));
  std::string first = after_tls(s, "250-mx\r\n250 AUTH PLAIN SCRAM-SHA-256\r\n",
                                sasl::ChannelBinding{"tls-exporter", std::string(32, 'k')});
  ASSERT_TRUE(first.starts_with("AUTH SCRAM-SHA-256 ")) << first;
  EXPECT_EQ(base64_decode(first.substr(19, first.find("\r\n") - 19))->substr(0, 3), "y,,");
  EXPECT_EQ(run_exchange(s, server, first), kMail);
}

TEST(SessionAuth, ScramWithoutBindingUsesNonPlus) {
  GsaslServer server("SCRAM-SHA-1", "pw-secret");
  Session s(envelope(), auth_options(auth()));
  std::string first = after_tls(s, "250-mx\r\n250 AUTH SCRAM-SHA-1-PLUS SCRAM-SHA-1 PLAIN\r\n");
  ASSERT_TRUE(first.starts_with("AUTH SCRAM-SHA-1 ")) << first;
  EXPECT_EQ(run_exchange(s, server, first), kMail);
}

TEST(SessionAuth, ScramWrongPassword) {
  GsaslServer server("SCRAM-SHA-256", "other");
  Session s(envelope(), auth_options(auth()));
  std::string first = after_tls(s, "250-mx\r\n250 AUTH SCRAM-SHA-256\r\n");
  EXPECT_EQ(run_exchange(s, server, first), "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(s).reason, Reason::auth_refused);
}

TEST(SessionAuth, SuccessBeforeScramCompletedIsRejected) {
  Session s(envelope(), auth_options(auth()));
  std::string first = after_tls(s, "250-mx\r\n250 AUTH SCRAM-SHA-256\r\n");
  ASSERT_TRUE(first.starts_with("AUTH SCRAM-SHA-256 "));
  EXPECT_EQ(step(s, "235 fine\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.reason, Reason::protocol);
  EXPECT_FALSE(s.authenticated());
}

TEST(SessionAuth, Reply535IsPermanentAuthRefused) {
  Session s(envelope(), auth_options(auth()));
  after_tls(s, "250-mx\r\n250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN\r\n");
  EXPECT_EQ(step(s, "535 5.7.8 Authentication credentials invalid\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_TRUE(e.permanent());
  EXPECT_EQ(e.reason, Reason::auth_refused);
  EXPECT_EQ(e.detail, "authentication failed");
  EXPECT_EQ(e.enhanced, "5.7.8");
  EXPECT_EQ(e.command, "AUTH PLAIN");
  EXPECT_FALSE(s.outcome().delivered);
}

TEST(SessionAuth, Reply534And538ArePermanent) {
  for (const char* reply : {"534 5.7.9 mechanism too weak\r\n", "538 5.7.11 encryption\r\n",
                            "504 5.5.4 unrecognized\r\n"}) {
    Session s(envelope(), auth_options(auth()));
    after_tls(s, "250-mx\r\n250 AUTH PLAIN\r\n");
    EXPECT_EQ(step(s, reply), "QUIT\r\n|<done>");
    Error e = error_of(s);
    EXPECT_TRUE(e.permanent()) << reply;
    EXPECT_EQ(e.reason, Reason::auth_refused) << reply;
  }
}

TEST(SessionAuth, Reply454IsTemporary) {
  Session s(envelope(), auth_options(auth()));
  after_tls(s, "250-mx\r\n250 AUTH PLAIN\r\n");
  EXPECT_EQ(step(s, "454 4.7.0 Temporary authentication failure\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_TRUE(e.temporary());
  EXPECT_EQ(e.smtp_code, 454);
}

TEST(SessionAuth, UnexpectedReplyIsProtocolError) {
  Session s(envelope(), auth_options(auth()));
  after_tls(s, "250-mx\r\n250 AUTH PLAIN\r\n");
  EXPECT_EQ(step(s, "250 what\r\n"), "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(s).reason, Reason::protocol);
}

TEST(SessionAuth, MalformedChallengeIsCancelled) {
  AuthOptions a = auth();
  a.mechanism = "LOGIN";
  Session s(envelope(), auth_options(a));
  EXPECT_EQ(after_tls(s, "250-mx\r\n250 AUTH LOGIN\r\n"), "AUTH LOGIN\r\n|<recv>");
  EXPECT_EQ(step(s, "334 not*base64\r\n"), "*\r\n|<recv>");
  EXPECT_EQ(s.phase(), Phase::auth);
  EXPECT_EQ(step(s, "501 5.7.0 cancelled\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_EQ(e.reason, Reason::protocol);
  EXPECT_EQ(e.detail, "malformed base64 in the AUTH challenge");
}

TEST(SessionAuth, ChallengeAfterCompletionIsCancelled) {
  Session s(envelope(), auth_options(auth()));
  after_tls(s, "250-mx\r\n250 AUTH PLAIN\r\n");
  EXPECT_EQ(step(s, "334 \r\n"), "*\r\n|<recv>");
  EXPECT_EQ(step(s, "501 cancelled\r\n"), "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(s).reason, Reason::protocol);
}

TEST(SessionAuth, NoCommonMechanism) {
  Session s(envelope(), auth_options(auth()));
  EXPECT_EQ(after_tls(s, "250-mx\r\n250 AUTH GSSAPI NTLM\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_TRUE(e.permanent());
  EXPECT_EQ(e.stage, Stage::config);
  EXPECT_NE(e.detail.find("GSSAPI NTLM"), std::string::npos);
}

TEST(SessionAuth, NoAuthAdvertised) {
  Session s(envelope(), auth_options(auth()));
  EXPECT_EQ(after_tls(s, "250-mx\r\n250 8BITMIME\r\n"), "QUIT\r\n|<done>");
  EXPECT_TRUE(error_of(s).permanent());
}

TEST(SessionAuth, ExplicitMechanismNotOffered) {
  AuthOptions a = auth();
  a.mechanism = "CRAM-MD5";
  Session s(envelope(), auth_options(a));
  EXPECT_EQ(after_tls(s, "250-mx\r\n250 AUTH PLAIN LOGIN\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_TRUE(e.permanent());
  EXPECT_EQ(e.detail, "the server does not offer AUTH CRAM-MD5 (it offers: PLAIN LOGIN)");
}

TEST(SessionAuth, ExplicitMechanismHonoured) {
  AuthOptions a = auth();
  a.mechanism = "CRAM-MD5";
  Session s(envelope(), auth_options(a));
  EXPECT_EQ(after_tls(s, "250-mx\r\n250 AUTH SCRAM-SHA-256 CRAM-MD5 PLAIN\r\n"),
            "AUTH CRAM-MD5\r\n|<recv>");
  std::string out = step(s, "334 " + base64_encode("<1.2@mx>") + "\r\n");
  auto resp = base64_decode(out.substr(0, out.find("\r\n")));
  ASSERT_TRUE(resp);
  EXPECT_TRUE(resp->starts_with("alice ")) << *resp;
  EXPECT_EQ(resp->size(), 6u + 32u);  // RFC 2195: user, space, hex HMAC-MD5
  EXPECT_EQ(step(s, "235 ok\r\n"), kMail);
}

TEST(SessionAuth, RefusedWithoutTls) {
  // Opportunistic TLS, server without STARTTLS: the credentials must not go out in clear.
  Session s(envelope(), auth_options(auth(), TlsMode::opportunistic));
  EXPECT_EQ(hello(s, "250-mx.example.org\r\n250 AUTH PLAIN LOGIN\r\n"), "QUIT\r\n|<done>");
  Error e = error_of(s);
  EXPECT_TRUE(e.permanent());
  EXPECT_EQ(e.detail, "refusing to authenticate over an unencrypted connection");
}

TEST(SessionAuth, RefusedWhenStartTlsDeclined) {
  Session s(envelope(), auth_options(auth(), TlsMode::opportunistic));
  EXPECT_EQ(hello(s, "250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"), "STARTTLS\r\n|<recv>");
  EXPECT_EQ(step(s, "454 4.7.0 TLS not available\r\n"), "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(s).detail, "refusing to authenticate over an unencrypted connection");
}

TEST(SessionAuth, RefusedWithTlsModeNone) {
  Session s(envelope(), auth_options(auth(), TlsMode::none));
  EXPECT_EQ(hello(s, "250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"), "QUIT\r\n|<done>");
  EXPECT_EQ(error_of(s).detail, "refusing to authenticate over an unencrypted connection");
}

TEST(SessionAuth, ImplicitTlsTakesBindingFromOptions) {
  std::string ekm(32, 'i');
  GsaslServer server("SCRAM-SHA-1-PLUS", "pw-secret", ekm);
  SessionOptions o = auth_options(auth());
  o.tls_active = true;
  o.channel_binding = sasl::ChannelBinding{"tls-exporter", ekm};
  Session s(envelope(), o);
  std::string first = hello(s, "250-mx\r\n250 AUTH SCRAM-SHA-1-PLUS PLAIN\r\n");
  ASSERT_TRUE(first.starts_with("AUTH SCRAM-SHA-1-PLUS ")) << first;
  EXPECT_EQ(run_exchange(s, server, first), kMail);
}

TEST(SessionAuth, ExternalWithClientCertificate) {
  AuthOptions a;
  a.client_certificate = true;
  Session s(envelope(), auth_options(a));
  EXPECT_EQ(after_tls(s, "250-mx\r\n250 AUTH PLAIN EXTERNAL\r\n"), "AUTH EXTERNAL =\r\n|<recv>");
  EXPECT_EQ(step(s, "235 ok\r\n"), kMail);
}

TEST(SessionAuth, ExternalWithAuthzid) {
  AuthOptions a;
  a.client_certificate = true;
  a.credentials.authzid = "alice@example.net";
  Session s(envelope(), auth_options(a));
  EXPECT_EQ(after_tls(s, "250-mx\r\n250 AUTH EXTERNAL\r\n"),
            "AUTH EXTERNAL " + base64_encode("alice@example.net") + "\r\n|<recv>");
}

TEST(SessionAuth, AuthOnceForSeveralMessages) {
  SessionOptions o = auth_options(auth());
  o.keep_open = true;
  Session s(envelope(), o);
  after_tls(s, "250-mx\r\n250 AUTH PLAIN\r\n");
  EXPECT_EQ(step(s, "235 ok\r\n"), kMail);
  EXPECT_EQ(step(s, "250 ok\r\n"), "RCPT TO:<rcpt@example.org>\r\n|<recv>");
  EXPECT_EQ(step(s, "250 ok\r\n"), "DATA\r\n|<recv>");
  EXPECT_EQ(step(s, "354 go\r\n"), "<body>");
  s.body_sent();
  EXPECT_EQ(step(s, "250 queued\r\n"), "<idle>");
  s.start_transaction(envelope());
  EXPECT_EQ(step(s), kMail);  // no second AUTH
}

TEST(SessionAuth, NoAuthWithoutOptions) {
  Session s(envelope(), options(TlsMode::required));
  EXPECT_EQ(after_tls(s, "250-mx\r\n250 AUTH PLAIN\r\n"), kMail);
}

}  // namespace
}  // namespace mx::smtp
