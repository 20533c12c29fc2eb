// The configuration file (TOML, mox-style): defaults for the CLI options, named transports
// (smarthost, submission with credentials, SOCKS) and ordered routes that pick them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.hpp"

namespace mx::config {

/// One `[defaults.smtp_timeouts]` entry, with the names --smtp-timeout accepts.
struct NamedTimeout {
  std::string name;  // connect, tls, greeting, ehlo, helo, starttls, mail, rcpt, data, ...
  double seconds = 0;
  /// "NAME=SECONDS", the form delivery::Timeouts::set and --smtp-timeout take.
  std::string assignment() const;
};

/// `[defaults]`: the same meaning as the CLI options; unset fields leave the CLI's own default,
/// and a CLI flag overrides a set one.
struct Defaults {
  std::optional<std::string> helo;
  std::optional<std::string> tls_policy;  // dane, dane-only, verify, encrypt, may, none
  std::optional<bool> require_tls;
  std::optional<bool> mta_sts;               // false = --no-mta-sts
  std::optional<std::string> resolver;       // "IP" or "IP@port"
  std::optional<std::string> trust_anchor;   // file
  std::optional<std::string> root_hints;     // file
  std::optional<std::string> ca_file;        // file
  std::optional<std::string> ca_path;        // directory
  std::optional<std::string> sts_cache;      // directory
  std::optional<std::string> proxy;          // "socks5://[user:pass@]IP[:port]"
  std::optional<std::string> proxy_command;  // "ssh -W %h:%p relay"
  std::optional<double> timeout;             // seconds, the whole run (--timeout)
  std::vector<NamedTimeout> smtp_timeouts;   // in file order
};

enum class TransportType : std::uint8_t { direct, smtp, submission, socks };
enum class TlsMode : std::uint8_t { starttls, implicit, none };

const char* transport_type_name(TransportType type);
const char* tls_mode_name(TlsMode mode);

/// Direct delivery to the recipient domain's MX, optionally through a proxy.
struct DirectTransport {
  std::optional<std::string> proxy;
  std::optional<std::string> proxy_command;
};

/// Direct delivery to the MX through a proxy: exactly one of the two is set.
struct SocksTransport {
  std::optional<std::string> proxy;
  std::optional<std::string> proxy_command;
};

/// A smarthost without authentication; the server's name is verified by PKIX when TLS is used.
struct SmtpTransport {
  std::string host;  // domain name or IP literal (IPv6 without brackets)
  std::uint16_t port = 25;
  TlsMode tls = TlsMode::starttls;
  std::optional<std::string> ca_file;
};

/// Message submission (RFC 6409) with SASL authentication; always TLS.
struct SubmissionTransport {
  std::string host;
  std::uint16_t port = 587;  // 587 with STARTTLS, 465 with implicit TLS (RFC 8314 §3.3)
  TlsMode tls = TlsMode::starttls;
  std::string username;
  std::optional<std::string> password_file;  // exactly one of password_file / password_env
  std::optional<std::string> password_env;
  std::vector<std::string> auth_mechanisms;  // upper case, in preference order; empty = library's
  std::optional<std::string> client_cert;    // set together with client_key
  std::optional<std::string> client_key;
  std::optional<std::string> ca_file;
};

struct Transport {
  std::string name;
  std::variant<DirectTransport, SmtpTransport, SubmissionTransport, SocksTransport> settings;
  int line = 0;  // where its table starts, for messages

  TransportType type() const;
  const DirectTransport* direct() const { return std::get_if<DirectTransport>(&settings); }
  const SmtpTransport* smtp() const { return std::get_if<SmtpTransport>(&settings); }
  const SubmissionTransport* submission() const {
    return std::get_if<SubmissionTransport>(&settings);
  }
  const SocksTransport* socks() const { return std::get_if<SocksTransport>(&settings); }
};

/// One `[[routes]]` entry. Domains are stored lower case; ".x" means any subdomain of x.
struct Route {
  std::vector<std::string> recipient_domains;  // empty = any
  std::vector<std::string> sender_domains;     // empty = any
  int min_attempt = 1;
  std::string transport;            // its name
  std::size_t transport_index = 0;  // into Config::transports
  int line = 0;
};

struct Config {
  std::string path;  // the file read; empty when no file was found (all defaults)
  Defaults defaults;
  std::vector<Transport> transports;  // sorted by name
  std::vector<Route> routes;          // in file order: first match wins

  const Transport* find_transport(std::string_view name) const;
};

/// Parses a configuration text. `source` names it in messages and anchors relative paths
/// (password_file, ca_file, ...: relative to the file's directory, as mox does). Every error is
/// Error{Stage::config, permanent} with detail "config FILE:LINE: ...".
Result<Config> parse_config(std::string_view text, std::string_view source);

/// Reads and parses one file; a missing or unreadable file is an error.
Result<Config> load_config_file(const std::string& path);

/// The default locations, in order: $XDG_CONFIG_HOME/mxclient/config.toml (when set and
/// absolute, else $HOME/.config/mxclient/config.toml when HOME is set), then
/// /etc/mxclient/config.toml. Null arguments stand for unset variables.
std::vector<std::string> default_config_paths(const char* xdg_config_home, const char* home);
/// The same, from the process environment.
std::vector<std::string> default_config_paths();

/// --config FILE when given (missing = error); else the first of `candidates` that exists
/// (a missing default is skipped; one that exists but cannot be read is an error); else an
/// empty Config with an empty path.
Result<Config> load_config(const std::optional<std::string>& explicit_path,
                           const std::vector<std::string>& candidates);
inline Result<Config> load_config(const std::optional<std::string>& explicit_path) {
  return load_config(explicit_path, default_config_paths());
}

/// The submission password, from password_file (must be a regular file with no group/other
/// read or write bit; one trailing newline is removed) or from the variable password_env.
/// Errors are Stage::config, permanent, and never contain the password.
Result<std::string> load_password(const SubmissionTransport& transport);

}  // namespace mx::config
