// Unit tests: every synthetic document conforms to docs/report-schema.json (checked by the
// small checker of schema_check.hpp), and the schema's enums cover every value the code emits.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "report/json_report.hpp"
#include "unit/report/fixtures.hpp"
#include "unit/report/schema_check.hpp"

namespace mx::report {
namespace {

using nlohmann::json;
using namespace testing;

class Schema : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = load_schema();
    ASSERT_TRUE(schema_.is_object()) << "docs/report-schema.json missing or not JSON";
  }
  void expect_valid(const delivery::Report& rep, const RunInfo& run = run_info()) {
    // Through render() and back, as a consumer sees it.
    std::string text = render(to_json(rep, run));
    json doc = json::parse(text);
    // MX_REPORT_DUMP_DIR=<dir>: keep the documents, to cross-check with a real validator
    // (python3 -m jsonschema / Draft202012Validator).
    if (const char* dir = std::getenv("MX_REPORT_DUMP_DIR")) {
      const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
      std::ofstream(std::string(dir) + "/" + info->name() + "-" + std::to_string(dumped_++) +
                    ".json")
          << text;
    }
    auto errors = SchemaChecker(schema_).check(doc);
    std::string all;
    for (const auto& e : errors) all += e + "\n";
    EXPECT_TRUE(errors.empty()) << all << doc.dump(2);
  }
  std::set<std::string> enum_of(const std::string& pointer) {
    std::set<std::string> out;
    for (const auto& v : schema_.at(json::json_pointer(pointer))) out.insert(v.get<std::string>());
    return out;
  }
  json schema_;
  int dumped_ = 0;
};

TEST_F(Schema, IsDraft202012) {
  EXPECT_EQ(schema_["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

TEST_F(Schema, EmptyRun) {
  expect_valid(delivery::Report{});
}

TEST_F(Schema, DaneSuccess) {
  expect_valid(dane_success());
}

TEST_F(Schema, EveryFieldFilled) {
  delivery::Report rep = dane_success();
  Error e = make_error(Stage::smtp, Permanence::permanent, "rejected");
  e.reason = Reason::no_such_user;
  e.smtp_code = 550;
  e.enhanced = "5.1.10";
  e.command = "RCPT TO:<b@dane.example>";
  e.server_text = "no \xff";
  e.host = "mx1.dane.example [192.0.2.1]";
  e.maybe_delivered = true;
  rep.recipients.push_back({"b@dane.example", e, "", "", ""});
  auto& d = rep.domains[0];
  d.destinations->implicit_mx = true;
  d.destinations->hosts_dropped = 1;
  d.destinations->hosts[0].lookup_error = e;
  d.destinations->hosts[0].tlsa_error = e;
  d.destinations->hosts[0].tlsa_malformed = 1;
  d.dns_error = e;
  d.hosts.push_back({"mx2.dane.example", "skipped", "none", e, delivery::tlsrpt::dnssec_invalid});
  delivery::AttemptRecord a = attempt("mx1.dane.example", "192.0.2.1");
  a.error = e;
  a.tlsrpt_result = delivery::tlsrpt::tlsa_invalid;
  a.reused_connection = a.plaintext_retry = true;
  d.attempts.push_back(a);
  mtasts::PolicyLookup l = sts_lookup(mtasts::Mode::testing);
  l.failure = mtasts::PolicyFailure::fetch_error;
  l.fetch_error = e;
  d.mta_sts = l;
  expect_valid(rep);
}

TEST_F(Schema, NoDnsResultAndStsScenarios) {
  delivery::Report rep;
  delivery::DomainRecord none;
  none.domain = "nonexistent.example";
  none.dns_error = make_error(Stage::dns, Permanence::permanent, "NXDOMAIN");
  rep.domains.push_back(none);
  for (auto mode : {mtasts::Mode::enforce, mtasts::Mode::testing, mtasts::Mode::none}) {
    delivery::DomainRecord d = sts_domain(sts_lookup(mode), {"mx1.sts.example", "rogue.example"});
    d.hosts.push_back({"rogue.example", "MTA-STS enforce: host not in the policy, skipped", "none",
                       make_error(Stage::tls, Permanence::temporary, "not listed"), ""});
    d.hosts.push_back({"mx1.sts.example", "MTA-STS", "pkix", std::nullopt, ""});
    delivery::AttemptRecord a = attempt("mx1.sts.example", "192.0.2.11");
    a.tls = tls_info(false);
    a.tls->pkix_valid = false;
    a.tls->pkix_error = "hostname mismatch";
    d.attempts.push_back(a);
    delivery::AttemptRecord retry = attempt("mx1.sts.example", "192.0.2.11");
    retry.plaintext_retry = true;
    d.attempts.push_back(retry);
    rep.domains.push_back(d);
  }
  mtasts::PolicyLookup failed;
  failed.failure = mtasts::PolicyFailure::webpki_invalid;
  rep.domains.push_back(sts_domain(failed, {"mx1.sts.example"}));
  rep.domains.back().hosts.push_back({"mx1.sts.example", "x", "none", std::nullopt, ""});
  expect_valid(rep);
}

TEST_F(Schema, CheckerRejectsDrift) {
  // The checker must not be vacuous: a missing key, an unknown key and a bad enum value fail.
  json doc = to_json(dane_success(), run_info());
  SchemaChecker checker(schema_);
  ASSERT_TRUE(checker.check(doc).empty());
  json missing = doc;
  missing["domains"][0]["attempts"][0].erase("via");
  EXPECT_FALSE(checker.check(missing).empty());
  json extra = doc;
  extra["recipients"][0]["surprise"] = 1;
  EXPECT_FALSE(checker.check(extra).empty());
  json bad = doc;
  bad["tlsrpt"]["policies"][0]["policy"]["policy-type"] = "dane";
  EXPECT_FALSE(checker.check(bad).empty());
  json tlsa_without_host = doc;
  tlsa_without_host["tlsrpt"]["policies"][0]["policy"].erase("mx-host");
  EXPECT_FALSE(checker.check(tlsa_without_host).empty());
}

TEST_F(Schema, EnumsCoverEveryStageAndResultType) {
  auto stages = enum_of("/$defs/error/properties/stage/enum");
  for (Stage s : {Stage::usage, Stage::config, Stage::input, Stage::dns, Stage::connect, Stage::tls,
                  Stage::dane, Stage::smtp, Stage::internal})
    EXPECT_TRUE(stages.contains(stage_name(s))) << stage_name(s);
  auto results = enum_of("/$defs/tlsrpt_result/enum");
  namespace rt = delivery::tlsrpt;
  for (const char* r :
       {rt::starttls_not_supported, rt::certificate_host_mismatch, rt::certificate_expired,
        rt::certificate_not_trusted, rt::validation_failure, rt::tlsa_invalid, rt::dnssec_invalid,
        rt::dane_required})
    EXPECT_TRUE(results.contains(r)) << r;
  for (auto f : {mtasts::PolicyFailure::fetch_error, mtasts::PolicyFailure::policy_invalid,
                 mtasts::PolicyFailure::webpki_invalid}) {
    EXPECT_TRUE(results.contains(mtasts::tlsrpt_result_type(f)));
    EXPECT_TRUE(enum_of("/$defs/mta_sts/properties/failure/anyOf/0/enum")
                    .contains(mtasts::tlsrpt_result_type(f)));
  }
}

TEST_F(Schema, EveryReasonValidates) {
  for (Reason r : {Reason::generic, Reason::bad_data, Reason::no_such_user, Reason::no_such_domain,
                   Reason::input_io, Reason::auth_refused, Reason::protocol}) {
    delivery::Report rep;
    Error e = make_error(Stage::input, Permanence::temporary, "x");
    e.reason = r;
    rep.recipients.push_back({"a@b.example", e, "", "", ""});
    expect_valid(rep);
  }
}

}  // namespace
}  // namespace mx::report
