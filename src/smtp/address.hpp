// RFC 5321 mailbox validation (§4.1.2, limits §4.5.3.1): nothing reaches a MAIL or RCPT command
// line unless it passed here.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mx::smtp {

struct Mailbox {
  std::string local;   // Dot-string, or Quoted-string including its quotes, as given
  std::string domain;  // labels (UTF-8 allowed) or an address literal with its brackets

  /// "local@domain", without angle brackets.
  std::string to_string() const;
  /// False when the local part has UTF-8 (needs SMTPUTF8, RFC 6531).
  bool local_is_ascii() const;
  /// False when local part or domain has UTF-8.
  bool is_ascii() const;
};

/// Parses "local@domain" or "<local@domain>". The null reverse-path is the caller's business.
/// Errors: Stage::input, permanent, Reason::bad_data.
Result<Mailbox> parse_mailbox(std::string_view text);

/// Validates a domain (dot-separated labels, UTF-8 allowed) or an address literal
/// ("[192.0.2.1]", "[IPv6:2001:db8::1]"). Same error shape as parse_mailbox.
Result<void> validate_domain(std::string_view domain);

}  // namespace mx::smtp
