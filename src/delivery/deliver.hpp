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
#include "delivery/record.hpp"
#include "delivery/timeouts.hpp"
#include "delivery/tls_policy.hpp"
#include "dns/resolver.hpp"
#include "message/spool.hpp"
#include "mtasts/mtasts.hpp"
#include "net/dialer.hpp"
#include "smtp/session.hpp"
#include "tls/context.hpp"

namespace mx::delivery {

struct Request {
  std::string reverse_path;             // "" for the null sender
  std::vector<std::string> recipients;  // validated mailboxes "local@domain"
  std::string helo_name;
  Level level = Level::dane;     // --tls-policy
  bool require_tls = false;      // --require-tls (RFC 8689)
  bool tls_required_no = false;  // the message carries "TLS-Required: No" (RFC 8689 §5)
  // DSN (RFC 3461), sent only to servers that support it.
  std::optional<smtp::Notify> notify;
  std::optional<std::string> ret;
  std::optional<std::string> envid;
};

struct Environment {
  Environment(dns::Resolver& r, tls::Context& t, Progress& p)
      : resolver(r), tls_context(t), progress(p) {}

  dns::Resolver& resolver;
  tls::Context& tls_context;
  Progress& progress;
  std::uint16_t port = 25;
  net::Dialer* dialer = nullptr;  // how to reach an MX address; null = directly
  Timeouts timeouts = {};
  std::function<std::uint32_t()> random;  // shuffles equal MX preferences; null = random
  /// The recipient domain's MTA-STS policy (RFC 8461), consulted only when a host has no DANE;
  /// null = MTA-STS not used. nullopt when the lookup itself failed (bad domain).
  std::function<std::optional<mtasts::PolicyLookup>(const std::string& domain)> mta_sts;
};

struct RecipientOutcome {
  std::string recipient;
  std::optional<Error> error;  // nullopt = delivered
  std::string delivered_via;   // "mx1.example.net [192.0.2.1]" when delivered
  std::string server_reply;    // the final reply text when delivered
  std::string security;        // how the delivering session was protected ("DANE-verified TLS ...")
};

struct Report {
  std::vector<RecipientOutcome> recipients;  // in the order of the request
  std::vector<DomainRecord> domains;         // what was looked up, decided and tried
  int round_trips = 0;                       // SMTP round trips over all connections
  double seconds = 0;                        // wall time of the delivery
};

/// Delivers `message` to every recipient. Never throws; every recipient gets an outcome.
Report deliver(const Request& request, const message::Spool& message, Environment& env);

}  // namespace mx::delivery
