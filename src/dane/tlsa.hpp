// DANE for SMTP without I/O: which TLSA records are usable (RFC 7672 §3.1), what a host's
// TLSA lookup means for the connection (RFC 7672 §2.2), and the names a certificate may carry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dns/destinations.hpp"
#include "dns/records.hpp"

namespace mx::dane {

namespace usage {
inline constexpr std::uint8_t pkix_ta = 0;
inline constexpr std::uint8_t pkix_ee = 1;
inline constexpr std::uint8_t dane_ta = 2;
inline constexpr std::uint8_t dane_ee = 3;
}  // namespace usage

namespace selector {
inline constexpr std::uint8_t cert = 0;
inline constexpr std::uint8_t spki = 1;
}  // namespace selector

namespace mtype {
inline constexpr std::uint8_t full = 0;
inline constexpr std::uint8_t sha256 = 1;
inline constexpr std::uint8_t sha512 = 2;
}  // namespace mtype

/// Whether an SMTP client can use the record: usage DANE-TA(2) or DANE-EE(3), selector 0 or 1,
/// matching type 0 (a non-empty DER SEQUENCE), 1 (32 octets) or 2 (64 octets).
bool usable(const dns::TlsaRecord& record);

struct TlsaSet {
  std::vector<dns::TlsaRecord> usable;  // in the order given
  std::size_t unusable = 0;
};

TlsaSet classify(const std::vector<dns::TlsaRecord>& records);

/// Presentation form as in a zone file, data in lower-case hex: "3 1 1 ab12...".
std::string to_string(const dns::TlsaRecord& record);

/// What DANE means for one MX host (RFC 7672 §2.2).
enum class DaneDecision : std::uint8_t {
  no_dane,        // no secure TLSA RRset: the usual opportunistic TLS
  authenticate,   // usable records: TLS is mandatory and the certificate must match them
  encrypt_only,   // secure non-empty RRset, nothing usable: TLS mandatory, unauthenticated
  host_unusable,  // TLSA lookup failed for a secure host: skip it, temporary, never downgrade
};

const char* decision_name(DaneDecision decision);

struct Assessment {
  DaneDecision decision = DaneDecision::no_dane;
  std::string reason;  // one short phrase for progress notes and errors
  TlsaSet records;     // the classified records when found
};

Assessment assess(const dns::MxHost& host);
DaneDecision decide(const dns::MxHost& host);

/// Names a DANE-TA(2) certificate chain may be issued for (RFC 7672 §3.2.2), first the TLSA
/// base domain (also the SNI, §8.1), then the MX host name and its secure CNAME expansion,
/// and with no MX records the next-hop domain. Without duplicates.
std::vector<std::string> reference_names(const dns::Destinations& destinations,
                                         const dns::MxHost& host);

}  // namespace mx::dane
