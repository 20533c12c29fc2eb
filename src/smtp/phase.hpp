// Phases of an SMTP client session and their RFC 5321 §4.5.3.2 timeouts.
#pragma once

#include <chrono>
#include <cstdint>

namespace mx::smtp {

/// What the session is waiting for; the driver picks its read timeout from it.
enum class Phase : std::uint8_t {
  greeting,
  ehlo,
  helo,
  starttls,
  auth,  // RFC 4954: AUTH and its challenges
  mail,
  rcpt,
  data,      // waiting for the 354 to DATA, and while the driver streams the body
  data_end,  // waiting for the reply to the final dot, or to BDAT once its body is written
  quit,
  idle,  // keep_open: between messages, nothing is awaited
  done,
};

const char* phase_name(Phase phase);

/// RFC 5321 §4.5.3.2 minimum timeouts for waiting on the reply in `phase`
/// (QUIT: a short grace, the outcome is already known; idle and done: 0).
std::chrono::seconds default_timeout(Phase phase);

/// RFC 5321 §4.5.3.2.5: per-write timeout while the driver streams the message body.
inline constexpr std::chrono::seconds kDataBlockTimeout{3 * 60};

}  // namespace mx::smtp
