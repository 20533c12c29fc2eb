// The failure policy: when another MX may be tried and when the outcome is final.
#include "delivery/policy.hpp"

#include <gtest/gtest.h>

namespace mx::delivery {
namespace {

Error reply(Permanence p, int code) {
  Error e;
  e.stage = Stage::smtp;
  e.permanence = p;
  e.smtp_code = code;
  return e;
}

TEST(Policy, BeforeTheTransactionEverythingTriesTheNextServer) {
  EXPECT_EQ(after_failure(temporary_error(Stage::connect, "refused"), false),
            Next::try_next_server);
  EXPECT_EQ(after_failure(temporary_error(Stage::tls, "handshake"), false), Next::try_next_server);
  EXPECT_EQ(after_failure(reply(Permanence::permanent, 554), false), Next::try_next_server);
  EXPECT_EQ(after_failure(reply(Permanence::temporary, 421), false), Next::try_next_server);
}

TEST(Policy, InTheTransactionTheReplyClassDecides) {
  EXPECT_EQ(after_failure(reply(Permanence::temporary, 451), true), Next::try_next_server);
  EXPECT_EQ(after_failure(reply(Permanence::permanent, 550), true), Next::final);
}

TEST(Policy, MaybeDeliveredIsFinal) {
  Error e = temporary_error(Stage::smtp, "connection lost after the final dot");
  e.maybe_delivered = true;
  EXPECT_EQ(after_failure(e, true), Next::final);
}

TEST(Policy, LocalProblemsAreFinal) {
  EXPECT_EQ(after_failure(permanent_error(Stage::input, "x"), false), Next::final);
  EXPECT_EQ(after_failure(permanent_error(Stage::config, "x"), false), Next::final);
}

}  // namespace
}  // namespace mx::delivery
