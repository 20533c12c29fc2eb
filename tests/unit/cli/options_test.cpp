// Command-line parsing: sendmail compatibility and mxclient's own options.
#include "cli/options.hpp"

#include <gtest/gtest.h>

namespace mx::cli {
namespace {

Options parse_ok(std::vector<std::string> args) {
  auto r = parse_options(args);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().detail);
  return r ? *r : Options{};
}

Error parse_err(std::vector<std::string> args) {
  auto r = parse_options(args);
  EXPECT_FALSE(r.has_value());
  return r ? Error{} : r.error();
}

TEST(Options, SenderSeparateOrGlued) {
  EXPECT_EQ(parse_ok({"-f", "a@x.example", "b@y.example"}).sender, "a@x.example");
  EXPECT_EQ(parse_ok({"-fa@x.example", "b@y.example"}).sender, "a@x.example");
  EXPECT_EQ(parse_ok({"-f", "", "b@y.example"}).sender, "");
  EXPECT_EQ(parse_ok({"-f<>", "b@y.example"}).sender, "<>");
  EXPECT_FALSE(parse_ok({"b@y.example"}).sender.has_value());
}

TEST(Options, SendmailFlagsAccepted) {
  Options o = parse_ok({"-i", "-oi", "-oem", "-F", "Full Name", "-odb", "b@y.example"});
  EXPECT_EQ(o.full_name, "Full Name");
  ASSERT_EQ(o.recipients.size(), 1u);
  EXPECT_EQ(o.recipients[0], "b@y.example");
  EXPECT_EQ(parse_ok({"-FName", "b@y.example"}).full_name, "Name");
}

TEST(Options, SeveralRecipientsAndDoubleDash) {
  Options o = parse_ok({"a@x.example", "-q", "--", "-weird@y.example"});
  EXPECT_TRUE(o.quiet);
  ASSERT_EQ(o.recipients.size(), 2u);
  EXPECT_EQ(o.recipients[1], "-weird@y.example");
}

TEST(Options, LongOptions) {
  Options o = parse_ok({"--helo", "client.example", "--resolver=127.0.0.1@5353", "--trust-anchor",
                        "/k", "b@y.example"});
  EXPECT_EQ(o.helo, "client.example");
  EXPECT_EQ(o.resolver, "127.0.0.1@5353");
  EXPECT_EQ(o.trust_anchor, "/k");
  EXPECT_EQ(parse_ok({"--root-hints", "/h", "b@y.example"}).root_hints, "/h");
  EXPECT_TRUE(parse_ok({"--trust-ad", "b@y.example"}).trust_ad);
  EXPECT_TRUE(parse_ok({"--help"}).help);
  EXPECT_TRUE(parse_ok({"--version"}).version);
}

TEST(Options, Timeouts) {
  Options o = parse_ok({"--timeout", "2.5", "--smtp-timeout", "rcpt=3",
                        "--smtp-timeout=data_end=900", "b@y.example"});
  EXPECT_EQ(o.overall_timeout, 2.5);
  ASSERT_EQ(o.smtp_timeouts.size(), 2u);
  EXPECT_EQ(o.smtp_timeouts[1], "data_end=900");
  EXPECT_EQ(parse_err({"--timeout", "soon", "b@y.example"}).stage, Stage::usage);
  EXPECT_EQ(parse_err({"--timeout", "-1", "b@y.example"}).stage, Stage::usage);
}

TEST(Options, UsageErrors) {
  EXPECT_EQ(parse_err({}).stage, Stage::usage);
  EXPECT_EQ(parse_err({"-f"}).stage, Stage::usage);
  EXPECT_EQ(parse_err({"-X", "b@y.example"}).stage, Stage::usage);
  EXPECT_EQ(parse_err({"--bogus", "b@y.example"}).stage, Stage::usage);
  EXPECT_EQ(parse_err({"--helo"}).stage, Stage::usage);
  EXPECT_EQ(parse_err({"--quiet=yes", "b@y.example"}).stage, Stage::usage);
  EXPECT_EQ(parse_err({"--resolver", "127.0.0.1", "--root-hints", "/h", "b@y.example"}).stage,
            Stage::usage);
  EXPECT_EQ(parse_err({"--trust-ad", "--resolver", "127.0.0.1", "b@y.example"}).stage,
            Stage::usage);
  EXPECT_EQ(parse_err({"-iq", "b@y.example"}).stage, Stage::usage);
}

}  // namespace
}  // namespace mx::cli
