// Orchestration of a direct delivery (see deliver.hpp). The decisions about moving on or giving
// up are policy.cpp's; this file only walks the plan and records what happened.
#include "delivery/deliver.hpp"

#include <map>
#include <random>

#include "delivery/driver.hpp"
#include "delivery/policy.hpp"
#include "dns/destinations.hpp"
#include "net/socket.hpp"
#include "smtp/session.hpp"

namespace mx::delivery {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string domain_of(std::string_view mailbox) {
  auto at = mailbox.rfind('@');
  return lower(at == std::string_view::npos ? std::string_view{} : mailbox.substr(at + 1));
}

const char* security_word(bool secure) {
  return secure ? "DNSSEC-secure" : "insecure";
}

Error error_from_reply(const smtp::Reply& reply, std::string command) {
  Error e;
  e.stage = Stage::smtp;
  e.permanence = reply.permanent() ? Permanence::permanent : Permanence::temporary;
  e.smtp_code = reply.code;
  e.enhanced = reply.enhanced;
  e.server_text = reply.text();
  e.command = std::move(command);
  e.detail =
      reply.permanent() ? "the server refused the recipient" : "the server deferred the recipient";
  return e;
}

bool in_transaction(const Error& e) {
  if (e.smtp_code == 0) return false;
  std::string_view c = e.command;
  return c.starts_with("MAIL") || c.starts_with("RCPT") || c.starts_with("DATA") ||
         c.starts_with("BDAT") || c.starts_with(".") || c.starts_with("end of data");
}

struct Pending {
  std::string recipient;
  std::optional<Error> last_error;  // the most specific temporary error seen so far
};

/// Delivers to the recipients of one domain; appends their outcomes to `report`.
void deliver_domain(const std::string& domain, std::vector<std::string> recipients,
                    const Request& request, const message::Spool& message, Environment& env,
                    Report& report) {
  Progress& progress = env.progress;
  auto finish_all = [&](const std::vector<Pending>& pending, const Error& e) {
    for (const auto& p : pending)
      report.recipients.push_back({p.recipient, p.last_error ? *p.last_error : e, {}, {}});
  };
  std::vector<Pending> pending;
  for (auto& r : recipients) pending.push_back({std::move(r), std::nullopt});

  progress.note("looking up the mail exchangers of " + domain);
  std::function<std::uint32_t()> random = env.random;
  if (!random) {
    random = [rng = std::mt19937(std::random_device{}())]() mutable {
      return static_cast<std::uint32_t>(rng());
    };
  }
  auto dest = dns::gather_destinations(env.resolver, domain, random);
  if (!dest) {
    progress.note("no destination: " + dest.error().detail);
    finish_all(pending, dest.error());
    return;
  }
  if (dest->expanded_domain != dest->domain)
    progress.note(domain + " is an alias (CNAME) of " + dest->expanded_domain);
  progress.note(std::string(dest->implicit_mx ? "no MX records; implicit MX " : "MX records ") +
                "(" + security_word(dest->domain_secure) + "):");
  for (const auto& h : dest->hosts) {
    std::string line = "  " + std::to_string(h.preference) + " " + h.name;
    if (h.expanded_name != h.name) line += " (CNAME " + h.expanded_name + ")";
    if (h.lookup_error)
      line += ": " + h.lookup_error->detail;
    else {
      line += std::string(" [") + security_word(h.addresses_secure) + "]";
      for (const auto& a : h.addresses) line += " " + a.ip;
    }
    progress.note(line);
  }

  Error last =
      temporary_error(Stage::connect, "no mail exchanger of " + domain + " could be reached");
  int addresses = 0;
  int sessions = 0;
  for (const auto& host : dest->hosts) {
    if (host.lookup_error) {
      last = *host.lookup_error;
      last.host = host.name;
      continue;
    }
    for (const auto& addr : host.addresses) {
      if (addresses >= kMaxAddresses || sessions >= kMaxSessions) break;
      ++addresses;
      std::string where = host.name + " [" + addr.ip + "]";
      net::Endpoint endpoint{addr.ip, env.port};
      progress.note("connecting to " + where + ":" + std::to_string(env.port));
      auto sock = net::connect_tcp(endpoint, env.timeouts.for_connect());
      if (!sock) {
        last = std::move(sock).error();
        last.host = where;
        progress.note(last.detail);
        continue;
      }
      ++sessions;
      smtp::Envelope envelope;
      envelope.reverse_path = request.reverse_path;
      for (const auto& p : pending) envelope.recipients.push_back(p.recipient);
      envelope.body_8bit = message.stats().eight_bit;
      envelope.size = message.size();
      smtp::SessionOptions options;
      options.helo_name = request.helo_name;
      options.tls = smtp::TlsMode::opportunistic;
      smtp::Session session(std::move(envelope), options);
      tls::HandshakeParams tls_params;
      tls_params.sni = host.name;
      tls_params.verify = tls::Verify::none;
      auto driven = drive_session(std::move(*sock), session, env.tls_context, tls_params, message,
                                  progress, env.timeouts);
      report.round_trips += driven.round_trips;
      if (!driven.tls) progress.note("the session with " + where + " was not encrypted");

      const smtp::Outcome& out = session.outcome();
      std::vector<Pending> still;
      for (std::size_t i = 0; i < out.recipients.size() && i < pending.size(); ++i) {
        const auto& rr = out.recipients[i];
        Pending& p = pending[i];
        if (out.delivered && rr.accepted) {
          report.recipients.push_back({p.recipient, std::nullopt, where,
                                       out.final_reply ? out.final_reply->text() : std::string()});
          continue;
        }
        if (!rr.accepted && rr.reply) {
          Error e = error_from_reply(*rr.reply, "RCPT TO:<" + p.recipient + ">");
          e.host = where;
          if (e.permanent()) {
            report.recipients.push_back({p.recipient, e, {}, {}});
            continue;
          }
          p.last_error = e;
        }
        still.push_back(std::move(p));
      }
      pending = std::move(still);
      if (out.error) {
        Error e = *out.error;
        if (e.host.empty()) e.host = where;
        progress.note("attempt failed: " + e.describe());
        if (after_failure(e, in_transaction(e)) == Next::final) {
          for (auto& p : pending) report.recipients.push_back({p.recipient, e, {}, {}});
          return;
        }
        last = e;
      }
      if (pending.empty()) return;
    }
  }
  finish_all(pending, last);
}

}  // namespace

Report deliver(const Request& request, const message::Spool& message, Environment& env) {
  Report report;
  // Group recipients by domain, keeping first-seen order (one transaction per domain).
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::string>> by_domain;
  for (const auto& r : request.recipients) {
    std::string d = domain_of(r);
    auto [it, inserted] = by_domain.try_emplace(d);
    if (inserted) order.push_back(d);
    it->second.push_back(r);
  }
  for (const auto& d : order)
    deliver_domain(d, std::move(by_domain[d]), request, message, env, report);
  return report;
}

}  // namespace mx::delivery
