// Helpers for SMTP session dialogue tests: drive a Session with scripted server bytes and
// render the client's actions as one string.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "smtp/session.hpp"

namespace mx::smtp::dialog {

// Feeds `server` (if any), then runs next() until the session waits for something other than
// a write. Each action is rendered and actions are joined with "|", so one Send with three
// commands ("MAIL..\r\nRCPT..\r\nDATA\r\n|<recv>") differs from three Sends. SendBody is
// "<body>" for DATA (dot-stuffed) and "<raw-body>" for BDAT.
inline std::string step(Session& s, std::string_view server = {}) {
  if (!server.empty()) s.feed(server);
  std::string out;
  for (int guard = 0; guard < 100; ++guard) {
    Action a = s.next();
    if (!out.empty()) out += "|";
    if (auto* send = std::get_if<Send>(&a)) {
      out += send->bytes;
      continue;
    }
    if (std::holds_alternative<Receive>(a)) out += "<recv>";
    if (std::holds_alternative<StartTls>(a)) out += "<tls>";
    if (auto* body = std::get_if<SendBody>(&a)) out += body->dot_stuffed ? "<body>" : "<raw-body>";
    if (std::holds_alternative<Idle>(a)) out += "<idle>";
    if (std::holds_alternative<Done>(a)) out += "<done>";
    return out;
  }
  return out + "<loop>";
}

inline Envelope envelope(std::vector<Recipient> rcpts = {"rcpt@example.org"}) {
  Envelope e;
  e.reverse_path = "sender@example.net";
  e.recipients = std::move(rcpts);
  return e;
}

inline SessionOptions options(TlsMode tls = TlsMode::opportunistic) {
  SessionOptions o;
  o.helo_name = "client.example.net";
  o.tls = tls;
  return o;
}

constexpr const char* kGreeting = "220 mx.example.org ESMTP\r\n";
constexpr const char* kEhlo = "EHLO client.example.net\r\n|<recv>";

// Drives a session to the point where the first EHLO was answered with `caps`.
inline std::string hello(Session& s, std::string_view ehlo_reply) {
  EXPECT_EQ(step(s), "<recv>");
  EXPECT_EQ(s.phase(), Phase::greeting);
  EXPECT_EQ(step(s, kGreeting), kEhlo);
  EXPECT_EQ(s.phase(), Phase::ehlo);
  return step(s, ehlo_reply);
}

inline Error error_of(const Session& s) {
  EXPECT_TRUE(s.outcome().error.has_value());
  return s.outcome().error.value_or(Error{});
}

}  // namespace mx::smtp::dialog
