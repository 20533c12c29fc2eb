// The sysexits table: every documented code has a case here.
#include "cli/exit_codes.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace mx::cli {
namespace {

Error reply_error(Permanence p, int code, std::string enhanced) {
  Error e;
  e.stage = Stage::smtp;
  e.permanence = p;
  e.smtp_code = code;
  e.enhanced = std::move(enhanced);
  return e;
}

TEST(ExitCodes, Table) {
  EXPECT_EQ(exit_code_for(permanent_error(Stage::usage, "")), 64);
  Error bad = permanent_error(Stage::input, "");
  bad.reason = Reason::bad_data;
  EXPECT_EQ(exit_code_for(bad), 65);
  EXPECT_EQ(exit_code_for(reply_error(Permanence::permanent, 550, "5.1.1")), 67);
  Error nx = permanent_error(Stage::dns, "");
  nx.reason = Reason::no_such_domain;
  EXPECT_EQ(exit_code_for(nx), 68);
  EXPECT_EQ(exit_code_for(reply_error(Permanence::permanent, 556, "5.1.10")), 68);
  EXPECT_EQ(exit_code_for(reply_error(Permanence::permanent, 554, "5.7.1")), 69);
  EXPECT_EQ(exit_code_for(reply_error(Permanence::permanent, 550, "")), 69);
  EXPECT_EQ(exit_code_for(permanent_error(Stage::internal, "")), 70);
  // Out of memory, a library that cannot be loaded: retry later, do not bounce.
  EXPECT_EQ(exit_code_for(temporary_error(Stage::internal, "cannot load libidn2.so.0")), 75);
  Error io = permanent_error(Stage::input, "");
  io.reason = Reason::input_io;
  EXPECT_EQ(exit_code_for(io), 74);
  EXPECT_EQ(exit_code_for(reply_error(Permanence::temporary, 451, "4.3.0")), 75);
  EXPECT_EQ(exit_code_for(temporary_error(Stage::dns, "")), 75);
  Error auth = permanent_error(Stage::smtp, "");
  auth.reason = Reason::auth_refused;
  EXPECT_EQ(exit_code_for(auth), 77);
  EXPECT_EQ(exit_code_for(permanent_error(Stage::config, "")), 78);
}

TEST(ExitCodes, WorstOutcome) {
  Error temp = temporary_error(Stage::connect, "");
  Error perm = reply_error(Permanence::permanent, 550, "5.1.1");
  EXPECT_EQ(worst_exit_code(std::vector<const Error*>{nullptr, nullptr}), 0);
  EXPECT_EQ(worst_exit_code(std::vector<const Error*>{nullptr, &temp}), 75);
  EXPECT_EQ(worst_exit_code(std::vector<const Error*>{&temp, &perm, nullptr}), 67);
}

}  // namespace
}  // namespace mx::cli
