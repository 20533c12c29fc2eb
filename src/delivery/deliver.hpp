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

/// A smarthost or submission server: all recipients of the route go there (RFC 6409 when it
/// authenticates). The server is authenticated by PKIX against `host` unless tls is none.
struct RelayTarget {
  std::string host;
  std::uint16_t port = 25;
  bool implicit_tls = false;                    // RFC 8314: TLS from the first byte (465)
  smtp::TlsMode tls = smtp::TlsMode::required;  // STARTTLS required (none: plain smarthost)
  tls::Context* tls_context = nullptr;          // its PKIX trust (ca_file); null: the default
  std::optional<smtp::AuthOptions> auth;        // SASL (RFC 4954), submission only
};

/// How a group of recipients travels: directly to their MX hosts (optionally through a proxy
/// dialer), or through a relay.
struct Route {
  std::string name;                  // the config's transport name, for the transcript
  net::Dialer* dialer = nullptr;     // null: Environment::dialer
  std::optional<RelayTarget> relay;  // nullopt: direct delivery to the MX
};

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
  /// Routes chosen by the config file; recipient_routes[i] indexes routes for recipients[i].
  /// Both empty: every recipient goes directly to its MX.
  std::vector<Route> routes;
  std::vector<std::size_t> recipient_routes;
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
  std::string recipient{};
  std::optional<Error> error{};  // nullopt = delivered
  std::string delivered_via{};   // "mx1.example.net [192.0.2.1]" when delivered
  std::string server_reply{};    // the final reply text when delivered
  std::string security{};  // how the delivering session was protected ("DANE-verified TLS ...")
  int smtp_code = 0;       // the final reply's code when delivered (250)
  std::string enhanced_code{};  // and its RFC 3463 enhanced code when it had one ("2.0.0")
};

struct Report {
  std::vector<RecipientOutcome> recipients;  // in the order of the request
  std::vector<DomainRecord> domains;         // what was looked up, decided and tried
  int round_trips = 0;                       // SMTP round trips over all connections
  double seconds = 0;                        // wall time of the delivery
};

/// --probe: everything up to and including TLS and the EHLO after it, on every address of
/// every MX host of `domain`, under the same policy decisions; no mail is sent. The result is
/// in Report::domains[0] (its attempts say what each server offered and how TLS went).
Report probe(const std::string& domain, const Request& request, Environment& env);

/// Delivers `message` to every recipient. Never throws; every recipient gets an outcome.
Report deliver(const Request& request, const message::Spool& message, Environment& env);

}  // namespace mx::delivery
