// The machine-readable report of one run (--json): outcomes, the DNS path, MTA-STS, host
// decisions, connection attempts and an RFC 8460 (TLSRPT) section. Schema: docs/report.md.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "delivery/deliver.hpp"

namespace mx::report {

/// The "format_version" of the document; bumped on incompatible changes (docs/report.md).
inline constexpr int kFormatVersion = 1;

/// What the CLI knows about the run that the delivery Report does not.
struct RunInfo {
  std::string version;        // mxclient's version
  std::string sender;         // the reverse-path, "" for the null sender
  std::string tls_policy;     // --tls-policy
  std::string resolver_mode;  // "recursive", "resolver 127.0.0.1", ...
  std::vector<std::string> recipients;
  std::chrono::system_clock::time_point started{};
  int exit_code = 0;
};

/// The whole document (pure).
nlohmann::json to_json(const delivery::Report& report, const RunInfo& run);

/// The "tlsrpt" section alone: RFC 8460 §4.4 vocabulary (pure).
nlohmann::json tlsrpt_json(const delivery::Report& report, const RunInfo& run);

/// Serialises with two-space indentation; invalid UTF-8 (server text is arbitrary bytes)
/// becomes U+FFFD rather than an exception.
std::string render(const nlohmann::json& document);

/// Writes the document to `path`, or to stdout when path is "-". Errors: Stage::config,
/// permanent, naming the file and the system error.
Result<void> write_json_report(const delivery::Report& report, const RunInfo& run,
                               const std::string& path);

}  // namespace mx::report
