// MTA-STS policy discovery (RFC 8461 §3, §5): the TXT record, the cache and the HTTPS fetch
// combined so that a cached, unexpired policy survives failed or suppressed discovery.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/result.hpp"
#include "dns/resolver.hpp"
#include "mtasts/cache.hpp"
#include "mtasts/fetcher.hpp"
#include "mtasts/policy.hpp"

namespace mx::mtasts {

/// What went wrong with the policy, in RFC 8460 §4.3.2.2 (TLSRPT) result types.
enum class PolicyFailure : std::uint8_t {
  none,
  fetch_error,     // "sts-policy-fetch-error": host unreachable, HTTP error, ...
  policy_invalid,  // "sts-policy-invalid": the body did not parse
  webpki_invalid,  // "sts-webpki-invalid": the policy host's certificate did not validate
};

/// The TLSRPT result-type string, "" for none.
const char* tlsrpt_result_type(PolicyFailure failure);

struct PolicyLookup {
  enum class Source : std::uint8_t { none, fresh, cached };

  std::optional<Policy> policy;  // mode none is returned too: the caller enforces nothing
  Source source = Source::none;
  std::string id;                      // the policy id when there is a policy
  std::optional<WallTime> expires_at;  // when the policy stops applying
  std::string note;                    // what happened, for the progress output
  std::optional<Error> fetch_error;    // a failed fetch or parse, for TLSRPT, even when the
                                       // cached policy was used instead
  PolicyFailure failure = PolicyFailure::none;
};

/// Looks up the policy of `domain` (RFC 8461 §3.1-§3.3, §5.1):
/// - the TXT record of _mta-sts.<domain> (an insecure answer is fine) gives the policy id;
/// - an unexpired cached policy with that id is used without fetching;
/// - otherwise the policy is fetched from the addresses of mta-sts.<domain>, parsed and cached
///   until now + max_age;
/// - when the TXT lookup fails, the record is missing or invalid, or the fetch or parse fails,
///   an unexpired cached policy still applies; without one there is no policy.
/// `cache` may be null (no caching). Fails only for a domain that is not a host name.
Result<PolicyLookup> discover(std::string_view domain, dns::Resolver& resolver, Fetcher& fetcher,
                              const Cache* cache, WallTime now);

/// "2024-05-01T12:00:00Z".
std::string format_time(WallTime t);

}  // namespace mx::mtasts
