// The --json document (see json_report.hpp): every optional fact is present as null rather
// than missing, so consumers need no existence checks; docs/report-schema.json pins the shape.
#include "report/json_report.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <iostream>
#include <string_view>

#include "core/fd.hpp"
#include "dane/tlsa.hpp"
#include "mtasts/policy.hpp"

namespace mx::report {
namespace {

using nlohmann::json;

json text_or_null(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

/// Seconds rounded to milliseconds: finer digits are noise and make documents hard to read.
double round_ms(double seconds) {
  return std::round(seconds * 1000.0) / 1000.0;
}

const char* permanence_name(Permanence p) {
  return p == Permanence::permanent ? "permanent" : "temporary";
}

const char* reason_name(Reason r) {
  switch (r) {
    case Reason::generic:
      return "generic";
    case Reason::bad_data:
      return "bad_data";
    case Reason::no_such_user:
      return "no_such_user";
    case Reason::no_such_domain:
      return "no_such_domain";
    case Reason::input_io:
      return "input_io";
    case Reason::auth_refused:
      return "auth_refused";
    case Reason::protocol:
      return "protocol";
  }
  return "generic";
}

const char* tlsa_state_key(dns::TlsaState s) {
  switch (s) {
    case dns::TlsaState::not_looked_up:
      return "not_looked_up";
    case dns::TlsaState::none:
      return "none";
    case dns::TlsaState::found:
      return "found";
    case dns::TlsaState::insecure:
      return "insecure";
    case dns::TlsaState::failed:
      return "failed";
  }
  return "failed";
}

const char* source_name(mtasts::PolicyLookup::Source s) {
  switch (s) {
    case mtasts::PolicyLookup::Source::none:
      return "none";
    case mtasts::PolicyLookup::Source::fresh:
      return "fresh";
    case mtasts::PolicyLookup::Source::cached:
      return "cached";
  }
  return "none";
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::string timestamp(std::chrono::system_clock::time_point t) {
  return mtasts::format_time(std::chrono::floor<std::chrono::seconds>(t));
}

json error_json(const Error& e) {
  return {
      {"stage", stage_name(e.stage)},
      {"permanence", permanence_name(e.permanence)},
      {"reason", reason_name(e.reason)},
      {"detail", e.detail},
      {"smtp_code", e.smtp_code != 0 ? json(e.smtp_code) : json(nullptr)},
      {"enhanced_code", text_or_null(e.enhanced)},
      {"command", text_or_null(e.command)},
      {"server_text", text_or_null(e.server_text)},
      {"host", text_or_null(e.host)},
      {"maybe_delivered", e.maybe_delivered},
  };
}

json error_or_null(const std::optional<Error>& e) {
  return e ? error_json(*e) : json(nullptr);
}

json recipient_json(const delivery::RecipientOutcome& r) {
  json j = {{"address", r.recipient}};
  if (!r.error) {
    // The server's final reply to the message (DATA's dot or the last BDAT).
    j["outcome"] = "delivered";
    j["smtp_code"] = r.smtp_code != 0 ? json(r.smtp_code) : json(nullptr);
    j["enhanced_code"] = text_or_null(r.enhanced_code);
    j["server_text"] = text_or_null(r.server_reply);
    j["stage"] = nullptr;
    j["reason"] = nullptr;
    j["detail"] = nullptr;
    j["command"] = nullptr;
    j["host"] = nullptr;
    j["maybe_delivered"] = false;
  } else {
    const Error& e = *r.error;
    j["outcome"] = permanence_name(e.permanence);
    j["smtp_code"] = e.smtp_code != 0 ? json(e.smtp_code) : json(nullptr);
    j["enhanced_code"] = text_or_null(e.enhanced);
    j["server_text"] = text_or_null(e.server_text);
    j["stage"] = stage_name(e.stage);
    j["reason"] = reason_name(e.reason);
    j["detail"] = e.detail;
    j["command"] = text_or_null(e.command);
    j["host"] = text_or_null(e.host);
    j["maybe_delivered"] = e.maybe_delivered;
  }
  j["delivered_via"] = text_or_null(r.delivered_via);
  j["security"] = text_or_null(r.security);
  return j;
}

json tlsa_record_json(const dns::TlsaRecord& r) {
  return {{"usage", r.usage},
          {"selector", r.selector},
          {"mtype", r.mtype},
          {"data", hex(r.data)},
          {"usable", dane::usable(r)}};
}

json mx_host_json(const dns::MxHost& h) {
  json addresses = json::array();
  for (const auto& a : h.addresses)
    addresses.push_back({{"ip", a.ip},
                         {"family", a.family == AF_INET6  ? "ipv6"
                                    : a.family == AF_INET ? "ipv4"
                                                          : "unknown"}});
  json records = json::array();
  for (const auto& r : h.tlsa) records.push_back(tlsa_record_json(r));
  json tlsa = {
      {"state", tlsa_state_key(h.tlsa_state)},
      {"base", text_or_null(h.tlsa_base)},
      {"owner",
       h.tlsa_base.empty() ? json(nullptr) : json(dns::tlsa_owner(dns::kSmtpPort, h.tlsa_base))},
      {"records", std::move(records)},
      {"malformed", h.tlsa_malformed},
      {"error", error_or_null(h.tlsa_error)},
  };
  return {
      {"preference", h.preference},
      {"name", h.name},
      {"expanded_name", h.expanded_name},
      {"addresses_secure", h.addresses_secure},
      {"expanded_secure", h.expanded_secure},
      {"addresses", std::move(addresses)},
      {"lookup_error", error_or_null(h.lookup_error)},
      {"tlsa", std::move(tlsa)},
  };
}

json destinations_json(const dns::Destinations& d) {
  json mx = json::array();
  for (const auto& h : d.hosts) mx.push_back(mx_host_json(h));
  return {
      {"domain", d.domain},
      {"expanded_domain", d.expanded_domain},
      {"domain_secure", d.domain_secure},
      {"implicit_mx", d.implicit_mx},
      {"mx", std::move(mx)},
      {"hosts_dropped", d.hosts_dropped},
      {"mx_malformed", d.mx_malformed},
  };
}

json mta_sts_json(const mtasts::PolicyLookup& l) {
  json j = {{"source", source_name(l.source)}};
  if (l.policy) {
    json patterns = json::array();
    for (const auto& m : l.policy->mx) patterns.push_back(m);
    j["mode"] = mtasts::mode_name(l.policy->mode);
    j["mx"] = std::move(patterns);
    j["max_age"] = l.policy->max_age;
  } else {
    j["mode"] = nullptr;
    j["mx"] = json::array();
    j["max_age"] = nullptr;
  }
  j["id"] = text_or_null(l.id);
  j["expires"] = l.expires_at ? json(mtasts::format_time(*l.expires_at)) : json(nullptr);
  j["note"] = l.note;
  j["failure"] = text_or_null(mtasts::tlsrpt_result_type(l.failure));
  j["fetch_error"] = error_or_null(l.fetch_error);
  return j;
}

json host_json(const delivery::HostRecord& h) {
  return {
      {"host", h.host},
      {"policy", h.policy},
      {"authentication", h.authentication},
      {"skipped", h.skipped.has_value()},
      {"skip_error", error_or_null(h.skipped)},
      {"tlsrpt_result", text_or_null(h.tlsrpt_result)},
  };
}

json tls_json(const tls::Info& t) {
  return {
      {"version", t.version},
      {"cipher", t.cipher},
      {"peer_subject", text_or_null(t.peer_subject)},
      {"peer_issuer", text_or_null(t.peer_issuer)},
      {"spki_sha256", text_or_null(t.spki_sha256)},
      {"pkix_valid", t.pkix_valid},
      {"pkix_error", text_or_null(t.pkix_error)},
      {"dane_verified", t.dane_verified},
      {"dane_record", text_or_null(t.dane_record)},
      {"dane_depth", t.dane_depth >= 0 ? json(t.dane_depth) : json(nullptr)},
  };
}

json attempt_json(const delivery::AttemptRecord& a) {
  return {
      {"host", a.host},
      {"address", a.address},
      {"via", a.via},
      {"reused_connection", a.reused_connection},
      {"plaintext_retry", a.plaintext_retry},
      {"tls", a.tls ? tls_json(*a.tls) : json(nullptr)},
      {"extensions", a.extensions},
      {"delivered", a.delivered},
      {"error", error_or_null(a.error)},
      {"tlsrpt_result", text_or_null(a.tlsrpt_result)},
      {"round_trips", a.round_trips},
      {"seconds", round_ms(a.seconds)},
  };
}

json domain_json(const delivery::DomainRecord& d) {
  json hosts = json::array();
  for (const auto& h : d.hosts) hosts.push_back(host_json(h));
  json attempts = json::array();
  for (const auto& a : d.attempts) attempts.push_back(attempt_json(a));
  return {
      {"domain", d.domain},
      {"dns", d.destinations ? destinations_json(*d.destinations) : json(nullptr)},
      {"dns_error", error_or_null(d.dns_error)},
      {"mta_sts", d.mta_sts ? mta_sts_json(*d.mta_sts) : json(nullptr)},
      {"hosts", std::move(hosts)},
      {"attempts", std::move(attempts)},
  };
}

json totals_json(const delivery::Report& report) {
  int delivered = 0, temporary = 0, permanent = 0, attempts = 0, connections = 0;
  for (const auto& r : report.recipients) {
    if (!r.error)
      ++delivered;
    else if (r.error->permanent())
      ++permanent;
    else
      ++temporary;
  }
  for (const auto& d : report.domains)
    for (const auto& a : d.attempts) {
      ++attempts;
      if (!a.reused_connection) ++connections;
    }
  return {
      {"delivered", delivered},
      {"temporary", temporary},
      {"permanent", permanent},
      {"attempts", attempts},
      {"connections", connections},
      {"round_trips", report.round_trips},
      {"seconds", round_ms(report.seconds)},
  };
}

std::string system_error(int err) {
  return std::strerror(err);  // single-threaded CLI; strerror_r's two flavours are not worth it
}

Error write_error(const std::string& path, int err) {
  Error e = permanent_error(Stage::config,
                            "cannot write the JSON report to " + path + ": " + system_error(err));
  return e;
}

}  // namespace

json to_json(const delivery::Report& report, const RunInfo& run) {
  json recipients = json::array();
  for (const auto& r : report.recipients) recipients.push_back(recipient_json(r));
  json domains = json::array();
  for (const auto& d : report.domains) domains.push_back(domain_json(d));
  json run_json = {
      {"mxclient_version", run.version},
      {"started", timestamp(run.started)},
      {"sender", run.sender},
      {"recipients", run.recipients},
      {"tls_policy", run.tls_policy},
      {"resolver_mode", run.resolver_mode},
      {"exit_code", run.exit_code},
  };
  return {
      {"format", "mxclient-report"},        {"format_version", kFormatVersion},
      {"run", std::move(run_json)},         {"recipients", std::move(recipients)},
      {"domains", std::move(domains)},      {"totals", totals_json(report)},
      {"tlsrpt", tlsrpt_json(report, run)},
  };
}

std::string render(const json& document) {
  return document.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<void> write_json_report(const delivery::Report& report, const RunInfo& run,
                               const std::string& path) {
  std::string text = render(to_json(report, run));
  if (path == "-") {
    // std::cout, not fd 1: the transcript goes through it too and must not be overtaken.
    std::cout << text << std::flush;
    if (!std::cout)
      return fail(permanent_error(Stage::config,
                                  "cannot write the JSON report to "
                                  "standard output"));
    return {};
  }
  if (path.empty()) return fail(permanent_error(Stage::config, "empty path for the JSON report"));
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return fail(write_error(path, errno));
  std::string_view rest = text;
  while (!rest.empty()) {
    ssize_t n = ::write(fd.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(write_error(path, n < 0 ? errno : EIO));
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  // close() reports delayed write errors (NFS, full disks), so it is checked too.
  if (::close(fd.release()) != 0) return fail(write_error(path, errno));
  return {};
}

}  // namespace mx::report
