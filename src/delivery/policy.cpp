// See policy.hpp.
#include "delivery/policy.hpp"

namespace mx::delivery {

Next after_failure(const Error& error, bool in_transaction) {
  // A lost reply to the final dot: another server would make a duplicate (RFC 1047).
  if (error.maybe_delivered) return Next::final;
  // Local problems do not get better elsewhere.
  if (error.stage == Stage::input || error.stage == Stage::config || error.stage == Stage::usage ||
      error.stage == Stage::internal)
    return Next::final;
  // Before the transaction everything (even a 5xx greeting, Postfix smtp_skip_5xx_greeting)
  // is a property of that server: try the next one.
  if (!in_transaction) return Next::try_next_server;
  // In the transaction the class of the reply decides (RFC 5321 §4.2.1).
  return error.permanent() ? Next::final : Next::try_next_server;
}

}  // namespace mx::delivery
