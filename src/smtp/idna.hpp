// Internationalized domain names (IDNA2008, RFC 5890-5893, with UTS #46 non-transitional
// mapping) via libidn2: A-labels for DNS and the SMTP wire, U-labels for people.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mx::smtp {

/// Longest domain in text form without a trailing dot (RFC 1035 §2.3.4: 255 octets on the wire).
inline constexpr std::size_t kMaxDomainText = 253;

/// Converts a domain to its ASCII form: U-labels become A-labels ("bücher.example" ->
/// "xn--bcher-kva.example"), everything is lower-cased, and the result must consist of
/// letter-digit-hyphen labels of 1-63 octets (RFC 1123 §2.1, RFC 5890 §2.3.1), at most
/// kMaxDomainText octets. A-labels in the input must round-trip (RFC 5891 §5.4). An address
/// literal ("[192.0.2.1]") is returned unchanged once smtp::validate_domain accepts it.
/// Errors: Stage::input, permanent, Reason::bad_data, "invalid internationalized domain name: ...";
/// or, when a name needs libidn2 and it cannot be loaded, Stage::internal, temporary.
Result<std::string> domain_to_ascii(std::string_view domain);

/// The domain for display: A-labels become U-labels. Input that libidn2 cannot convert
/// (including anything that is not a valid domain) is returned unchanged.
std::string domain_to_unicode(std::string_view domain);

}  // namespace mx::smtp
