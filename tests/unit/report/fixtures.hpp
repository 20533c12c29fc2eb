// Synthetic delivery Reports for the report tests: one builder per scenario the JSON document
// and its TLSRPT section must describe (DANE, MTA-STS, plaintext retry, DNS failure, ...).
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <string>

#include "delivery/deliver.hpp"
#include "report/json_report.hpp"

namespace mx::report::testing {

inline Error make_error(Stage stage, Permanence p, std::string detail) {
  Error e;
  e.stage = stage;
  e.permanence = p;
  e.detail = std::move(detail);
  return e;
}

inline RunInfo run_info() {
  RunInfo run;
  run.version = "0.1.0";
  run.sender = "sender@client.example";
  run.tls_policy = "dane";
  run.resolver_mode = "resolver 127.0.0.1";
  run.recipients = {"a@dane.example"};
  // 2024-05-01T12:00:00Z plus 700 ms, which the report truncates to the second.
  run.started = std::chrono::system_clock::time_point(std::chrono::seconds(1714564800)) +
                std::chrono::milliseconds(700);
  run.exit_code = 0;
  return run;
}

inline dns::TlsaRecord tlsa_311() {
  return {3, 1, 1, std::string("\x01\xab\xff\x00", 4) + std::string(28, '\x11')};
}

inline tls::Info tls_info(bool dane) {
  tls::Info t;
  t.version = "TLSv1.3";
  t.cipher = "TLS_AES_256_GCM_SHA384";
  t.peer_subject = "CN=mx1.dane.example";
  t.peer_issuer = "CN=Test CA";
  t.spki_sha256 = std::string(64, 'a');
  t.pkix_valid = !dane;
  t.pkix_error = dane ? "self-signed certificate" : "";
  t.dane_verified = dane;
  t.dane_record = dane ? "3 1 1 " + std::string(64, 'b') : "";
  t.dane_depth = dane ? 0 : -1;
  return t;
}

inline dns::MxHost mx_host(std::string name, std::uint16_t pref, std::string ip) {
  dns::MxHost h;
  h.name = name;
  h.expanded_name = name;
  h.preference = pref;
  h.addresses_secure = true;
  h.expanded_secure = true;
  h.addresses = {{"2001:db8::1", AF_INET6}, {std::move(ip), AF_INET}};
  return h;
}

/// dane.example: one MX with a 3 1 1 record, DANE-verified delivery of a@dane.example.
inline delivery::Report dane_success() {
  delivery::Report r;
  r.recipients = {{"a@dane.example", std::nullopt, "mx1.dane.example [192.0.2.1]",
                   "Ok: queued as ABC", "DANE-verified TLSv1.3", 250, "2.0.0"}};
  delivery::DomainRecord d;
  d.domain = "dane.example";
  dns::Destinations dest;
  dest.domain = "dane.example";
  dest.expanded_domain = "dane.example";
  dest.domain_secure = true;
  dns::MxHost h = mx_host("mx1.dane.example", 10, "192.0.2.1");
  h.tlsa_state = dns::TlsaState::found;
  h.tlsa = {tlsa_311(), {1, 0, 1, std::string(32, '\x22')}};
  h.tlsa_base = "mx1.dane.example";
  dest.hosts.push_back(h);
  d.destinations = dest;
  d.hosts.push_back({"mx1.dane.example",
                     "DANE: 1 usable TLSA record(s) at _25._tcp.mx1.dane.example: TLS required and "
                     "authenticated",
                     "dane", std::nullopt, "", true});
  delivery::AttemptRecord a;
  a.host = "mx1.dane.example";
  a.address = "192.0.2.1";
  a.via = "directly";
  a.tls = tls_info(true);
  a.extensions = {"PIPELINING", "SIZE 10240000", "8BITMIME"};
  a.delivered = {"a@dane.example"};
  a.round_trips = 5;
  a.seconds = 0.12345;
  d.attempts.push_back(a);
  r.domains.push_back(d);
  r.round_trips = 6;
  r.seconds = 1.2;
  return r;
}

inline mtasts::Policy sts_policy(mtasts::Mode mode) {
  mtasts::Policy p;
  p.mode = mode;
  p.mx = {"mx1.sts.example", "*.backup.sts.example"};
  p.max_age = 86400;
  return p;
}

inline mtasts::PolicyLookup sts_lookup(mtasts::Mode mode) {
  mtasts::PolicyLookup l;
  l.policy = sts_policy(mode);
  l.source = mtasts::PolicyLookup::Source::fresh;
  l.id = "enforce1";
  l.expires_at = mtasts::WallTime(std::chrono::seconds(1714651200));  // 2024-05-02T12:00:00Z
  l.note = "fetched policy enforce1";
  return l;
}

/// sts.example (no DNSSEC): `hosts` MX hosts, the given policy, nothing attempted yet.
inline delivery::DomainRecord sts_domain(std::optional<mtasts::PolicyLookup> lookup,
                                         std::vector<std::string> hosts) {
  delivery::DomainRecord d;
  d.domain = "sts.example";
  dns::Destinations dest;
  dest.domain = "sts.example";
  dest.expanded_domain = "sts.example";
  std::uint16_t pref = 10;
  int n = 1;
  for (const auto& name : hosts) {
    dns::MxHost h = mx_host(name, pref, "192.0.2." + std::to_string(10 + n++));
    h.addresses_secure = h.expanded_secure = false;
    pref = static_cast<std::uint16_t>(pref + 10);
    dest.hosts.push_back(h);
  }
  d.destinations = dest;
  d.mta_sts = std::move(lookup);
  return d;
}

inline delivery::AttemptRecord attempt(std::string host, std::string ip) {
  delivery::AttemptRecord a;
  a.host = std::move(host);
  a.address = std::move(ip);
  a.via = "directly";
  a.round_trips = 4;
  a.seconds = 0.5;
  return a;
}

}  // namespace mx::report::testing
