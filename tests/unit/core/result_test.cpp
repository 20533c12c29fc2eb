// Result<T> and Error: the value/error plumbing every layer relies on.
#include "core/result.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace mx {
namespace {

Result<int> half(int x) {
  if (x % 2 != 0) return fail(permanent_error(Stage::input, "odd"));
  return x / 2;
}

TEST(Result, HoldsValueOrError) {
  auto ok = half(4);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 2);
  auto bad = half(3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().detail, "odd");
  EXPECT_TRUE(bad.error().permanent());
  EXPECT_EQ(bad.value_or(7), 7);
}

TEST(Result, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

TEST(Result, VoidResult) {
  Result<void> ok;
  EXPECT_TRUE(ok);
  Result<void> bad = fail(temporary_error(Stage::dns, "timeout"));
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().temporary());
}

TEST(Error, DescribeNamesStageHostAndReply) {
  Error e = permanent_error(Stage::smtp, "the server refused the recipient");
  e.host = "mx.example.net [192.0.2.1]";
  e.command = "RCPT TO:<a@example.net>";
  e.smtp_code = 550;
  e.enhanced = "5.1.1";
  e.server_text = "User unknown";
  EXPECT_EQ(e.describe(),
            "smtp: the server refused the recipient (mx.example.net [192.0.2.1], after "
            "RCPT TO:<a@example.net>: 550 5.1.1 User unknown)");
  e.maybe_delivered = true;
  EXPECT_NE(e.describe().find("may have been delivered"), std::string::npos);
}

TEST(Error, DescribeShowsAnEnhancedCodeWithoutReply) {
  Error e = permanent_error(Stage::tls, "REQUIRETLS support required");
  e.enhanced = "5.7.30";
  e.host = "mx.example.net";
  EXPECT_EQ(e.describe(), "tls: REQUIRETLS support required (mx.example.net: 5.7.30)");
}

TEST(Error, DescribeWithoutReply) {
  EXPECT_EQ(temporary_error(Stage::dns, "timed out").describe(), "dns: timed out");
}

}  // namespace
}  // namespace mx
