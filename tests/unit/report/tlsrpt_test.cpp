// Unit tests of the "tlsrpt" section: policies, session counts and failure details in RFC 8460
// §4.4 vocabulary for DANE, MTA-STS (enforce, testing, discovery failures) and no policy.
#include <gtest/gtest.h>

#include "report/json_report.hpp"
#include "unit/report/fixtures.hpp"

namespace mx::report {
namespace {

using nlohmann::json;
using namespace testing;

json policies(const delivery::Report& rep) {
  return tlsrpt_json(rep, run_info())["policies"];
}

json summary(int ok, int failed) {
  return {{"total-successful-session-count", ok}, {"total-failure-session-count", failed}};
}

delivery::HostRecord host_record(std::string host, std::string policy, std::string auth,
                                 bool dane = false) {
  return {std::move(host), std::move(policy), std::move(auth), std::nullopt, "", dane};
}

TEST(Tlsrpt, DateRangeCoversTheRun) {
  delivery::Report rep;
  rep.seconds = 2.2;
  json t = tlsrpt_json(rep, run_info());
  EXPECT_EQ(t["date-range"]["start-datetime"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(t["date-range"]["end-datetime"], "2024-05-01T12:00:03Z");
  EXPECT_EQ(t["policies"], json::array());
}

TEST(Tlsrpt, DaneSuccessIsATlsaPolicyPerHost) {
  json p = policies(dane_success());
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["policy"]["policy-type"], "tlsa");
  EXPECT_EQ(p[0]["policy"]["policy-domain"], "dane.example");
  EXPECT_EQ(p[0]["policy"]["mx-host"], "mx1.dane.example");
  EXPECT_EQ(p[0]["policy"]["policy-string"],
            json::array({"_25._tcp.mx1.dane.example. IN TLSA 3 1 1 01abff00" + std::string(56, '1'),
                         "_25._tcp.mx1.dane.example. IN TLSA 1 0 1 " + std::string(64, '2')}));
  EXPECT_EQ(p[0]["summary"], summary(1, 0));
  EXPECT_EQ(p[0]["failure-details"], json::array());
}

TEST(Tlsrpt, DaneMismatchFailuresAreMergedPerAddress) {
  delivery::Report rep = dane_success();
  auto& d = rep.domains[0];
  delivery::AttemptRecord bad = attempt("mx1.dane.example", "2001:db8::1");
  bad.error = make_error(Stage::dane, Permanence::temporary, "DANE verification failed");
  bad.tlsrpt_result = delivery::tlsrpt::tlsa_invalid;
  d.attempts.insert(d.attempts.begin(), {bad, bad});
  json p = policies(rep);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["summary"], summary(1, 2));
  ASSERT_EQ(p[0]["failure-details"].size(), 1u);
  json f = p[0]["failure-details"][0];
  EXPECT_EQ(f["result-type"], "tlsa-invalid");
  EXPECT_EQ(f["receiving-mx-hostname"], "mx1.dane.example");
  EXPECT_EQ(f["receiving-ip"], "2001:db8::1");
  EXPECT_EQ(f["failed-session-count"], 2);
  EXPECT_EQ(f["failure-reason-code"], "DANE verification failed");
  EXPECT_FALSE(f.contains("sending-mta-ip"));
}

TEST(Tlsrpt, SkippedDaneHostIsAFailureWithoutAddress) {
  delivery::Report rep = dane_success();
  dns::MxHost h2 = mx_host("mx2.dane.example", 20, "192.0.2.2");
  h2.tlsa_state = dns::TlsaState::failed;
  h2.tlsa_base = "mx2.dane.example";
  rep.domains[0].destinations->hosts.push_back(h2);
  rep.domains[0].hosts.insert(
      rep.domains[0].hosts.begin(),
      {"mx2.dane.example", "DANE: TLSA lookup failed, host skipped", "none",
       make_error(Stage::dane, Permanence::temporary, "the TLSA lookup failed"),
       delivery::tlsrpt::dnssec_invalid, true});
  json p = policies(rep);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0]["policy"]["mx-host"], "mx2.dane.example");
  EXPECT_EQ(p[0]["policy"]["policy-string"], json::array());
  EXPECT_EQ(p[0]["summary"], summary(0, 1));
  json f = p[0]["failure-details"][0];
  EXPECT_EQ(f["result-type"], "dnssec-invalid");
  EXPECT_EQ(f["receiving-mx-hostname"], "mx2.dane.example");
  EXPECT_FALSE(f.contains("receiving-ip"));
  EXPECT_EQ(p[1]["policy"]["mx-host"], "mx1.dane.example");
  EXPECT_EQ(p[1]["summary"], summary(1, 0));
}

TEST(Tlsrpt, DaneRequiredSkipUnderDaneOnly) {
  delivery::Report rep;
  delivery::DomainRecord d = sts_domain(std::nullopt, {"mx.nodane.example"});
  d.hosts.push_back({"mx.nodane.example", "", "none",
                     make_error(Stage::dane, Permanence::temporary, "no TLSA records"),
                     delivery::tlsrpt::dane_required});
  rep.domains.push_back(d);
  json p = policies(rep);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["policy"]["policy-type"], "tlsa");
  EXPECT_EQ(p[0]["failure-details"][0]["result-type"], "dane-required");
}

TEST(Tlsrpt, UnusableTlsaRecordsStillMakeATlsaPolicy) {
  delivery::Report rep = dane_success();
  rep.domains[0].hosts[0] = host_record(
      "mx1.dane.example",
      "DANE: TLSA records published but none usable: TLS required, unauthenticated", "none", true);
  rep.domains[0].attempts[0].tls = tls_info(false);
  json p = policies(rep);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["policy"]["policy-type"], "tlsa");
  EXPECT_EQ(p[0]["summary"], summary(1, 0));
}

TEST(Tlsrpt, StsEnforceSuccess) {
  delivery::Report rep;
  delivery::DomainRecord d = sts_domain(sts_lookup(mtasts::Mode::enforce), {"mx1.sts.example"});
  d.hosts.push_back(host_record("mx1.sts.example", "MTA-STS enforce: ...", "pkix"));
  delivery::AttemptRecord a = attempt("mx1.sts.example", "192.0.2.11");
  a.tls = tls_info(false);
  d.attempts.push_back(a);
  rep.domains.push_back(d);
  json p = policies(rep);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["policy"]["policy-type"], "sts");
  EXPECT_EQ(p[0]["policy"]["policy-domain"], "sts.example");
  EXPECT_EQ(p[0]["policy"]["policy-string"],
            json::array({"version: STSv1", "mode: enforce", "mx: mx1.sts.example",
                         "mx: *.backup.sts.example", "max_age: 86400"}));
  EXPECT_FALSE(p[0]["policy"].contains("mx-host"));
  EXPECT_EQ(p[0]["summary"], summary(1, 0));
}

TEST(Tlsrpt, StsEnforceFailures) {
  delivery::Report rep;
  delivery::DomainRecord d = sts_domain(sts_lookup(mtasts::Mode::enforce),
                                        {"mx1.sts.example", "rogue.example", "mx9.example"});
  // A host the policy does not list is skipped (RFC 8461 §4.1): validation-failure.
  d.hosts.push_back({"rogue.example", "MTA-STS enforce: host not in the policy, skipped", "none",
                     make_error(Stage::tls, Permanence::temporary, "does not list rogue.example"),
                     ""});
  // A REQUIRETLS skip is not a TLS failure of the receiving side.
  Error requiretls = make_error(Stage::tls, Permanence::permanent, "REQUIRETLS: ...");
  requiretls.enhanced = "5.7.30";
  d.hosts.push_back({"mx9.example", "", "none", requiretls, ""});
  d.hosts.push_back(host_record("mx1.sts.example", "MTA-STS enforce: ...", "pkix"));
  delivery::AttemptRecord a = attempt("mx1.sts.example", "192.0.2.11");
  a.error = make_error(Stage::tls, Permanence::temporary,
                       "certificate verification failed for mx1.sts.example: certificate has "
                       "expired");
  a.tlsrpt_result = delivery::tlsrpt::certificate_expired;
  d.attempts.push_back(a);
  rep.domains.push_back(d);
  json p = policies(rep);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["summary"], summary(0, 2));
  json f = p[0]["failure-details"];
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0]["result-type"], "validation-failure");
  EXPECT_EQ(f[0]["receiving-mx-hostname"], "rogue.example");
  EXPECT_EQ(f[0]["failure-reason-code"], "does not list rogue.example");
  EXPECT_EQ(f[1]["result-type"], "certificate-expired");
  EXPECT_EQ(f[1]["receiving-ip"], "192.0.2.11");
}

TEST(Tlsrpt, StsTestingReportsWhatEnforceWouldRefuse) {
  delivery::Report rep;
  delivery::DomainRecord d =
      sts_domain(sts_lookup(mtasts::Mode::testing),
                 {"mx1.sts.example", "a.backup.sts.example", "rogue.example", "plain.example"});
  for (const char* h : {"mx1.sts.example", "a.backup.sts.example", "rogue.example"})
    d.hosts.push_back(host_record(h, "MTA-STS testing: ...", "none"));
  delivery::AttemptRecord good = attempt("mx1.sts.example", "192.0.2.11");
  good.tls = tls_info(false);
  delivery::AttemptRecord untrusted = attempt("a.backup.sts.example", "192.0.2.12");
  untrusted.tls = tls_info(false);
  untrusted.tls->pkix_valid = false;
  untrusted.tls->pkix_error = "unable to get local issuer certificate";
  delivery::AttemptRecord mismatch = attempt("rogue.example", "192.0.2.13");
  mismatch.tls = tls_info(false);
  delivery::AttemptRecord notls = attempt("mx1.sts.example", "192.0.2.14");
  delivery::AttemptRecord unreachable = attempt("mx1.sts.example", "192.0.2.15");
  unreachable.error = make_error(Stage::connect, Permanence::temporary, "timed out");
  delivery::AttemptRecord handshake = attempt("mx1.sts.example", "192.0.2.16");
  handshake.error = make_error(Stage::tls, Permanence::temporary, "TLS handshake failed");
  delivery::AttemptRecord retry = attempt("mx1.sts.example", "192.0.2.16");
  retry.plaintext_retry = true;
  d.attempts = {good, untrusted, mismatch, notls, unreachable, handshake, retry};
  rep.domains.push_back(d);
  json p = policies(rep);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["policy"]["policy-string"][1], "mode: testing");
  EXPECT_EQ(p[0]["summary"], summary(1, 4));
  json f = p[0]["failure-details"];
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0]["result-type"], "certificate-not-trusted");
  EXPECT_EQ(f[0]["receiving-ip"], "192.0.2.12");
  EXPECT_EQ(f[1]["result-type"], "validation-failure");
  EXPECT_EQ(f[1]["receiving-mx-hostname"], "rogue.example");
  EXPECT_EQ(f[2]["result-type"], "starttls-not-supported");
  EXPECT_EQ(f[2]["receiving-ip"], "192.0.2.14");
  EXPECT_EQ(f[3]["result-type"], "validation-failure");
  EXPECT_EQ(f[3]["receiving-ip"], "192.0.2.16");
}

TEST(Tlsrpt, PkixErrorClassification) {
  struct Case {
    const char* error;
    const char* type;
  } cases[] = {{"hostname mismatch", "certificate-host-mismatch"},
               {"certificate has expired", "certificate-expired"},
               {"self-signed certificate", "certificate-not-trusted"},
               {"certificate not trusted", "certificate-not-trusted"},
               {"certificate signature failure", "validation-failure"}};
  for (const auto& c : cases) {
    delivery::Report rep;
    delivery::DomainRecord d = sts_domain(sts_lookup(mtasts::Mode::testing), {"mx1.sts.example"});
    d.hosts.push_back(host_record("mx1.sts.example", "MTA-STS testing: ...", "none"));
    delivery::AttemptRecord a = attempt("mx1.sts.example", "192.0.2.11");
    a.tls = tls_info(false);
    a.tls->pkix_valid = false;
    a.tls->pkix_error = c.error;
    d.attempts.push_back(a);
    rep.domains.push_back(d);
    EXPECT_EQ(policies(rep)[0]["failure-details"][0]["result-type"], c.type) << c.error;
  }
}

TEST(Tlsrpt, StsFetchFailureWithCachedPolicy) {
  mtasts::PolicyLookup l = sts_lookup(mtasts::Mode::enforce);
  l.source = mtasts::PolicyLookup::Source::cached;
  l.failure = mtasts::PolicyFailure::fetch_error;
  l.fetch_error = make_error(Stage::connect, Permanence::temporary, "HTTP 404");
  delivery::Report rep;
  delivery::DomainRecord d = sts_domain(l, {"mx1.sts.example"});
  d.hosts.push_back(host_record("mx1.sts.example", "MTA-STS enforce: ...", "pkix"));
  delivery::AttemptRecord a = attempt("mx1.sts.example", "192.0.2.11");
  a.tls = tls_info(false);
  d.attempts.push_back(a);
  rep.domains.push_back(d);
  json p = policies(rep);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["policy"]["policy-type"], "sts");
  EXPECT_EQ(p[0]["summary"], summary(1, 1));
  json f = p[0]["failure-details"][0];
  EXPECT_EQ(f["result-type"], "sts-policy-fetch-error");
  EXPECT_FALSE(f.contains("receiving-mx-hostname"));
  EXPECT_EQ(f["failure-reason-code"], "HTTP 404");
}

TEST(Tlsrpt, StsPolicyInvalidWithoutPolicyIsNoPolicyFound) {
  mtasts::PolicyLookup l;
  l.failure = mtasts::PolicyFailure::policy_invalid;
  delivery::Report rep;
  rep.domains.push_back(sts_domain(l, {"mx1.sts.example"}));
  json p = policies(rep);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["policy"]["policy-type"], "no-policy-found");
  EXPECT_FALSE(p[0]["policy"].contains("policy-string"));
  EXPECT_EQ(p[0]["failure-details"][0]["result-type"], "sts-policy-invalid");
  EXPECT_FALSE(p[0]["failure-details"][0].contains("failure-reason-code"));
}

TEST(Tlsrpt, StsModeNoneAppliesNothing) {
  delivery::Report rep;
  delivery::DomainRecord d = sts_domain(sts_lookup(mtasts::Mode::none), {"mx1.sts.example"});
  d.hosts.push_back(host_record("mx1.sts.example", "no DANE or MTA-STS policy", "none"));
  rep.domains.push_back(d);
  EXPECT_EQ(policies(rep)[0]["policy"]["policy-type"], "no-policy-found");
}

TEST(Tlsrpt, PlaintextRetryCountsTheFailedHandshakeOnce) {
  delivery::Report rep;
  delivery::DomainRecord d = sts_domain(std::nullopt, {"mx.plain.example"});
  d.hosts.push_back(host_record("mx.plain.example", "no DANE or MTA-STS policy", "none"));
  delivery::AttemptRecord failed = attempt("mx.plain.example", "192.0.2.11");
  failed.error = make_error(Stage::tls, Permanence::temporary, "TLS handshake failed");
  delivery::AttemptRecord retry = attempt("mx.plain.example", "192.0.2.11");
  retry.plaintext_retry = true;
  retry.delivered = {"a@sts.example"};
  d.attempts = {failed, retry};
  rep.domains.push_back(d);
  json p = policies(rep);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["policy"]["policy-type"], "no-policy-found");
  EXPECT_EQ(p[0]["policy"]["policy-domain"], "sts.example");
  EXPECT_EQ(p[0]["summary"], summary(0, 1));
  EXPECT_EQ(p[0]["failure-details"][0]["result-type"], "validation-failure");
  EXPECT_EQ(p[0]["failure-details"][0]["failure-reason-code"], "TLS handshake failed");
}

TEST(Tlsrpt, SessionsWithoutTlsNegotiationAreNotCounted) {
  delivery::Report rep;
  delivery::DomainRecord d = sts_domain(std::nullopt, {"mx.plain.example"});
  d.hosts.push_back(host_record("mx.plain.example", "TLS disabled by --tls-policy none", "none"));
  delivery::AttemptRecord refused = attempt("mx.plain.example", "192.0.2.11");
  refused.error = make_error(Stage::connect, Permanence::temporary, "connection refused");
  delivery::AttemptRecord plain = attempt("mx.plain.example", "192.0.2.11");
  d.attempts = {refused, plain};
  rep.domains.push_back(d);
  json p = policies(rep);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["summary"], summary(0, 0));
}

TEST(Tlsrpt, DomainsAreReportedSeparately) {
  delivery::Report rep = dane_success();
  delivery::DomainRecord d = sts_domain(sts_lookup(mtasts::Mode::enforce), {"mx1.sts.example"});
  d.hosts.push_back(host_record("mx1.sts.example", "MTA-STS enforce: ...", "pkix"));
  rep.domains.push_back(d);
  json p = policies(rep);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0]["policy"]["policy-domain"], "dane.example");
  EXPECT_EQ(p[1]["policy"]["policy-domain"], "sts.example");
  EXPECT_EQ(p[1]["summary"], summary(0, 0));
}

}  // namespace
}  // namespace mx::report
