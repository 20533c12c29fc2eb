// Error values shared by every layer: where a failure happened, whether retrying can help,
// and the server's own words when there were any. The CLI maps them to sysexits in one place.
#pragma once

#include <cstdint>
#include <string>

namespace mx {

/// Where the failure happened.
enum class Stage : std::uint8_t {
  usage,     // command line
  config,    // local configuration
  input,     // reading or parsing the message or an address
  dns,       // lookups and DNSSEC validation
  connect,   // TCP connect, proxies
  tls,       // STARTTLS and the handshake
  dane,      // DANE / certificate authentication
  smtp,      // the SMTP dialogue
  internal,  // a bug or resource exhaustion
};

/// Whether the same delivery can succeed later (RFC 5321 §4.2.1 4yz vs 5yz).
enum class Permanence : std::uint8_t { temporary, permanent };

/// A finer reason where the exit code depends on it (see cli/exit_codes.cpp).
enum class Reason : std::uint8_t {
  generic,
  bad_data,        // malformed message or address
  no_such_user,    // 5.1.1 and friends
  no_such_domain,  // NXDOMAIN, null MX (RFC 7505)
  input_io,        // reading the message failed
  auth_refused,    // SASL refused
  protocol,        // the server broke the protocol
};

struct Error {
  Stage stage = Stage::internal;
  Permanence permanence = Permanence::temporary;
  Reason reason = Reason::generic;
  std::string detail;            // human-readable, says what failed and why
  int smtp_code = 0;             // the reply code, 0 when no reply is involved
  std::string enhanced;          // RFC 3463 code such as "5.1.1", empty when absent
  std::string command;           // the SMTP command that got the reply (credentials redacted)
  std::string server_text;       // the reply text, lines joined with "\n"
  std::string host;              // the MX host or address concerned, when any
  bool maybe_delivered = false;  // the final dot was sent but its reply never came

  bool permanent() const { return permanence == Permanence::permanent; }
  bool temporary() const { return permanence == Permanence::temporary; }

  /// One line for humans: "<stage>: <detail> (<host>: <code> <enhanced> <text>)".
  std::string describe() const;
};

Error temporary_error(Stage stage, std::string detail);
Error permanent_error(Stage stage, std::string detail);

const char* stage_name(Stage stage);

}  // namespace mx
