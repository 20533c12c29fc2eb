// Client mechanisms against GNU SASL's server side in-process: every mechanism, channel
// binding (matching, mismatched, the "y" flag), wrong passwords, and bad server data.
#include <gsasl.h>
#include <gtest/gtest.h>

#include <string>

#include "core/unique_handle.hpp"
#include "sasl/client.hpp"
#include "sasl/mechanisms.hpp"

namespace mx::sasl {
namespace {

// What the in-process server knows: the password, its view of the channel binding, and what
// it saw of the client.
struct ServerConfig {
  std::string password = "s3cret-pw";
  std::string exporter;  // raw; empty = the server has no such binding
  std::string unique;
  bool external_ok = true;
  std::string seen_authzid;
  std::string seen_authid;
};

int server_callback(Gsasl* ctx, Gsasl_session* s, Gsasl_property prop) {
  auto* cfg = static_cast<ServerConfig*>(gsasl_callback_hook_get(ctx));
  auto set_b64 = [&](const std::string& raw) {
    if (raw.empty()) return static_cast<int>(GSASL_NO_CALLBACK);
    gsasl_property_set(s, prop, base64_encode(raw).c_str());
    return static_cast<int>(GSASL_OK);
  };
  switch (prop) {
    case GSASL_PASSWORD:
      gsasl_property_set(s, prop, cfg->password.c_str());
      return GSASL_OK;
    case GSASL_CB_TLS_EXPORTER:
      return set_b64(cfg->exporter);
    case GSASL_CB_TLS_UNIQUE:
      return set_b64(cfg->unique);
    case GSASL_VALIDATE_EXTERNAL: {
      const char* z = gsasl_property_fast(s, GSASL_AUTHZID);
      cfg->seen_authzid = z ? z : "";
      return cfg->external_ok ? GSASL_OK : GSASL_AUTHENTICATION_ERROR;
    }
    case GSASL_VALIDATE_SIMPLE: {
      const char* id = gsasl_property_fast(s, GSASL_AUTHID);
      const char* pw = gsasl_property_fast(s, GSASL_PASSWORD);
      const char* z = gsasl_property_fast(s, GSASL_AUTHZID);
      cfg->seen_authid = id ? id : "";
      cfg->seen_authzid = z ? z : "";
      return pw && cfg->password == pw ? GSASL_OK : GSASL_AUTHENTICATION_ERROR;
    }
    default:
      return GSASL_NO_CALLBACK;
  }
}

struct Outcome {
  bool server_ok = false;  // the server accepted
  bool client_ok = false;  // the client finished without error (and verified the server)
  std::string first_client_message;
  std::optional<Error> client_error;
  int server_rc = GSASL_OK;
};

// Runs a whole exchange between our Client and a libgsasl server session.
Outcome run(const std::string& mech, const Credentials& creds, ServerConfig& server,
            const StartOptions& opts = {}) {
  Outcome out;
  Gsasl* raw = nullptr;
  EXPECT_EQ(gsasl_init(&raw), GSASL_OK);
  UniqueHandle<Gsasl, &gsasl_done> ctx(raw);
  gsasl_callback_set(ctx.get(), server_callback);
  gsasl_callback_hook_set(ctx.get(), &server);
  Gsasl_session* rs = nullptr;
  EXPECT_EQ(gsasl_server_start(ctx.get(), mech.c_str(), &rs), GSASL_OK);
  UniqueHandle<Gsasl_session, &gsasl_finish> srv(rs);

  auto client = Client::start(mech, creds, opts);
  if (!client) {
    out.client_error = client.error();
    return out;
  }
  std::string to_client;  // server challenge
  bool server_turn = !client->client_first();
  int server_rc = GSASL_NEEDS_MORE;
  std::string to_server;
  for (int round = 0; round < 10; ++round) {
    if (server_turn) {
      char* o = nullptr;
      std::size_t n = 0;
      server_rc = gsasl_step(srv.get(), to_server.data(), to_server.size(), &o, &n);
      UniqueHandle<char, &gsasl_free> owned(o);
      out.server_rc = server_rc;
      if (server_rc != GSASL_OK && server_rc != GSASL_NEEDS_MORE) return out;
      to_client.assign(o ? o : "", n);
      if (server_rc == GSASL_OK) out.server_ok = true;
      // RFC 4954: a server's success data goes as a final 334 challenge the client answers.
      if (server_rc == GSASL_OK && to_client.empty()) {
        out.client_ok = client->complete();
        return out;
      }
    } else {
      auto st = client->step(to_client);
      if (!st) {
        out.client_error = st.error();
        return out;
      }
      if (out.first_client_message.empty()) out.first_client_message = st->client_data;
      to_server = st->client_data;
      if (st->complete && out.server_ok) {
        out.client_ok = true;
        return out;
      }
    }
    server_turn = !server_turn;
  }
  ADD_FAILURE() << "exchange did not end";
  return out;
}

Credentials creds(std::string password = "s3cret-pw") {
  return Credentials{"alice", std::move(password), std::nullopt};
}

std::string exporter_bytes(char fill = 'x') {
  return std::string(32, fill);
}

// --- Every mechanism succeeds and fails on a wrong password ------------------------------------

class PasswordMechanisms : public ::testing::TestWithParam<const char*> {};

TEST_P(PasswordMechanisms, Succeeds) {
  ServerConfig server;
  Outcome o = run(GetParam(), creds(), server);
  EXPECT_TRUE(o.server_ok);
  EXPECT_TRUE(o.client_ok) << (o.client_error ? o.client_error->describe() : "");
}

TEST_P(PasswordMechanisms, WrongPasswordFails) {
  ServerConfig server;
  Outcome o = run(GetParam(), creds("wrong"), server);
  EXPECT_FALSE(o.server_ok);
  EXPECT_FALSE(o.client_ok);
}

INSTANTIATE_TEST_SUITE_P(All, PasswordMechanisms,
                         ::testing::Values("SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN",
                                           "LOGIN"));

TEST(SaslClient, PlainSendsAuthzidAuthcidPassword) {
  auto c = Client::start("plain", {"alice", "pw", "bob"});
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->mechanism(), "PLAIN");
  EXPECT_TRUE(c->client_first());
  auto st = c->step("");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->client_data, std::string("bob\0alice\0pw", 12));
  EXPECT_TRUE(st->complete);
}

TEST(SaslClient, PlainAuthzidReachesServer) {
  ServerConfig server;
  Outcome o = run("PLAIN", {"alice", "s3cret-pw", "bob"}, server);
  EXPECT_TRUE(o.server_ok);
  EXPECT_EQ(server.seen_authid, "alice");
  EXPECT_EQ(server.seen_authzid, "bob");
}

TEST(SaslClient, LoginAnswersTwoChallenges) {
  auto c = Client::start("LOGIN", creds());
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->client_first());
  auto u = c->step("Username:");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->client_data, "alice");
  EXPECT_FALSE(u->complete);
  auto p = c->step("Password:");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->client_data, "s3cret-pw");
  EXPECT_TRUE(p->complete);
}

TEST(SaslClient, ScramSha256PlainUsesNFlagWithoutBinding) {
  ServerConfig server;
  Outcome o = run("SCRAM-SHA-256", creds(), server);
  EXPECT_TRUE(o.client_ok);
  EXPECT_EQ(o.first_client_message.substr(0, 3), "n,,");
}

TEST(SaslClient, ScramAuthzid) {
  ServerConfig server;
  Outcome o = run("SCRAM-SHA-256", {"alice", "s3cret-pw", "bob"}, server);
  EXPECT_TRUE(o.client_ok);
  EXPECT_EQ(o.first_client_message.substr(0, 8), "n,a=bob,");
}

// --- External ---------------------------------------------------------------------------------

TEST(SaslClient, ExternalWithoutAuthzidSendsEmptyResponse) {
  ServerConfig server;
  Outcome o = run("EXTERNAL", {"", "", std::nullopt}, server);
  EXPECT_TRUE(o.server_ok);
  EXPECT_EQ(server.seen_authzid, "");
  auto c = Client::start("EXTERNAL", {"", "", std::nullopt});
  ASSERT_TRUE(c);
  auto st = c->step("");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->client_data, "");
  EXPECT_TRUE(st->complete);
}

TEST(SaslClient, ExternalSendsAuthzid) {
  ServerConfig server;
  Outcome o = run("EXTERNAL", {"", "", "postmaster@example.org"}, server);
  EXPECT_TRUE(o.server_ok);
  EXPECT_EQ(server.seen_authzid, "postmaster@example.org");
}

TEST(SaslClient, ExternalRefusedByServer) {
  ServerConfig server;
  server.external_ok = false;
  Outcome o = run("EXTERNAL", {"", "", std::nullopt}, server);
  EXPECT_FALSE(o.server_ok);
}

// --- Channel binding --------------------------------------------------------------------------

class PlusMechanisms : public ::testing::TestWithParam<const char*> {};

TEST_P(PlusMechanisms, MatchingTlsExporterSucceeds) {
  ServerConfig server;
  server.exporter = exporter_bytes();
  Outcome o = run(GetParam(), creds(), server, {ChannelBinding{"tls-exporter", exporter_bytes()}});
  EXPECT_TRUE(o.server_ok);
  EXPECT_TRUE(o.client_ok) << (o.client_error ? o.client_error->describe() : "");
  EXPECT_EQ(o.first_client_message.substr(0, 16), "p=tls-exporter,,");
}

TEST_P(PlusMechanisms, MismatchedTlsExporterFails) {
  ServerConfig server;
  server.exporter = exporter_bytes('x');
  Outcome o =
      run(GetParam(), creds(), server, {ChannelBinding{"tls-exporter", exporter_bytes('y')}});
  EXPECT_FALSE(o.server_ok);
  EXPECT_FALSE(o.client_ok);
  EXPECT_EQ(o.server_rc, GSASL_AUTHENTICATION_ERROR);
}

TEST_P(PlusMechanisms, MatchingTlsUniqueSucceeds) {
  ServerConfig server;
  server.unique = "finished-12b";
  Outcome o = run(GetParam(), creds(), server, {ChannelBinding{"tls-unique", "finished-12b"}});
  EXPECT_TRUE(o.client_ok) << (o.client_error ? o.client_error->describe() : "");
  EXPECT_EQ(o.first_client_message.substr(0, 14), "p=tls-unique,,");
}

TEST_P(PlusMechanisms, MismatchedTlsUniqueFails) {
  ServerConfig server;
  server.unique = "finished-12b";
  Outcome o = run(GetParam(), creds(), server, {ChannelBinding{"tls-unique", "finished-12c"}});
  EXPECT_FALSE(o.server_ok);
}

TEST_P(PlusMechanisms, WrongPasswordFails) {
  ServerConfig server;
  server.exporter = exporter_bytes();
  Outcome o =
      run(GetParam(), creds("nope"), server, {ChannelBinding{"tls-exporter", exporter_bytes()}});
  EXPECT_FALSE(o.server_ok);
}

TEST_P(PlusMechanisms, NeedsBinding) {
  auto c = Client::start(GetParam(), creds());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().stage, Stage::config);
  EXPECT_TRUE(c.error().permanent());
}

INSTANTIATE_TEST_SUITE_P(All, PlusMechanisms,
                         ::testing::Values("SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"));

TEST(SaslClient, UnknownBindingTypeRefused) {
  auto c =
      Client::start("SCRAM-SHA-256-PLUS", creds(), {ChannelBinding{"tls-server-end-point", "x"}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().stage, Stage::config);
}

TEST(SaslClient, BindingTypesSupported) {
  EXPECT_TRUE(binding_type_supported("tls-exporter"));
  EXPECT_TRUE(binding_type_supported("tls-unique"));
  EXPECT_FALSE(binding_type_supported("tls-server-end-point"));
}

// RFC 5802 §6: binding available, server without -PLUS: "y", and a server that has no binding
// (did not advertise -PLUS) accepts it.
class YFlag : public ::testing::TestWithParam<const char*> {};

TEST_P(YFlag, SentAndAcceptedByServerWithoutPlus) {
  ServerConfig server;
  Outcome o = run(GetParam(), creds(), server, {ChannelBinding{"tls-exporter", exporter_bytes()}});
  EXPECT_TRUE(o.server_ok);
  EXPECT_TRUE(o.client_ok) << (o.client_error ? o.client_error->describe() : "");
  EXPECT_EQ(o.first_client_message.substr(0, 5), "y,,n=");
}

// A server that supports binding (so it advertised -PLUS, stripped by an attacker) detects the
// downgrade.
TEST_P(YFlag, RejectedByServerWithBinding) {
  ServerConfig server;
  server.exporter = exporter_bytes();
  Outcome o = run(GetParam(), creds(), server, {ChannelBinding{"tls-exporter", exporter_bytes()}});
  EXPECT_FALSE(o.server_ok);
  EXPECT_EQ(o.server_rc, GSASL_AUTHENTICATION_ERROR);
}

TEST_P(YFlag, WrongPasswordFails) {
  ServerConfig server;
  Outcome o =
      run(GetParam(), creds("bad"), server, {ChannelBinding{"tls-exporter", exporter_bytes()}});
  EXPECT_FALSE(o.server_ok);
}

TEST_P(YFlag, AuthzidInHeader) {
  ServerConfig server;
  Outcome o = run(GetParam(), {"alice", "s3cret-pw", "b,o=b"}, server,
                  {ChannelBinding{"tls-unique", "abc"}});
  EXPECT_TRUE(o.client_ok) << (o.client_error ? o.client_error->describe() : "");
  EXPECT_EQ(o.first_client_message.substr(0, 14), "y,a=b=2Co=3Db,");
}

// The server advertised -PLUS but the user asked for plain SCRAM: "n", not a false alarm.
TEST_P(YFlag, NFlagWhenServerOffersPlus) {
  ServerConfig server;
  server.exporter = exporter_bytes();
  Outcome o = run(GetParam(), creds(), server,
                  {ChannelBinding{"tls-exporter", exporter_bytes()}, /*server_offers_plus=*/true});
  EXPECT_TRUE(o.client_ok) << (o.client_error ? o.client_error->describe() : "");
  EXPECT_EQ(o.first_client_message.substr(0, 3), "n,,");
}

INSTANTIATE_TEST_SUITE_P(All, YFlag, ::testing::Values("SCRAM-SHA-256", "SCRAM-SHA-1"));

// --- Bad server data ----------------------------------------------------------------------------

TEST(SaslClient, YFlagScramRejectsForgedServerSignature) {
  auto c = Client::start("SCRAM-SHA-256", creds(), {ChannelBinding{"tls-exporter", "b"}});
  ASSERT_TRUE(c);
  auto first = c->step("");
  ASSERT_TRUE(first);
  std::string nonce = first->client_data.substr(first->client_data.find("r=") + 2);
  auto fin = c->step("r=" + nonce + "srv,s=" + base64_encode("salt") + ",i=4096");
  ASSERT_TRUE(fin) << fin.error().describe();
  EXPECT_EQ(fin->client_data.substr(0, 7), "c=eSws,");  // base64("y,,")
  auto last = c->step("v=" + base64_encode(std::string(32, 'z')));
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().reason, Reason::auth_refused);
  EXPECT_TRUE(last.error().permanent());
  EXPECT_EQ(last.error().detail.find("s3cret"), std::string::npos);
}

TEST(SaslClient, YFlagScramRejectsForeignNonce) {
  auto c = Client::start("SCRAM-SHA-1", creds(), {ChannelBinding{"tls-unique", "b"}});
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->step(""));
  auto fin = c->step("r=someoneelse,s=" + base64_encode("salt") + ",i=4096");
  ASSERT_FALSE(fin);
  EXPECT_EQ(fin.error().reason, Reason::auth_refused);
}

TEST(SaslClient, YFlagScramRejectsMalformedServerFirst) {
  for (std::string bad : {"", "garbage", "r=x", "s=abc,r=x,i=1", "r=NONCE,s=!!!,i=1",
                          "r=NONCE,s=c2FsdA==,i=0", "r=NONCE,s=c2FsdA==,i=99999999999"}) {
    auto c = Client::start("SCRAM-SHA-256", creds(), {ChannelBinding{"tls-unique", "b"}});
    ASSERT_TRUE(c);
    auto first = c->step("");
    ASSERT_TRUE(first);
    std::string nonce = first->client_data.substr(first->client_data.find("r=") + 2);
    auto pos = bad.find("NONCE");
    if (pos != std::string::npos) bad.replace(pos, 5, nonce + "x");
    auto fin = c->step(bad);
    ASSERT_FALSE(fin) << bad;
    EXPECT_EQ(fin.error().reason, Reason::protocol) << bad;
  }
}

TEST(SaslClient, ServerErrorAttributeFails) {
  ServerConfig server;
  auto c = Client::start("SCRAM-SHA-256", creds(), {ChannelBinding{"tls-unique", "b"}});
  ASSERT_TRUE(c);
  auto first = c->step("");
  std::string nonce = first->client_data.substr(first->client_data.find("r=") + 2);
  ASSERT_TRUE(c->step("r=" + nonce + "s,s=" + base64_encode("salt") + ",i=4096"));
  auto last = c->step("e=invalid-proof");
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().reason, Reason::auth_refused);
}

TEST(SaslClient, GsaslScramRejectsForgedServerSignature) {
  auto c = Client::start("SCRAM-SHA-256", creds());
  ASSERT_TRUE(c);
  auto first = c->step("");
  ASSERT_TRUE(first);
  EXPECT_EQ(c->gs2_flag(), 'n');
  std::string nonce = first->client_data.substr(first->client_data.find("r=") + 2);
  ASSERT_TRUE(c->step("r=" + nonce + "srv,s=" + base64_encode("salt") + ",i=4096"));
  auto last = c->step("v=" + base64_encode(std::string(32, 'z')));
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().reason, Reason::auth_refused);
  EXPECT_FALSE(c->complete());
}

TEST(SaslClient, GsaslMalformedChallengeIsProtocolError) {
  auto c = Client::start("SCRAM-SHA-256", creds());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->step(""));
  auto r = c->step("this is not scram");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::protocol);
}

TEST(SaslClient, StepAfterCompleteFails) {
  auto c = Client::start("PLAIN", creds());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->step(""));
  EXPECT_TRUE(c->complete());
  auto again = c->step("more?");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().reason, Reason::protocol);
}

// --- Start errors -------------------------------------------------------------------------------

TEST(SaslClient, StartErrors) {
  EXPECT_FALSE(Client::start("DIGEST-MD5", creds()));
  EXPECT_FALSE(Client::start("PLAIN", {"alice", "", std::nullopt}));
  EXPECT_FALSE(Client::start("PLAIN", {"", "pw", std::nullopt}));
  EXPECT_FALSE(Client::start("PLAIN", {"alice", std::string("p\0w", 3), std::nullopt}));
  auto c = Client::start("PLAIN", {"alice", std::string("top\0secret", 10), std::nullopt});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().detail.find("secret"), std::string::npos);
  EXPECT_FALSE(Client::start("SCRAM-SHA-256-PLUS", creds(), {ChannelBinding{"tls-exporter", ""}}));
}

// --- Mechanism choice ---------------------------------------------------------------------------

Selection with_password(bool binding = false) {
  Selection s;
  s.have_password = true;
  s.have_channel_binding = binding;
  return s;
}

TEST(ChooseMechanism, StrongestCommonByDefault) {
  std::vector<std::string> all = {"PLAIN",
                                  "LOGIN",
                                  "CRAM-MD5",
                                  "SCRAM-SHA-1",
                                  "SCRAM-SHA-256",
                                  "SCRAM-SHA-1-PLUS",
                                  "SCRAM-SHA-256-PLUS",
                                  "EXTERNAL"};
  EXPECT_EQ(*choose_mechanism(all, with_password(true)), "SCRAM-SHA-256-PLUS");
  EXPECT_EQ(*choose_mechanism(all, with_password(false)), "SCRAM-SHA-256");
  EXPECT_EQ(*choose_mechanism({"SCRAM-SHA-1-PLUS", "SCRAM-SHA-256"}, with_password(true)),
            "SCRAM-SHA-1-PLUS");
  EXPECT_EQ(*choose_mechanism({"SCRAM-SHA-1", "PLAIN"}, with_password()), "SCRAM-SHA-1");
  EXPECT_EQ(*choose_mechanism({"LOGIN", "CRAM-MD5", "PLAIN"}, with_password()), "CRAM-MD5");
  EXPECT_EQ(*choose_mechanism({"LOGIN", "PLAIN"}, with_password()), "PLAIN");
  EXPECT_EQ(*choose_mechanism({"LOGIN"}, with_password()), "LOGIN");
}

TEST(ChooseMechanism, ExternalOnlyWithCertificateAndRequestOrNoPassword) {
  std::vector<std::string> offered = {"PLAIN", "EXTERNAL"};
  Selection s = with_password();
  s.have_client_certificate = true;
  EXPECT_EQ(*choose_mechanism(offered, s), "PLAIN");  // not requested, a password is there
  s.allowed = {"EXTERNAL", "PLAIN"};
  EXPECT_EQ(*choose_mechanism(offered, s), "EXTERNAL");
  Selection no_pw;
  no_pw.have_client_certificate = true;
  EXPECT_EQ(*choose_mechanism(offered, no_pw), "EXTERNAL");
  Selection nothing;
  auto r = choose_mechanism(offered, nothing);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::config);
  Selection pw_no_cert = with_password();
  pw_no_cert.mechanism = "EXTERNAL";
  EXPECT_FALSE(choose_mechanism(offered, pw_no_cert));
}

TEST(ChooseMechanism, ExplicitHonouredOrFailsClearly) {
  Selection s = with_password(true);
  s.mechanism = "login";
  EXPECT_EQ(*choose_mechanism({"LOGIN", "SCRAM-SHA-256-PLUS"}, s), "LOGIN");
  auto r = choose_mechanism({"PLAIN", "SCRAM-SHA-1"}, s);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().permanent());
  EXPECT_EQ(r.error().stage, Stage::config);
  EXPECT_EQ(r.error().detail,
            "the server does not offer AUTH LOGIN (it offers: PLAIN SCRAM-SHA-1)");
  s.mechanism = "GSSAPI";
  EXPECT_FALSE(choose_mechanism({"GSSAPI"}, s));
  Selection nb = with_password(false);
  nb.mechanism = "SCRAM-SHA-256-PLUS";
  auto p = choose_mechanism({"SCRAM-SHA-256-PLUS"}, nb);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().detail.find("channel binding"), std::string::npos);
}

TEST(ChooseMechanism, PlusNeverWithoutBinding) {
  auto r = choose_mechanism({"SCRAM-SHA-256-PLUS"}, with_password(false));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().permanent());
}

TEST(ChooseMechanism, AllowedRestricts) {
  Selection s = with_password(true);
  s.allowed = {"PLAIN", "LOGIN"};
  EXPECT_EQ(*choose_mechanism({"SCRAM-SHA-256", "LOGIN", "PLAIN"}, s), "PLAIN");
  EXPECT_FALSE(choose_mechanism({"SCRAM-SHA-256"}, s));
  s.allowed = {"NTLM"};
  EXPECT_FALSE(choose_mechanism({"NTLM"}, s));
}

TEST(ChooseMechanism, NoCommonMechanism) {
  auto r = choose_mechanism({"GSSAPI", "NTLM"}, with_password());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().permanent());
  EXPECT_NE(r.error().detail.find("GSSAPI NTLM"), std::string::npos);
  EXPECT_FALSE(choose_mechanism({}, with_password()));
}

TEST(MechanismProperties, InitialResponseAndPlus) {
  EXPECT_TRUE(has_initial_response("PLAIN"));
  EXPECT_TRUE(has_initial_response("EXTERNAL"));
  EXPECT_TRUE(has_initial_response("SCRAM-SHA-1"));
  EXPECT_FALSE(has_initial_response("LOGIN"));
  EXPECT_FALSE(has_initial_response("CRAM-MD5"));
  EXPECT_TRUE(is_plus("scram-sha-256-plus"));
  EXPECT_FALSE(is_plus("SCRAM-SHA-256"));
  EXPECT_FALSE(is_plus("FOO-PLUS"));
}

// --- Base64
// ---------------------------------------------------------------------------------------

TEST(Base64, RoundTripsAndRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(*base64_decode("Zm9vYg=="), "foob");
  EXPECT_EQ(*base64_decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(*base64_decode(""), "");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(*base64_decode(base64_encode(all)), all);
}

TEST(Base64, RejectsMalformed) {
  for (const char* bad :
       {"Zg", "Zg=", "Z===", "Zm9v!A==", "Zm 9v", "Zg==Zg==", "Zh==", "Zm9=", "=Zm9", "Zm=v"})
    EXPECT_FALSE(base64_decode(bad)) << bad;
}

}  // namespace
}  // namespace mx::sasl
