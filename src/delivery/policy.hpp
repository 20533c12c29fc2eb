// Failure policy, in one place (as Postfix's smtp_trouble.c): after a failed attempt, may the
// recipients be tried on the next address or MX host, or is the outcome final?
#pragma once

#include "core/error.hpp"

namespace mx::delivery {

/// Postfix's smtp_mx_address_limit and smtp_mx_session_limit defaults.
inline constexpr int kMaxAddresses = 5;
inline constexpr int kMaxSessions = 2;

enum class Next : unsigned char {
  try_next_server,  // connection, TLS, greeting, 4xx: another MX may do better (RFC 5321 §5.1)
  final,            // 5xx to the transaction, or the message may already have been delivered
};

/// What to do after `error` ended an attempt. `in_transaction` is true once MAIL was sent.
Next after_failure(const Error& error, bool in_transaction);

}  // namespace mx::delivery
