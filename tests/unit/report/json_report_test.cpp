// Unit tests of report::to_json and write_json_report: every field of the --json document for
// synthetic delivery Reports, and writing it to a file or stdout.
#include "report/json_report.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "unit/report/fixtures.hpp"

namespace mx::report {
namespace {

using nlohmann::json;
using namespace testing;

TEST(JsonReport, EmptyRunHasEveryTopLevelSection) {
  json j = to_json(delivery::Report{}, run_info());
  EXPECT_EQ(j["format"], "mxclient-report");
  EXPECT_EQ(j["format_version"], kFormatVersion);
  EXPECT_EQ(j["run"]["mxclient_version"], "0.1.0");
  EXPECT_EQ(j["run"]["started"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(j["run"]["sender"], "sender@client.example");
  EXPECT_EQ(j["run"]["recipients"], json::array({"a@dane.example"}));
  EXPECT_EQ(j["run"]["tls_policy"], "dane");
  EXPECT_EQ(j["run"]["resolver_mode"], "resolver 127.0.0.1");
  EXPECT_EQ(j["run"]["exit_code"], 0);
  EXPECT_EQ(j["recipients"], json::array());
  EXPECT_EQ(j["domains"], json::array());
  EXPECT_EQ(j["totals"]["attempts"], 0);
  EXPECT_EQ(j["tlsrpt"]["policies"], json::array());
}

TEST(JsonReport, RunInfoExitCodeAndNullSender) {
  RunInfo run = run_info();
  run.sender = "";
  run.exit_code = 75;
  json j = to_json(delivery::Report{}, run);
  EXPECT_EQ(j["run"]["sender"], "");
  EXPECT_EQ(j["run"]["exit_code"], 75);
}

TEST(JsonReport, DeliveredRecipient) {
  json r = to_json(dane_success(), run_info())["recipients"][0];
  EXPECT_EQ(r["address"], "a@dane.example");
  EXPECT_EQ(r["outcome"], "delivered");
  EXPECT_EQ(r["delivered_via"], "mx1.dane.example [192.0.2.1]");
  EXPECT_EQ(r["security"], "DANE-verified TLSv1.3");
  EXPECT_EQ(r["server_text"], "Ok: queued as ABC");
  EXPECT_EQ(r["smtp_code"], 250);
  EXPECT_EQ(r["enhanced_code"], "2.0.0");
  EXPECT_TRUE(r["stage"].is_null());
  EXPECT_TRUE(r["detail"].is_null());
  EXPECT_EQ(r["maybe_delivered"], false);
}

TEST(JsonReport, FailedRecipientsCarryTheErrorFields) {
  delivery::Report rep;
  Error perm = make_error(Stage::smtp, Permanence::permanent, "the server rejected the recipient");
  perm.reason = Reason::no_such_user;
  perm.smtp_code = 550;
  perm.enhanced = "5.1.1";
  perm.command = "RCPT TO:<x@b.example>";
  perm.server_text = "User unknown\nreally";
  perm.host = "mx.b.example [192.0.2.9]";
  Error temp = make_error(Stage::smtp, Permanence::temporary, "no reply to the final dot");
  temp.maybe_delivered = true;
  rep.recipients = {{"x@b.example", perm, "", "", ""}, {"y@b.example", temp, "", "", ""}};
  json j = to_json(rep, run_info());
  json p = j["recipients"][0];
  EXPECT_EQ(p["outcome"], "permanent");
  EXPECT_EQ(p["smtp_code"], 550);
  EXPECT_EQ(p["enhanced_code"], "5.1.1");
  EXPECT_EQ(p["server_text"], "User unknown\nreally");
  EXPECT_EQ(p["stage"], "smtp");
  EXPECT_EQ(p["reason"], "no_such_user");
  EXPECT_EQ(p["detail"], "the server rejected the recipient");
  EXPECT_EQ(p["command"], "RCPT TO:<x@b.example>");
  EXPECT_EQ(p["host"], "mx.b.example [192.0.2.9]");
  EXPECT_TRUE(p["delivered_via"].is_null());
  EXPECT_TRUE(p["security"].is_null());
  json t = j["recipients"][1];
  EXPECT_EQ(t["outcome"], "temporary");
  EXPECT_EQ(t["maybe_delivered"], true);
  EXPECT_TRUE(t["smtp_code"].is_null());
  EXPECT_TRUE(t["enhanced_code"].is_null());
  EXPECT_EQ(j["totals"]["permanent"], 1);
  EXPECT_EQ(j["totals"]["temporary"], 1);
  EXPECT_EQ(j["totals"]["delivered"], 0);
}

TEST(JsonReport, NoDnsResult) {
  delivery::Report rep;
  delivery::DomainRecord d;
  d.domain = "nonexistent.example";
  Error e = make_error(Stage::dns, Permanence::permanent, "nonexistent.example does not exist");
  e.reason = Reason::no_such_domain;
  d.dns_error = e;
  rep.domains.push_back(d);
  rep.recipients = {{"a@nonexistent.example", e, "", "", ""}};
  json j = to_json(rep, run_info());
  json dom = j["domains"][0];
  EXPECT_EQ(dom["domain"], "nonexistent.example");
  EXPECT_TRUE(dom["dns"].is_null());
  EXPECT_TRUE(dom["mta_sts"].is_null());
  EXPECT_EQ(dom["dns_error"]["stage"], "dns");
  EXPECT_EQ(dom["dns_error"]["reason"], "no_such_domain");
  EXPECT_EQ(dom["dns_error"]["permanence"], "permanent");
  EXPECT_EQ(dom["hosts"], json::array());
  EXPECT_EQ(dom["attempts"], json::array());
  EXPECT_EQ(j["recipients"][0]["stage"], "dns");
  EXPECT_EQ(j["tlsrpt"]["policies"], json::array());  // no MX host: no TLS session to report
}

TEST(JsonReport, DnsPathWithTlsaRecords) {
  json dns = to_json(dane_success(), run_info())["domains"][0]["dns"];
  EXPECT_EQ(dns["domain"], "dane.example");
  EXPECT_EQ(dns["expanded_domain"], "dane.example");
  EXPECT_EQ(dns["domain_secure"], true);
  EXPECT_EQ(dns["implicit_mx"], false);
  EXPECT_EQ(dns["hosts_dropped"], 0);
  EXPECT_EQ(dns["mx_malformed"], 0);
  ASSERT_EQ(dns["mx"].size(), 1u);
  json h = dns["mx"][0];
  EXPECT_EQ(h["preference"], 10);
  EXPECT_EQ(h["name"], "mx1.dane.example");
  EXPECT_EQ(h["expanded_name"], "mx1.dane.example");
  EXPECT_EQ(h["addresses_secure"], true);
  EXPECT_EQ(h["addresses"], json::parse(R"([{"ip":"2001:db8::1","family":"ipv6"},
                                            {"ip":"192.0.2.1","family":"ipv4"}])"));
  EXPECT_TRUE(h["lookup_error"].is_null());
  EXPECT_EQ(h["tlsa"]["state"], "found");
  EXPECT_EQ(h["tlsa"]["base"], "mx1.dane.example");
  EXPECT_EQ(h["tlsa"]["owner"], "_25._tcp.mx1.dane.example");
  ASSERT_EQ(h["tlsa"]["records"].size(), 2u);
  json r = h["tlsa"]["records"][0];
  EXPECT_EQ(r["usage"], 3);
  EXPECT_EQ(r["selector"], 1);
  EXPECT_EQ(r["mtype"], 1);
  EXPECT_EQ(r["data"], "01abff00" + std::string(56, '1'));  // lower-case hex, NUL kept
  EXPECT_EQ(r["usable"], true);
  EXPECT_EQ(h["tlsa"]["records"][1]["usable"], false);  // PKIX-EE(1): unusable for SMTP
  EXPECT_TRUE(h["tlsa"]["error"].is_null());
}

TEST(JsonReport, DnsPathEdges) {
  dns::Destinations dest;
  dest.domain = "alias.example";
  dest.expanded_domain = "real.example";
  dest.implicit_mx = true;
  dest.hosts_dropped = 3;
  dest.mx_malformed = 1;
  dns::MxHost cname = testing::mx_host("mx.alias.example", 0, "192.0.2.3");
  cname.expanded_name = "mx.real.example";
  cname.addresses_secure = cname.expanded_secure = false;
  dns::MxHost broken;
  broken.name = broken.expanded_name = "gone.example";
  broken.preference = 20;
  broken.lookup_error = make_error(Stage::dns, Permanence::temporary, "SERVFAIL");
  dns::MxHost failed = testing::mx_host("mx2.example", 30, "192.0.2.4");
  failed.tlsa_state = dns::TlsaState::failed;
  failed.tlsa_base = "mx2.example";
  failed.tlsa_error = make_error(Stage::dns, Permanence::temporary, "TLSA answer is bogus");
  failed.tlsa_malformed = 2;
  failed.addresses.push_back({"odd", 12345});
  dest.hosts = {cname, broken, failed};
  delivery::Report rep;
  rep.domains.push_back({});
  rep.domains[0].domain = "alias.example";
  rep.domains[0].destinations = dest;
  json dns = to_json(rep, run_info())["domains"][0]["dns"];
  EXPECT_EQ(dns["expanded_domain"], "real.example");
  EXPECT_EQ(dns["implicit_mx"], true);
  EXPECT_EQ(dns["hosts_dropped"], 3);
  EXPECT_EQ(dns["mx_malformed"], 1);
  EXPECT_EQ(dns["mx"][0]["expanded_name"], "mx.real.example");
  EXPECT_EQ(dns["mx"][0]["addresses_secure"], false);
  EXPECT_EQ(dns["mx"][0]["tlsa"]["state"], "not_looked_up");
  EXPECT_TRUE(dns["mx"][0]["tlsa"]["base"].is_null());
  EXPECT_TRUE(dns["mx"][0]["tlsa"]["owner"].is_null());
  EXPECT_EQ(dns["mx"][1]["addresses"], json::array());
  EXPECT_EQ(dns["mx"][1]["lookup_error"]["detail"], "SERVFAIL");
  EXPECT_EQ(dns["mx"][2]["tlsa"]["state"], "failed");
  EXPECT_EQ(dns["mx"][2]["tlsa"]["error"]["detail"], "TLSA answer is bogus");
  EXPECT_EQ(dns["mx"][2]["tlsa"]["malformed"], 2);
  EXPECT_EQ(dns["mx"][2]["addresses"][2]["family"], "unknown");
}

TEST(JsonReport, HostDecisions) {
  delivery::Report rep = dane_success();
  Error skip = make_error(Stage::dane, Permanence::temporary, "the TLSA lookup failed");
  rep.domains[0].hosts.push_back({"mx2.dane.example", "DANE: TLSA lookup failed, host skipped",
                                  "none", skip, delivery::tlsrpt::dnssec_invalid});
  json hosts = to_json(rep, run_info())["domains"][0]["hosts"];
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0]["host"], "mx1.dane.example");
  EXPECT_EQ(hosts[0]["authentication"], "dane");
  EXPECT_EQ(hosts[0]["skipped"], false);
  EXPECT_TRUE(hosts[0]["skip_error"].is_null());
  EXPECT_TRUE(hosts[0]["tlsrpt_result"].is_null());
  EXPECT_EQ(hosts[1]["policy"], "DANE: TLSA lookup failed, host skipped");
  EXPECT_EQ(hosts[1]["skipped"], true);
  EXPECT_EQ(hosts[1]["skip_error"]["stage"], "dane");
  EXPECT_EQ(hosts[1]["skip_error"]["detail"], "the TLSA lookup failed");
  EXPECT_EQ(hosts[1]["tlsrpt_result"], "dnssec-invalid");
}

TEST(JsonReport, DaneAttempt) {
  json j = to_json(dane_success(), run_info());
  json a = j["domains"][0]["attempts"][0];
  EXPECT_EQ(a["host"], "mx1.dane.example");
  EXPECT_EQ(a["address"], "192.0.2.1");
  EXPECT_EQ(a["via"], "directly");
  EXPECT_EQ(a["reused_connection"], false);
  EXPECT_EQ(a["plaintext_retry"], false);
  EXPECT_EQ(a["tls"]["version"], "TLSv1.3");
  EXPECT_EQ(a["tls"]["cipher"], "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(a["tls"]["peer_subject"], "CN=mx1.dane.example");
  EXPECT_EQ(a["tls"]["peer_issuer"], "CN=Test CA");
  EXPECT_EQ(a["tls"]["spki_sha256"], std::string(64, 'a'));
  EXPECT_EQ(a["tls"]["pkix_valid"], false);
  EXPECT_EQ(a["tls"]["pkix_error"], "self-signed certificate");
  EXPECT_EQ(a["tls"]["dane_verified"], true);
  EXPECT_EQ(a["tls"]["dane_record"], "3 1 1 " + std::string(64, 'b'));
  EXPECT_EQ(a["tls"]["dane_depth"], 0);
  EXPECT_EQ(a["extensions"], json::array({"PIPELINING", "SIZE 10240000", "8BITMIME"}));
  EXPECT_EQ(a["delivered"], json::array({"a@dane.example"}));
  EXPECT_TRUE(a["error"].is_null());
  EXPECT_TRUE(a["tlsrpt_result"].is_null());
  EXPECT_EQ(a["round_trips"], 5);
  EXPECT_DOUBLE_EQ(a["seconds"].get<double>(), 0.123);  // milliseconds
  EXPECT_EQ(j["totals"]["round_trips"], 6);
  EXPECT_DOUBLE_EQ(j["totals"]["seconds"].get<double>(), 1.2);
  EXPECT_EQ(j["totals"]["attempts"], 1);
  EXPECT_EQ(j["totals"]["connections"], 1);
  EXPECT_EQ(j["totals"]["delivered"], 1);
}

TEST(JsonReport, PkixAttemptWithoutDane) {
  delivery::Report rep = dane_success();
  rep.domains[0].attempts[0].tls = tls_info(false);
  json t = to_json(rep, run_info())["domains"][0]["attempts"][0]["tls"];
  EXPECT_EQ(t["pkix_valid"], true);
  EXPECT_TRUE(t["pkix_error"].is_null());
  EXPECT_EQ(t["dane_verified"], false);
  EXPECT_TRUE(t["dane_record"].is_null());
  EXPECT_TRUE(t["dane_depth"].is_null());
}

TEST(JsonReport, FailedReusedAndRetriedAttempts) {
  delivery::Report rep;
  delivery::DomainRecord d = sts_domain(std::nullopt, {"mx.plain.example"});
  delivery::AttemptRecord refused = attempt("mx.plain.example", "192.0.2.11");
  refused.error = make_error(Stage::connect, Permanence::temporary, "connection refused");
  refused.round_trips = 0;
  delivery::AttemptRecord reused = attempt("mx.plain.example", "192.0.2.11");
  reused.reused_connection = true;
  reused.via = "through SOCKS5 proxy 127.0.0.1:1080";
  delivery::AttemptRecord retry = attempt("mx.plain.example", "192.0.2.11");
  retry.plaintext_retry = true;
  d.attempts = {refused, reused, retry};
  rep.domains.push_back(d);
  json j = to_json(rep, run_info());
  json a = j["domains"][0]["attempts"];
  EXPECT_EQ(a[0]["error"]["stage"], "connect");
  EXPECT_EQ(a[0]["error"]["detail"], "connection refused");
  EXPECT_TRUE(a[0]["tls"].is_null());
  EXPECT_EQ(a[0]["extensions"], json::array());
  EXPECT_EQ(a[1]["reused_connection"], true);
  EXPECT_EQ(a[1]["via"], "through SOCKS5 proxy 127.0.0.1:1080");
  EXPECT_EQ(a[2]["plaintext_retry"], true);
  EXPECT_EQ(j["totals"]["attempts"], 3);
  EXPECT_EQ(j["totals"]["connections"], 2);
}

TEST(JsonReport, MtaStsLookup) {
  delivery::Report rep;
  rep.domains.push_back(sts_domain(sts_lookup(mtasts::Mode::enforce), {"mx1.sts.example"}));
  json s = to_json(rep, run_info())["domains"][0]["mta_sts"];
  EXPECT_EQ(s["source"], "fresh");
  EXPECT_EQ(s["mode"], "enforce");
  EXPECT_EQ(s["mx"], json::array({"mx1.sts.example", "*.backup.sts.example"}));
  EXPECT_EQ(s["max_age"], 86400);
  EXPECT_EQ(s["id"], "enforce1");
  EXPECT_EQ(s["expires"], "2024-05-02T12:00:00Z");
  EXPECT_EQ(s["note"], "fetched policy enforce1");
  EXPECT_TRUE(s["failure"].is_null());
  EXPECT_TRUE(s["fetch_error"].is_null());
}

TEST(JsonReport, MtaStsLookupWithoutPolicy) {
  mtasts::PolicyLookup l;
  l.note = "policy fetch failed";
  l.failure = mtasts::PolicyFailure::webpki_invalid;
  l.fetch_error = make_error(Stage::tls, Permanence::temporary, "certificate verify failed");
  delivery::Report rep;
  rep.domains.push_back(sts_domain(l, {"mx1.sts.example"}));
  json s = to_json(rep, run_info())["domains"][0]["mta_sts"];
  EXPECT_EQ(s["source"], "none");
  EXPECT_TRUE(s["mode"].is_null());
  EXPECT_EQ(s["mx"], json::array());
  EXPECT_TRUE(s["max_age"].is_null());
  EXPECT_TRUE(s["id"].is_null());
  EXPECT_TRUE(s["expires"].is_null());
  EXPECT_EQ(s["failure"], "sts-webpki-invalid");
  EXPECT_EQ(s["fetch_error"]["detail"], "certificate verify failed");
}

TEST(JsonReport, RenderReplacesInvalidUtf8) {
  delivery::Report rep;
  Error e = make_error(Stage::smtp, Permanence::permanent, "rejected");
  e.smtp_code = 554;
  e.server_text = std::string("bad \xff\xfe bytes \x01");
  rep.recipients = {{"a@b.example", e, "", "", ""}};
  std::string text = render(to_json(rep, run_info()));
  json back = json::parse(text);
  EXPECT_EQ(back["recipients"][0]["server_text"], "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes \x01");
  EXPECT_NE(text.find("\\u0001"), std::string::npos);  // control characters escaped
  EXPECT_EQ(text.back(), '\n');
}

class WriteJsonReport : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mx-report-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::unlink((dir_ + "/report.json").c_str());
    ::rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(WriteJsonReport, WritesTheDocumentToAFile) {
  std::string path = dir_ + "/report.json";
  {
    std::ofstream old(path);
    old << "an older, much longer report that must be replaced entirely ..............";
  }
  auto r = write_json_report(dane_success(), run_info(), path);
  ASSERT_TRUE(r) << r.error().describe();
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  json back = json::parse(text.str());
  EXPECT_EQ(back, to_json(dane_success(), run_info()));
}

TEST_F(WriteJsonReport, DashMeansStdout) {
  ::testing::internal::CaptureStdout();
  auto r = write_json_report(dane_success(), run_info(), "-");
  std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(out)["recipients"][0]["outcome"], "delivered");
}

TEST_F(WriteJsonReport, UnwritablePathIsAnError) {
  std::string path = dir_ + "/no/such/dir/report.json";
  auto r = write_json_report(dane_success(), run_info(), path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::config);
  EXPECT_TRUE(r.error().permanent());
  EXPECT_NE(r.error().detail.find(path), std::string::npos) << r.error().detail;
  EXPECT_NE(r.error().detail.find("No such file"), std::string::npos) << r.error().detail;
}

TEST_F(WriteJsonReport, EmptyPathIsAnError) {
  auto r = write_json_report(dane_success(), run_info(), "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::config);
}

TEST_F(WriteJsonReport, FullDeviceIsAnError) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  auto r = write_json_report(dane_success(), run_info(), "/dev/full");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("No space"), std::string::npos) << r.error().detail;
}

}  // namespace
}  // namespace mx::report
