// Maps mx::Error to sysexits codes, in one place (as Postfix's sys_exits.c does).
#include "cli/exit_codes.hpp"

#include <string_view>

namespace mx::cli {

int exit_code_for(const Error& e) {
  switch (e.stage) {
    case Stage::usage:
      return ex::usage;
    case Stage::config:
      return ex::config;
    case Stage::internal:
      // A bug is EX_SOFTWARE; resource exhaustion or a library that cannot be loaded is local
      // and passing, so the queue should retry, not bounce.
      return e.temporary() ? ex::tempfail : ex::software;
    default:
      break;
  }
  switch (e.reason) {
    case Reason::input_io:
      return ex::ioerr;
    case Reason::bad_data:
      return ex::dataerr;
    case Reason::auth_refused:
      return ex::noperm;
    default:
      break;
  }
  if (e.temporary()) return ex::tempfail;
  // RFC 3463 §3.2: X.1.1 bad destination mailbox, X.1.2 bad destination system,
  // X.1.10 null MX (RFC 7505 §4.2).
  std::string_view enh = e.enhanced;
  if (e.reason == Reason::no_such_user || enh == "5.1.1") return ex::nouser;
  if (e.reason == Reason::no_such_domain || enh == "5.1.2" || enh == "5.1.10") return ex::nohost;
  return ex::unavailable;
}

int worst_exit_code(std::span<const Error* const> outcomes) {
  int temporary = 0;
  for (const Error* e : outcomes) {
    if (e == nullptr) continue;
    int code = exit_code_for(*e);
    if (code != ex::tempfail) return code;  // the first definite failure wins
    temporary = code;
  }
  return temporary;
}

}  // namespace mx::cli
