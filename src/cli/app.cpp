// mxclient's main flow (see app.hpp). Output: progress on stdout (unless -q), one line per
// recipient outcome, errors on stderr; the exit code comes from exit_codes.cpp.
#include "cli/app.hpp"

#include <csignal>
#include <iostream>
#include <memory>

#include "cli/exit_codes.hpp"
#include "cli/identity.hpp"
#include "cli/options.hpp"
#include "delivery/deliver.hpp"
#include "dns/trust_ad_resolver.hpp"
#include "dns/unbound_resolver.hpp"
#include "message/spool.hpp"
#include "smtp/address.hpp"
#include "tls/context.hpp"

namespace mx::cli {
namespace {

int report_error(const Error& e) {
  std::cerr << "mxclient: " << e.describe() << '\n';
  return exit_code_for(e);
}

Result<std::unique_ptr<dns::Resolver>> make_resolver(const Options& o) {
  if (o.trust_ad) {
    auto r = dns::TrustAdResolver::create(dns::TrustAdOptions{});
    if (!r) return fail(std::move(r).error());
    return std::unique_ptr<dns::Resolver>(std::move(*r));
  }
  dns::UnboundOptions u;
  if (o.resolver) u.forwarder = *o.resolver;
  if (o.trust_anchor) u.trust_anchor_file = *o.trust_anchor;
  if (o.root_hints) u.root_hints_file = *o.root_hints;
  auto r = dns::UnboundResolver::create(u);
  if (!r) return fail(std::move(r).error());
  return std::unique_ptr<dns::Resolver>(std::move(*r));
}

}  // namespace

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = parse_options(args);
  if (!parsed) {
    std::cerr << "mxclient: " << parsed.error().detail << "\nTry 'mxclient --help'.\n";
    return ex::usage;
  }
  const Options& o = *parsed;
  if (o.help) {
    std::cout << usage_text();
    return ex::ok;
  }
  if (o.version) {
    std::cout << "mxclient " MXCLIENT_VERSION "\n";
    return ex::ok;
  }
  // A peer closing early must surface as an error value, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);

  // Addresses are checked before anything is read or sent (RFC 5321 §4.1.2).
  std::string sender;
  if (!o.sender) {
    sender = local_user() + "@" + local_fqdn();
  } else if (*o.sender != "" && *o.sender != "<>") {
    sender = *o.sender;
  }
  if (!sender.empty()) {
    auto m = smtp::parse_mailbox(sender);
    if (!m) {
      Error e = std::move(m).error();
      e.detail = "bad sender address '" + sender + "': " + e.detail;
      return report_error(e);
    }
    sender = m->to_string();
  }
  delivery::Request request;
  request.reverse_path = sender;
  for (const auto& r : o.recipients) {
    auto m = smtp::parse_mailbox(r);
    if (!m) {
      Error e = std::move(m).error();
      e.detail = "bad recipient address '" + r + "': " + e.detail;
      return report_error(e);
    }
    request.recipients.push_back(m->to_string());
  }
  request.helo_name = o.helo ? *o.helo : local_fqdn();

  // The whole message is read before any connection, so a read error never sends a partial one.
  auto spool = message::Spool::read_from(0);
  if (!spool) return report_error(spool.error());
  StreamProgress progress(o.quiet ? nullptr : &std::cout, &std::cerr);
  const auto& stats = spool->stats();
  if (stats.long_lines > 0)
    progress.warn("line " + std::to_string(stats.first_long_line) + " is " +
                  std::to_string(stats.longest_line) +
                  " octets long (RFC 5321 limit: 998); it is sent unaltered, but some servers "
                  "refuse such lines");

  auto resolver = make_resolver(o);
  if (!resolver) return report_error(resolver.error());
  auto tls_context = tls::Context::create(tls::ContextOptions{});
  if (!tls_context) return report_error(tls_context.error());

  delivery::Timeouts timeouts;
  for (const auto& t : o.smtp_timeouts)
    if (auto r = timeouts.set(t); !r) return report_error(r.error());
  if (o.overall_timeout)
    timeouts.overall = Deadline::after(
        std::chrono::milliseconds(static_cast<long long>(*o.overall_timeout * 1000)));
  delivery::Environment env{.resolver = **resolver,
                            .tls_context = *tls_context,
                            .progress = progress,
                            .timeouts = timeouts,
                            .random = {}};
  delivery::Report report = delivery::deliver(request, *spool, env);

  std::vector<const Error*> errors;
  for (const auto& r : report.recipients) {
    if (!r.error) {
      if (!o.quiet)
        std::cout << "delivered to <" << r.recipient << "> via " << r.delivered_via << ": "
                  << r.server_reply << '\n';
      errors.push_back(nullptr);
    } else {
      std::cerr << "mxclient: <" << r.recipient
                << ">: " << (r.error->temporary() ? "deferred: " : "failed: ")
                << r.error->describe() << '\n';
      errors.push_back(&*r.error);
    }
  }
  if (o.verbose && !o.quiet) std::cout << "SMTP round trips: " << report.round_trips << '\n';
  return worst_exit_code(errors);
}

}  // namespace mx::cli
