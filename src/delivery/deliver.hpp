// Direct delivery of one message to its recipients' MX hosts: group recipients by domain, find
// the hosts (DNSSEC-validated), try them in order, and report one outcome per recipient.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/progress.hpp"
#include "core/result.hpp"
#include "delivery/timeouts.hpp"
#include "dns/resolver.hpp"
#include "message/spool.hpp"
#include "tls/context.hpp"

namespace mx::delivery {

struct Request {
  std::string reverse_path;             // "" for the null sender
  std::vector<std::string> recipients;  // validated mailboxes "local@domain"
  std::string helo_name;
};

struct Environment {
  dns::Resolver& resolver;
  tls::Context& tls_context;
  Progress& progress;
  std::uint16_t port = 25;
  Timeouts timeouts = {};
  std::function<std::uint32_t()> random;  // shuffles equal MX preferences; null = random
};

struct RecipientOutcome {
  std::string recipient;
  std::optional<Error> error;  // nullopt = delivered
  std::string delivered_via;   // "mx1.example.net [192.0.2.1]" when delivered
  std::string server_reply;    // the final reply text when delivered
};

struct Report {
  std::vector<RecipientOutcome> recipients;
  int round_trips = 0;  // SMTP round trips over all connections
};

/// Delivers `message` to every recipient. Never throws; every recipient gets an outcome.
Report deliver(const Request& request, const message::Spool& message, Environment& env);

}  // namespace mx::delivery
