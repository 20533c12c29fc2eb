// What a delivery run saw and decided, as data: the DNS path, each host's TLS decision, each
// connection attempt and its TLS facts. report/ turns it into JSON (RFC 8460 vocabulary for
// TLS failures); the transcript says the same in prose.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "dns/destinations.hpp"
#include "mtasts/mtasts.hpp"
#include "tls/tls_stream.hpp"

namespace mx::delivery {

/// RFC 8460 §4.3 result types for a failed TLS policy ("" when none applies).
namespace tlsrpt {
inline constexpr const char* starttls_not_supported = "starttls-not-supported";
inline constexpr const char* certificate_host_mismatch = "certificate-host-mismatch";
inline constexpr const char* certificate_expired = "certificate-expired";
inline constexpr const char* certificate_not_trusted = "certificate-not-trusted";
inline constexpr const char* validation_failure = "validation-failure";
inline constexpr const char* tlsa_invalid = "tlsa-invalid";
inline constexpr const char* dnssec_invalid = "dnssec-invalid";
inline constexpr const char* dane_required = "dane-required";
}  // namespace tlsrpt

struct HostRecord {
  std::string host;
  std::string policy;            // the decision and why (HostPolicy::summary)
  std::string authentication;    // "dane", "pkix" or "none"
  std::optional<Error> skipped;  // the host was not used, and why
  std::string tlsrpt_result;     // when skipped for a TLS policy reason
  bool dane = false;             // its TLSA RRset was its policy (HostPolicy::dane)
};

struct AttemptRecord {
  std::string host;
  std::string address;
  std::string via;                      // "directly", "through SOCKS5 proxy ..."
  bool reused_connection = false;       // a connection opened for another domain of the run
  bool plaintext_retry = false;         // opportunistic retry after a failed handshake
  std::optional<tls::Info> tls;         // when TLS was established
  std::vector<std::string> extensions;  // the EHLO keywords that counted (after STARTTLS)
  std::vector<std::string> delivered;   // recipients this attempt delivered
  std::optional<Error> error;           // why the attempt failed, if it did
  std::string tlsrpt_result;            // RFC 8460 result type when TLS policy failed here
  int round_trips = 0;
  double seconds = 0;
};

struct DomainRecord {
  std::string domain;
  std::optional<dns::Destinations> destinations;  // the DNS path, with DNSSEC status
  std::optional<Error> dns_error;                 // when no destination could be found
  std::optional<mtasts::PolicyLookup> mta_sts;    // when MTA-STS was consulted
  std::vector<HostRecord> hosts;
  std::vector<AttemptRecord> attempts;
};

}  // namespace mx::delivery
