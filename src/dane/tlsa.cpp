// TLSA usability and the per-host DANE decision (RFC 7672 §2.2, §3.1; RFC 7671 §4, §5).
#include "dane/tlsa.hpp"

#include <algorithm>
#include <utility>

namespace mx::dane {
namespace {

/// Matching type 0 carries a whole certificate or SubjectPublicKeyInfo, both a DER SEQUENCE
/// (RFC 6698 §2.1.3). Only the outer tag and definite length are checked here: enough to drop
/// obvious garbage before it is handed to the TLS library, which parses the rest.
bool is_der_sequence(const std::string& data) {
  if (data.size() < 2 || static_cast<unsigned char>(data[0]) != 0x30) return false;
  const auto first = static_cast<unsigned char>(data[1]);
  std::size_t header = 2;
  std::size_t length = 0;
  if (first < 0x80) {
    length = first;
  } else {
    const std::size_t octets = first & 0x7f;
    // 0x80 is the indefinite form, which DER forbids; four octets is far beyond any RRset.
    if (octets == 0 || octets > 4 || data.size() < 2 + octets) return false;
    if (static_cast<unsigned char>(data[2]) == 0) return false;  // DER: minimal length octets
    for (std::size_t i = 0; i < octets; ++i)
      length = (length << 8) | static_cast<unsigned char>(data[2 + i]);
    if (length < 0x80) return false;  // DER: short form where it fits
    header += octets;
  }
  return data.size() == header + length;
}

bool usable_data(std::uint8_t matching, const std::string& data) {
  switch (matching) {
    case mtype::full:
      return !data.empty() && is_der_sequence(data);
    case mtype::sha256:
      return data.size() == 32;
    case mtype::sha512:
      return data.size() == 64;
    default:
      return false;  // RFC 7671 §10.1.4: unknown matching types are unusable
  }
}

void add_unique(std::vector<std::string>& names, const std::string& name) {
  if (name.empty()) return;
  if (std::none_of(names.begin(), names.end(),
                   [&](const std::string& n) { return dns::same_name(n, name); }))
    names.push_back(name);
}

}  // namespace

bool usable(const dns::TlsaRecord& record) {
  // RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) need a CA trust store that SMTP clients lack,
  // so they are unusable; §3.1.1/§3.1.2 define DANE-EE(3) and DANE-TA(2) for SMTP.
  if (record.usage != usage::dane_ta && record.usage != usage::dane_ee) return false;
  if (record.selector != selector::cert && record.selector != selector::spki) return false;
  return usable_data(record.mtype, record.data);
}

TlsaSet classify(const std::vector<dns::TlsaRecord>& records) {
  TlsaSet set;
  for (const auto& r : records) {
    if (usable(r)) {
      set.usable.push_back(r);
    } else {
      ++set.unusable;
    }
  }
  return set;
}

std::string to_string(const dns::TlsaRecord& record) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = std::to_string(record.usage) + " " + std::to_string(record.selector) + " " +
                    std::to_string(record.mtype) + " ";
  out.reserve(out.size() + 2 * record.data.size());
  for (char c : record.data) {
    const auto b = static_cast<unsigned char>(c);
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

const char* decision_name(DaneDecision decision) {
  switch (decision) {
    case DaneDecision::no_dane:
      return "no DANE";
    case DaneDecision::authenticate:
      return "DANE authentication";
    case DaneDecision::encrypt_only:
      return "DANE encryption only";
    case DaneDecision::host_unusable:
      return "host unusable";
  }
  return "?";
}

Assessment assess(const dns::MxHost& host) {
  Assessment a;
  switch (host.tlsa_state) {
    case dns::TlsaState::not_looked_up:
      // RFC 7672 §2.2.2: TLSA records of a host with insecure addresses are not trusted.
      a.reason = "the addresses of " + host.name + " are not DNSSEC-secure";
      return a;
    case dns::TlsaState::none:
      a.reason = "no TLSA records for " + host.tlsa_base;
      return a;
    case dns::TlsaState::insecure:
      a.reason = "the TLSA records of " + host.tlsa_base + " are not DNSSEC-secure";
      return a;
    case dns::TlsaState::failed:
      // RFC 7672 §2.2.3: the lookup may be an attacker's doing; never fall back to plain TLS.
      a.decision = DaneDecision::host_unusable;
      a.reason = "the TLSA lookup for " + host.name + " failed" +
                 (host.tlsa_error ? ": " + host.tlsa_error->detail : std::string());
      return a;
    case dns::TlsaState::found:
      break;
  }
  a.records = classify(host.tlsa);
  a.records.unusable += host.tlsa_malformed;
  a.reason = std::to_string(a.records.usable.size()) + " usable, " +
             std::to_string(a.records.unusable) + " unusable TLSA records for " + host.tlsa_base;
  if (a.records.usable.empty()) {
    // RFC 7672 §2.2: a secure non-empty RRset still says the server does TLS, so TLS is
    // mandatory even though nothing can authenticate it.
    a.decision = DaneDecision::encrypt_only;
  } else {
    a.decision = DaneDecision::authenticate;
  }
  return a;
}

DaneDecision decide(const dns::MxHost& host) {
  return assess(host).decision;
}

std::vector<std::string> reference_names(const dns::Destinations& destinations,
                                         const dns::MxHost& host) {
  std::vector<std::string> names;
  add_unique(names, host.tlsa_base.empty() ? host.name : host.tlsa_base);
  add_unique(names, host.name);
  if (host.expanded_secure) add_unique(names, host.expanded_name);
  // With no MX records the host is the next-hop domain itself, already named above.
  if (destinations.implicit_mx) add_unique(names, destinations.domain);
  return names;
}

}  // namespace mx::dane
