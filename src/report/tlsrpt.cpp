// The "tlsrpt" section of the --json document: one run's sessions counted per applied policy
// in RFC 8460 §4.4 vocabulary, so that a queue can merge many runs into daily TLS reports.
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "dane/tlsa.hpp"
#include "mtasts/policy.hpp"
#include "report/json_report.hpp"

namespace mx::report {
namespace {

using nlohmann::json;
namespace rt = delivery::tlsrpt;

/// RFC 8460 §4.3.1 result type for a PKIX failure, from OpenSSL's
/// X509_verify_cert_error_string() wording (the same test delivery/deliver.cpp applies).
const char* pkix_result(const std::string& error) {
  if (error.find("hostname mismatch") != std::string::npos) return rt::certificate_host_mismatch;
  if (error.find("has expired") != std::string::npos) return rt::certificate_expired;
  if (error.find("self-signed") != std::string::npos ||
      error.find("local issuer") != std::string::npos ||
      error.find("not trusted") != std::string::npos)
    return rt::certificate_not_trusted;
  return rt::validation_failure;
}

/// RFC 8460 §4.4 "policy-string" of an MTA-STS policy: its lines (RFC 8461 §3.2).
json sts_policy_string(const mtasts::Policy& p) {
  json lines = json::array({"version: STSv1", std::string("mode: ") + mtasts::mode_name(p.mode)});
  for (const auto& m : p.mx) lines.push_back("mx: " + m);
  lines.push_back("max_age: " + std::to_string(p.max_age));
  return lines;
}

/// RFC 8460 §4.4 "policy-string" of a TLSA policy: the records in presentation form.
json tlsa_policy_string(const dns::MxHost& h) {
  json lines = json::array();
  std::string owner = dns::tlsa_owner(dns::kSmtpPort, h.tlsa_base.empty() ? h.name : h.tlsa_base);
  for (const auto& r : h.tlsa) lines.push_back(owner + ". IN TLSA " + dane::to_string(r));
  return lines;
}

/// One "policies" entry being counted.
struct Entry {
  json policy;
  int successes = 0;
  int failures = 0;
  struct Failure {
    std::string result_type, mx_host, ip, reason;
    int count = 0;
  };
  std::vector<Failure> details;  // first-seen order; same type, host and address merged

  void fail(const std::string& type, const std::string& mx_host, const std::string& ip,
            const std::string& reason) {
    ++failures;
    for (auto& f : details)
      if (f.result_type == type && f.mx_host == mx_host && f.ip == ip) {
        ++f.count;
        return;
      }
    details.push_back({type, mx_host, ip, reason, 1});
  }

  json to_json() const {
    json out = {{"policy", policy},
                {"summary",
                 {{"total-successful-session-count", successes},
                  {"total-failure-session-count", failures}}}};
    json list = json::array();
    for (const auto& f : details) {
      json d = {{"result-type", f.result_type}};
      // sending-mta-ip is left out: the run does not know its own public address.
      if (!f.mx_host.empty()) d["receiving-mx-hostname"] = f.mx_host;
      if (!f.ip.empty()) d["receiving-ip"] = f.ip;
      d["failed-session-count"] = f.count;
      if (!f.reason.empty()) d["failure-reason-code"] = f.reason;
      list.push_back(std::move(d));
    }
    out["failure-details"] = std::move(list);
    return out;
  }
};

/// Whether the host was handled under DANE (RFC 7672): then its TLSA RRset is the policy.
bool dane_host(const delivery::HostRecord& h) {
  return h.dane || h.tlsrpt_result == rt::dnssec_invalid || h.tlsrpt_result == rt::dane_required;
}

/// Counts the policies of one recipient domain into `entries`.
class DomainCounter {
 public:
  DomainCounter(const delivery::DomainRecord& d, std::vector<Entry>& entries)
      : d_(d), entries_(entries) {
    domain_ = d.destinations ? d.destinations->domain : d.domain;
    if (d.mta_sts && d.mta_sts->policy && d.mta_sts->policy->mode != mtasts::Mode::none)
      sts_ = &*d.mta_sts->policy;
  }

  void run() {
    // RFC 8460 §4.3.2.2: a failed policy discovery is reported even when a cached policy
    // stood in; it counts as one failed session of the domain's policy.
    if (d_.mta_sts && d_.mta_sts->failure != mtasts::PolicyFailure::none)
      domain_entry().fail(mtasts::tlsrpt_result_type(d_.mta_sts->failure), "", "",
                          d_.mta_sts->fetch_error ? d_.mta_sts->fetch_error->detail : "");
    for (const auto& h : d_.hosts) count_host(h);
    for (const auto& a : d_.attempts) count_attempt(a);
  }

 private:
  Entry& domain_entry() {
    if (!domain_index_) {
      json policy = {{"policy-type", sts_ ? "sts" : "no-policy-found"}};
      if (sts_) policy["policy-string"] = sts_policy_string(*sts_);
      policy["policy-domain"] = domain_;
      domain_index_ = entries_.size();
      entries_.emplace_back().policy = std::move(policy);
    }
    return entries_[*domain_index_];
  }

  Entry& host_entry(const std::string& host) {
    auto it = host_index_.find(host);
    if (it != host_index_.end()) return entries_[it->second];
    json policy = {{"policy-type", "tlsa"}};
    const dns::MxHost* mx = find_mx(host);
    policy["policy-string"] = mx ? tlsa_policy_string(*mx) : json::array();
    policy["policy-domain"] = domain_;
    policy["mx-host"] = host;
    host_index_[host] = entries_.size();
    entries_.emplace_back().policy = std::move(policy);
    return entries_.back();
  }

  const dns::MxHost* find_mx(const std::string& host) const {
    if (!d_.destinations) return nullptr;
    for (const auto& h : d_.destinations->hosts)
      if (h.name == host) return &h;
    return nullptr;
  }

  const delivery::HostRecord* find_host(const std::string& host) const {
    for (const auto& h : d_.hosts)
      if (h.host == host) return &h;
    return nullptr;
  }

  Entry& entry_for(const std::string& host) {
    const delivery::HostRecord* h = find_host(host);
    return h && dane_host(*h) ? host_entry(host) : domain_entry();
  }

  void count_host(const delivery::HostRecord& h) {
    Entry& e = entry_for(h.host);
    if (!h.skipped) return;  // its attempts are counted below
    std::string type = h.tlsrpt_result;
    // RFC 8461 §4.1: an MX host the enforced policy does not list. RFC 8460 has no result
    // type of its own for it; §4.3.1 "validation-failure" is the general one.
    // (A REQUIRETLS refusal is permanent and says nothing about the receiving side.)
    if (type.empty() && sts_ && sts_->mode == mtasts::Mode::enforce && !dane_host(h) &&
        h.skipped->stage == Stage::tls && h.skipped->temporary() && !sts_->matches(h.host))
      type = rt::validation_failure;
    if (!type.empty()) e.fail(type, h.host, "", h.skipped->detail);
  }

  void count_attempt(const delivery::AttemptRecord& a) {
    Entry& e = entry_for(a.host);
    const delivery::HostRecord* h = find_host(a.host);
    std::string reason = a.error ? a.error->detail : std::string();
    if (!a.tlsrpt_result.empty()) {
      e.fail(a.tlsrpt_result, a.host, a.address, reason);
      return;
    }
    // A plaintext retry is not a TLS session; the failed handshake before it was counted.
    if (a.plaintext_retry) return;
    bool tls_failed =
        a.error && !a.tls && (a.error->stage == Stage::tls || a.error->stage == Stage::dane);
    bool testing = sts_ && sts_->mode == mtasts::Mode::testing && !(h && dane_host(*h));
    if (testing) {
      // RFC 8461 §5: in testing mode the session goes ahead, but what enforce would have
      // refused is reported.
      bool reached = a.tls || tls_failed || !a.error;  // STARTTLS was up for negotiation
      if (!reached) return;
      if (!sts_->matches(a.host)) {
        e.fail(rt::validation_failure, a.host, a.address,
               "host not listed in the MTA-STS policy (testing mode)");
      } else if (a.tls && !a.tls->pkix_valid) {
        e.fail(pkix_result(a.tls->pkix_error), a.host, a.address, a.tls->pkix_error);
      } else if (!a.tls && !tls_failed) {
        e.fail(rt::starttls_not_supported, a.host, a.address, "no TLS session (testing mode)");
      } else if (!a.tls) {
        e.fail(rt::validation_failure, a.host, a.address, reason);
      } else {
        ++e.successes;
      }
      return;
    }
    if (a.tls) {
      ++e.successes;
    } else if (tls_failed) {
      e.fail(rt::validation_failure, a.host, a.address, reason);
    }
    // Otherwise no TLS negotiation took place (connect failure, TLS off): not a TLS session.
  }

  const delivery::DomainRecord& d_;
  std::vector<Entry>& entries_;
  std::string domain_;
  const mtasts::Policy* sts_ = nullptr;
  std::optional<std::size_t> domain_index_;
  std::map<std::string, std::size_t> host_index_;
};

}  // namespace

json tlsrpt_json(const delivery::Report& report, const RunInfo& run) {
  std::vector<Entry> entries;
  for (const auto& d : report.domains) DomainCounter(d, entries).run();
  json policies = json::array();
  for (const auto& e : entries) policies.push_back(e.to_json());
  auto start = std::chrono::floor<std::chrono::seconds>(run.started);
  auto end = start + std::chrono::seconds(static_cast<long long>(std::ceil(report.seconds)));
  return {
      {"date-range",
       {{"start-datetime", mtasts::format_time(start)},
        {"end-datetime", mtasts::format_time(end)}}},
      {"policies", std::move(policies)},
  };
}

}  // namespace mx::report
