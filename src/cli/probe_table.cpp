// See probe_table.hpp. "Securely" means: no host skipped by its TLS policy, every address
// reached, and TLS established and meeting that host's policy.
#include "cli/probe_table.hpp"

#include <algorithm>
#include <string>

#include "dane/tlsa.hpp"
#include "mtasts/policy.hpp"

namespace mx::cli {
namespace {

const char* secure_word(bool secure) {
  return secure ? "DNSSEC-secure" : "insecure";
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

}  // namespace

bool print_probe(const delivery::DomainRecord& r, std::ostream& out) {
  std::vector<std::string> problems;
  out << "Domain " << r.domain << "\n";
  if (r.dns_error) {
    out << "  DNS: " << r.dns_error->describe() << "\n";
    out << "Verdict: mail cannot be delivered (" << r.dns_error->detail << ")\n";
    return false;
  }
  const dns::Destinations& d = *r.destinations;
  if (d.expanded_domain != d.domain) out << "  CNAME to " << d.expanded_domain << "\n";
  out << "  " << (d.implicit_mx ? "No MX records: implicit MX" : "MX records") << " ("
      << secure_word(d.domain_secure) << ")\n";
  for (const auto& h : d.hosts) {
    out << "  " << h.preference << " " << h.name;
    if (h.expanded_name != h.name) out << " (CNAME " << h.expanded_name << ")";
    out << "\n";
    if (h.lookup_error) {
      out << "      addresses: " << h.lookup_error->detail << "\n";
      problems.push_back(h.name + ": " + h.lookup_error->detail);
      continue;
    }
    std::vector<std::string> ips;
    for (const auto& a : h.addresses) ips.push_back(a.ip);
    out << "      addresses: " << join(ips, " ") << " (" << secure_word(h.addresses_secure)
        << ")\n";
    out << "      TLSA: " << dns::tlsa_state_name(h.tlsa_state);
    if (!h.tlsa_base.empty()) out << " at _25._tcp." << h.tlsa_base;
    out << "\n";
    for (const auto& t : h.tlsa)
      out << "        " << dane::to_string(t) << (dane::usable(t) ? "" : " (unusable for SMTP)")
          << "\n";
    for (const auto& hr : r.hosts) {
      if (hr.host != h.name) continue;
      out << "      policy: " << hr.policy << "\n";
      if (hr.skipped) {
        out << "      skipped: " << hr.skipped->detail << "\n";
        problems.push_back(h.name + ": " + hr.skipped->detail);
      }
    }
    for (const auto& a : r.attempts) {
      if (a.host != h.name) continue;
      out << "      " << a.address << ": ";
      if (a.tls) {
        out << a.tls->version << " " << a.tls->cipher;
        if (a.tls->dane_verified)
          out << ", DANE-verified by TLSA " << a.tls->dane_record << " at depth "
              << a.tls->dane_depth;
        else if (a.tls->pkix_valid)
          out << ", PKIX-valid certificate";
        else
          out << ", certificate not verified (" << a.tls->pkix_error << ")";
        out << "\n        server key SPKI SHA-256 " << a.tls->spki_sha256;
        if (!a.tls->peer_subject.empty()) out << "\n        subject " << a.tls->peer_subject;
      } else if (!a.error) {
        out << "no TLS";
        problems.push_back(h.name + " [" + a.address + "]: no TLS");
      }
      if (a.error) {
        out << (a.tls ? "\n        " : "") << "failed: " << a.error->describe();
        problems.push_back(h.name + " [" + a.address + "]: " + a.error->detail);
      }
      if (!a.extensions.empty()) out << "\n        EHLO: " << join(a.extensions, " ");
      out << "\n";
    }
  }
  if (r.mta_sts) {
    out << "  MTA-STS: ";
    if (r.mta_sts->policy) {
      const auto& p = *r.mta_sts->policy;
      out << mtasts::mode_name(p.mode) << ", mx " << join(p.mx, " ") << ", max_age " << p.max_age;
    } else {
      out << "no policy";
    }
    if (!r.mta_sts->note.empty()) out << " (" << r.mta_sts->note << ")";
    out << "\n";
  }
  if (problems.empty()) {
    out << "Verdict: every MX accepts mail securely under the policy\n";
    return true;
  }
  out << "Verdict: not every MX accepts mail securely:\n";
  for (const auto& p : problems) out << "  - " << p << "\n";
  return false;
}

}  // namespace mx::cli
