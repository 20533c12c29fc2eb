// Command-line parsing: sendmail-compatible flags (-f -F -i -oi -o*) plus mxclient's own.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace mx::cli {

struct Options {
  std::optional<std::string> sender;  // -f; "" or "<>" means the null reverse-path
  std::string full_name;              // -F (accepted for compatibility; the message is not altered)
  std::vector<std::string> recipients;
  std::optional<std::string> helo;  // --helo
  bool quiet = false;               // -q
  bool verbose = false;             // -v
  bool help = false;
  bool version = false;
  // DNS: recursive from the root by default, validating with the root trust anchor.
  std::optional<std::string> resolver;      // --resolver IP[@port]: forward, still validate
  std::optional<std::string> trust_anchor;  // --trust-anchor FILE
  std::optional<std::string> root_hints;    // --root-hints FILE
  bool trust_ad = false;                    // --trust-ad: original mxclient's mode
  // Timeouts (RFC 5321 §4.5.3.2 defaults): --timeout SECONDS caps the whole run,
  // --smtp-timeout NAME=SECONDS (repeatable) overrides one wait.
  std::optional<double> overall_timeout;
  std::vector<std::string> smtp_timeouts;
  // TLS policy (RFC 7672, RFC 8461, RFC 8689).
  std::optional<std::string> tls_policy;  // --tls-policy (default dane)
  bool require_tls = false;               // --require-tls
  std::optional<std::string> ca_file;     // --ca-file: PKIX trust (MTA-STS, verify)
  std::optional<std::string> ca_path;     // --ca-path
  std::optional<std::string> sts_cache;   // --sts-cache DIR
  bool mta_sts = true;                    // --no-mta-sts turns it off
  // Proxies (the proxy only carries bytes; DNS, DANE/MTA-STS decisions and TLS stay here).
  std::optional<std::string> proxy;          // --proxy socks5://[user:pass@]IP[:port]
  std::optional<std::string> proxy_command;  // --proxy-command "ssh -W %h:%p relay"
  // sendmail: -t reads recipients from the headers; -N/-R/-V: DSN (RFC 3461).
  bool recipients_from_headers = false;
  std::optional<std::string> dsn_notify;  // -N / --dsn-notify: never or success,failure,delay
  std::optional<std::string> dsn_ret;     // -R / --dsn-ret: full or hdrs
  std::optional<std::string> envid;       // -V / --envid
  // The config file (transports and routes) and the queue's attempt number for routes.
  std::optional<std::string> config;  // --config FILE
  int attempt = 1;                    // --attempt N
  std::optional<std::string> json;    // --json FILE|-: the machine-readable report
  std::optional<std::string> probe;   // --probe DOMAIN: the domain's posture, no mail sent
};

/// Parses argv (without argv[0]). Errors are Stage::usage.
Result<Options> parse_options(const std::vector<std::string>& args);

/// The --help text.
const char* usage_text();

}  // namespace mx::cli
