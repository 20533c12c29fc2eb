// Timeouts: RFC 5321 §4.5.3.2 defaults, overrides by name, and the overall cap.
#include "delivery/timeouts.hpp"

#include <gtest/gtest.h>

namespace mx::delivery {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;

TEST(Timeouts, RfcDefaults) {
  Timeouts t;
  EXPECT_EQ(t.phase[static_cast<std::size_t>(smtp::Phase::greeting)], minutes(5));
  EXPECT_EQ(t.phase[static_cast<std::size_t>(smtp::Phase::data)], minutes(2));
  EXPECT_EQ(t.phase[static_cast<std::size_t>(smtp::Phase::data_end)], minutes(10));
  EXPECT_EQ(t.data_block, minutes(3));
}

TEST(Timeouts, OverridesByName) {
  Timeouts t;
  ASSERT_TRUE(t.set("rcpt=1.5"));
  EXPECT_EQ(t.phase[static_cast<std::size_t>(smtp::Phase::rcpt)], milliseconds(1500));
  ASSERT_TRUE(t.set("connect=2"));
  EXPECT_EQ(t.connect, milliseconds(2000));
  ASSERT_TRUE(t.set("data_block=7"));
  EXPECT_EQ(t.data_block, milliseconds(7000));
  EXPECT_FALSE(t.set("bogus=1"));
  EXPECT_FALSE(t.set("rcpt"));
  EXPECT_FALSE(t.set("rcpt=0"));
  EXPECT_FALSE(t.set("rcpt=x"));
  EXPECT_EQ(t.set("rcpt=x").error().stage, Stage::usage);
}

TEST(Timeouts, OverallDeadlineCapsEveryWait) {
  Timeouts t;
  t.overall = Deadline::after(milliseconds(100));
  EXPECT_LE(t.for_phase(smtp::Phase::data_end).poll_timeout_ms(), 100);
  EXPECT_LE(t.for_connect().poll_timeout_ms(), 100);
  EXPECT_LE(t.for_data_block().poll_timeout_ms(), 100);
}

}  // namespace
}  // namespace mx::delivery
