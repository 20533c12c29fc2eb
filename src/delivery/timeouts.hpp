// Timeouts of a delivery: RFC 5321 §4.5.3.2 per phase by default, each overridable, plus an
// overall deadline that caps every wait.
#pragma once

#include <array>
#include <chrono>
#include <string_view>

#include "core/deadline.hpp"
#include "core/result.hpp"
#include "smtp/phase.hpp"

namespace mx::delivery {

struct Timeouts {
  std::array<std::chrono::milliseconds, static_cast<std::size_t>(smtp::Phase::done) + 1> phase{};
  std::chrono::milliseconds data_block = smtp::kDataBlockTimeout;  // each body write
  std::chrono::milliseconds connect{30'000};                       // Postfix smtp_connect_timeout
  std::chrono::milliseconds tls_handshake{300'000};                // Postfix smtp_starttls_timeout
  Deadline overall = Deadline::never();                            // --timeout

  Timeouts();
  /// The deadline for a wait in `p`, never later than the overall deadline.
  Deadline for_phase(smtp::Phase p) const;
  Deadline for_data_block() const;
  Deadline for_connect() const;
  Deadline for_tls_handshake() const;

  /// Applies "NAME=SECONDS" (NAME: a phase name such as greeting, mail, rcpt, data, data_end,
  /// or connect, tls, data_block). Errors are Stage::usage.
  Result<void> set(std::string_view assignment);
};

}  // namespace mx::delivery
