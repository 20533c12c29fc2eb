// The one table from error values to sysexits(3) codes (README "Exit codes" documents it).
#pragma once

#include <span>

#include "core/error.hpp"

namespace mx::cli {

namespace ex {
inline constexpr int ok = 0;
inline constexpr int usage = 64;        // EX_USAGE
inline constexpr int dataerr = 65;      // EX_DATAERR: bad message or address
inline constexpr int nouser = 67;       // EX_NOUSER: 5.1.1
inline constexpr int nohost = 68;       // EX_NOHOST: no such domain, null MX
inline constexpr int unavailable = 69;  // EX_UNAVAILABLE: other permanent refusal
inline constexpr int software = 70;     // EX_SOFTWARE: internal error
inline constexpr int ioerr = 74;        // EX_IOERR: reading the message failed
inline constexpr int tempfail = 75;     // EX_TEMPFAIL: try again later
inline constexpr int noperm = 77;       // EX_NOPERM: authentication refused
inline constexpr int config = 78;       // EX_CONFIG: bad local configuration
}  // namespace ex

/// The exit code for one error.
int exit_code_for(const Error& error);

/// The exit code for a run whose recipients ended with these errors (nullptr = delivered):
/// a permanent failure outranks a temporary one, which outranks success.
int worst_exit_code(std::span<const Error* const> outcomes);

}  // namespace mx::cli
