// Orchestration of a direct delivery (see deliver.hpp). The decisions live elsewhere: how to
// talk to a host in tls_policy.cpp, whether to move on after a failure in policy.cpp; this file
// walks the plan, runs the sessions and records what happened to each recipient.
#include "delivery/deliver.hpp"

#include <chrono>
#include <climits>
#include <cstdint>
#include <map>
#include <random>
#include <set>

#include <sys/socket.h>

#include "core/ascii.hpp"
#include "dane/tlsa.hpp"
#include "delivery/driver.hpp"
#include "delivery/policy.hpp"
#include "dns/destinations.hpp"
#include "dns/records.hpp"
#include "net/socket.hpp"
#include "smtp/idna.hpp"
#include "smtp/session.hpp"

namespace mx::delivery {
namespace {

/// The recipient's domain as DNS knows it (A-labels, RFC 5890), lower case.
std::string domain_of(std::string_view mailbox) {
  auto at = mailbox.rfind('@');
  std::string domain =
      ascii_lower(at == std::string_view::npos ? std::string_view{} : mailbox.substr(at + 1));
  auto ascii = smtp::domain_to_ascii(domain);
  return ascii ? *ascii : domain;
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
  if (reply.enhanced == "5.1.1") e.reason = Reason::no_such_user;
  return e;
}

bool in_transaction(const Error& e) {
  if (e.smtp_code == 0) return false;
  std::string_view c = e.command;
  return c.starts_with("MAIL") || c.starts_with("RCPT") || c.starts_with("DATA") ||
         c.starts_with("BDAT") || c.starts_with(".") || c.starts_with("end of data");
}

std::string describe_security(const HostPolicy& policy, const DriverResult& driven) {
  if (!driven.tls) return "no TLS";
  const tls::Info& i = *driven.tls;
  std::string how;
  switch (policy.auth) {
    case Authentication::dane:
      how = policy.dane_trusted_only ? "DANE-trusted" : "DANE-verified";
      break;
    case Authentication::pkix:
      how = "PKIX-verified";
      break;
    case Authentication::none:
      how = "unauthenticated";
      break;
  }
  return how + " " + i.version + " " + i.cipher;
}

const char* authentication_name(Authentication a) {
  switch (a) {
    case Authentication::dane:
      return "dane";
    case Authentication::pkix:
      return "pkix";
    case Authentication::none:
      return "none";
  }
  return "none";
}

/// RFC 8460 §4.3 result type for a host that a TLS policy made unusable.
std::string skip_result(const dns::MxHost& host, const HostPolicy& policy) {
  if (!policy.skip) return {};
  if (policy.skip->stage == Stage::dane)
    return host.tlsa_state == dns::TlsaState::failed ? tlsrpt::dnssec_invalid
                                                     : tlsrpt::dane_required;
  return {};  // MTA-STS mismatches and REQUIRETLS are reported with the policy, not the host
}

/// RFC 8460 §4.3 result type for an attempt that failed on TLS policy grounds.
std::string attempt_result(const HostPolicy& policy, const DriverResult& driven, const Error& e) {
  if (e.stage == Stage::dane) return tlsrpt::tlsa_invalid;
  if (policy.tls == smtp::TlsMode::required && e.stage == Stage::tls && !driven.tls &&
      !driven.tls_failure)
    return tlsrpt::starttls_not_supported;
  if (driven.tls_failure && policy.handshake.verify == tls::Verify::pkix) {
    // OpenSSL 3.0's X509_verify_cert_error_string() wording, as tls_stream.cpp reports it.
    const std::string& d = driven.tls_failure->detail;
    if (d.find("hostname mismatch") != std::string::npos) return tlsrpt::certificate_host_mismatch;
    if (d.find("has expired") != std::string::npos) return tlsrpt::certificate_expired;
    if (d.find("self-signed") != std::string::npos || d.find("local issuer") != std::string::npos ||
        d.find("not trusted") != std::string::npos)
      return tlsrpt::certificate_not_trusted;
    return tlsrpt::validation_failure;
  }
  return {};
}

/// An open SMTP connection and its session, kept for the other domains of the run.
struct PooledConnection {
  std::unique_ptr<SmtpConnection> connection;
  std::unique_ptr<smtp::Session> session;
  std::string via;  // how it was dialed
};
using ConnectionPool = std::map<std::string, PooledConnection>;

struct Pending {
  std::size_t index;  // position in the request, for the report order
  std::string recipient;
  std::optional<Error> last_error;  // the most specific temporary error seen so far
};

/// Delivery to the recipients of one domain.
class DomainDelivery {
 public:
  DomainDelivery(const Request& request, const message::Spool& message, Environment& env,
                 std::vector<RecipientOutcome>& outcomes, ConnectionPool& pool,
                 DomainRecord& record, const Route* route, bool probe = false)
      : request_(request),
        message_(message),
        env_(env),
        progress_(env.progress),
        outcomes_(outcomes),
        pool_(pool),
        record_(record),
        route_(route),
        relay_(route && route->relay ? &*route->relay : nullptr),
        probe_(probe) {}

  void run(const std::string& domain, std::vector<Pending> pending) {
    pending_ = std::move(pending);
    if (relay_) {
      run_relay();
      return;
    }
    progress_.note("looking up the mail exchangers of " + domain);
    std::function<std::uint32_t()> random = env_.random;
    if (!random)
      random = [rng = std::mt19937(std::random_device{}())]() mutable {
        return static_cast<std::uint32_t>(rng());
      };
    record_.domain = domain;
    auto dest = dns::gather_destinations(env_.resolver, domain, random);
    if (!dest) {
      progress_.note("no destination: " + dest.error().detail);
      record_.dns_error = dest.error();
      finish_all(dest.error());
      return;
    }
    record_.destinations = *dest;
    show(*dest);

    DomainFacts facts;
    facts.level = request_.level;
    facts.tls_required_no = request_.tls_required_no;
    facts.require_tls = request_.require_tls;
    facts.mx_secure = dest->domain_secure;
    facts.next_hop = dest->domain;
    facts.implicit_mx = dest->implicit_mx;

    Error last =
        temporary_error(Stage::connect, "no mail exchanger of " + domain + " could be reached");
    std::optional<mtasts::Policy> sts;
    bool sts_looked_up = false;
    for (const auto& host : dest->hosts) {
      if (host.lookup_error) {
        last = *host.lookup_error;
        last.host = host.name;
        continue;
      }
      // MTA-STS matters only for hosts without DANE (RFC 8461 §2); look it up once, lazily.
      if (!sts_looked_up && env_.mta_sts && !request_.tls_required_no &&
          (request_.level == Level::dane) && dane::decide(host) == dane::DaneDecision::no_dane) {
        sts_looked_up = true;
        record_.mta_sts = env_.mta_sts(dest->domain);
        if (record_.mta_sts && record_.mta_sts->policy &&
            record_.mta_sts->policy->mode != mtasts::Mode::none)
          sts = record_.mta_sts->policy;
        // A fetch that failed here rather than at the policy host (libcurl cannot be loaded,
        // out of memory) says nothing about the domain (see DomainFacts::sts_unavailable).
        if (record_.mta_sts && !record_.mta_sts->policy && record_.mta_sts->fetch_error &&
            record_.mta_sts->fetch_error->stage == Stage::internal)
          facts.sts_unavailable = &*record_.mta_sts->fetch_error;
      }
      facts.sts = sts ? &*sts : nullptr;
      HostPolicy policy = decide_host_policy(facts, host);
      progress_.note(host.name + ": " + policy.summary);
      HostRecord hr{host.name, policy.summary, authentication_name(policy.auth), policy.skip,
                    {},        policy.dane};
      if (policy.skip) {
        progress_.note("skipping " + host.name + ": " + policy.skip->detail);
        hr.tlsrpt_result = skip_result(host, policy);
        record_.hosts.push_back(std::move(hr));
        last = *policy.skip;
        continue;
      }
      record_.hosts.push_back(std::move(hr));
      for (const auto& addr : host.addresses) {
        if (!probe_ && (addresses_ >= kMaxAddresses || sessions_ >= kMaxSessions)) break;
        ++addresses_;
        auto verdict = attempt(host, addr, policy, last, false);
        if (probe_) continue;  // a probe reports a failed handshake as it is
        if (verdict == Attempt::plaintext_retry) {
          HostPolicy plain = policy;
          plain.tls = smtp::TlsMode::none;
          progress_.note("retrying " + host.name + " without TLS (opportunistic policy)");
          verdict = attempt(host, addr, plain, last, true);
        }
        if (verdict == Attempt::stop || pending_.empty()) return;
      }
    }
    finish_all(last);
  }

 private:
  enum class Attempt : unsigned char { next, stop, plaintext_retry };

  /// All recipients of the route to its relay: its addresses in turn, PKIX-verified TLS
  /// (STARTTLS or implicit) unless the transport says none.
  void run_relay() {
    const RelayTarget& r = *relay_;
    record_.domain = "relay " + route_->name + " (" + r.host + ":" + std::to_string(r.port) + ")";
    progress_.note("route " + route_->name + ": relaying through " + r.host + ":" +
                   std::to_string(r.port));
    dns::MxHost host;
    host.name = r.host;
    host.expanded_name = r.host;
    Error last = temporary_error(Stage::dns, "no address found for the relay " + r.host);
    if (net::is_ip_literal(r.host)) {
      host.addresses.push_back(
          {r.host, r.host.find(':') == std::string::npos ? AF_INET : AF_INET6});
    } else {
      // A relay's name need not be DNSSEC-signed (PKIX authenticates it), but never bogus.
      const dns::Question qs[] = {{r.host, dns::rrtype::AAAA}, {r.host, dns::rrtype::A}};
      for (auto& a : env_.resolver.resolve(qs)) {
        if (!a) {
          last = std::move(a).error();
          continue;
        }
        if (a->security == dns::Security::bogus) {
          last = temporary_error(Stage::dns,
                                 "DNSSEC validation failed for " + r.host + ": " + a->why_bogus);
          continue;
        }
        for (const auto& rd : a->rdata) {
          bool v4 = a->qtype == dns::rrtype::A;
          auto ip = v4 ? dns::parse_a(rd) : dns::parse_aaaa(rd);
          if (ip) host.addresses.push_back({*ip, v4 ? AF_INET : AF_INET6});
        }
      }
    }
    HostPolicy policy;
    policy.handshake.sni = r.host;
    if (r.tls == smtp::TlsMode::none && !r.implicit_tls) {
      policy.tls = smtp::TlsMode::none;
      policy.summary = "relay without TLS (the transport says tls = none)";
    } else {
      policy.tls = r.implicit_tls ? smtp::TlsMode::none : smtp::TlsMode::required;
      policy.handshake.verify = tls::Verify::pkix;
      policy.handshake.reference_names = {r.host};
      policy.auth = Authentication::pkix;
      policy.summary = std::string(r.implicit_tls ? "implicit TLS" : "STARTTLS required") +
                       " with a PKIX-valid certificate for " + r.host;
    }
    progress_.note(r.host + ": " + policy.summary);
    record_.hosts.push_back({r.host, policy.summary, authentication_name(policy.auth), {}, {}});
    for (const auto& addr : host.addresses) {
      if (addresses_ >= kMaxAddresses || sessions_ >= kMaxSessions) break;
      ++addresses_;
      if (attempt(host, addr, policy, last, false) == Attempt::stop || pending_.empty()) return;
    }
    finish_all(last);
  }

  void show(const dns::Destinations& dest) {
    if (dest.expanded_domain != dest.domain)
      progress_.note(dest.domain + " is an alias (CNAME) of " + dest.expanded_domain);
    progress_.note(std::string(dest.implicit_mx ? "no MX records; implicit MX " : "MX records ") +
                   "(" + security_word(dest.domain_secure) + "):");
    for (const auto& h : dest.hosts) {
      std::string line = "  " + std::to_string(h.preference) + " " + h.name;
      if (h.expanded_name != h.name) line += " (CNAME " + h.expanded_name + ")";
      if (h.lookup_error) {
        line += ": " + h.lookup_error->detail;
      } else {
        line += std::string(" [") + security_word(h.addresses_secure) + "]";
        for (const auto& a : h.addresses) line += " " + a.ip;
      }
      progress_.note(line);
    }
  }

  Attempt attempt(const dns::MxHost& host, const dns::HostAddress& addr, const HostPolicy& policy,
                  Error& last, bool plaintext_retry) {
    std::string where = host.name + " [" + addr.ip + "]";
    auto started = std::chrono::steady_clock::now();
    AttemptRecord& ar = record_.attempts.emplace_back();
    ar.host = host.name;
    ar.address = addr.ip;
    ar.plaintext_retry = plaintext_retry;
    auto finish_record = [&] {
      ar.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    };
    smtp::Envelope envelope;
    envelope.reverse_path = request_.reverse_path;
    for (const auto& p : pending_) {
      smtp::Recipient r(p.recipient);
      r.notify = request_.notify;
      envelope.recipients.push_back(std::move(r));
    }
    envelope.body_8bit = message_.stats().eight_bit;
    envelope.size = message_.size();
    envelope.ret = request_.ret;
    envelope.envid = request_.envid;
    envelope.requiretls = request_.require_tls && !request_.tls_required_no;

    // A connection left open by another domain of this run, to the same host and address
    // under the same TLS policy, carries this message too (RFC 5321 §3.3: several transactions).
    std::string key = addr.ip + "|" + std::to_string(relay_ ? relay_->port : env_.port) + "|" +
                      host.name + "|" + policy.summary + "|" +
                      std::to_string(static_cast<int>(policy.tls));
    if (probe_) key += "|probe " + std::to_string(record_.attempts.size());  // never shared
    auto pooled = pool_.find(key);
    if (pooled != pool_.end() && !pooled->second.session->can_reuse()) {
      pooled->second.connection->close(*pooled->second.session);
      pool_.erase(pooled);
      pooled = pool_.end();
    }
    if (pooled != pool_.end()) {
      progress_.note("reusing the open connection to " + where);
      ar.reused_connection = true;
      ar.via = pooled->second.via;
      pooled->second.session->start_transaction(std::move(envelope));
    } else {
      net::DirectDialer direct;
      net::Dialer* chosen = route_ && route_->dialer ? route_->dialer : env_.dialer;
      net::Dialer& dialer = chosen ? *chosen : direct;
      const std::uint16_t port = relay_ ? relay_->port : env_.port;
      progress_.note("connecting to " + where + ":" + std::to_string(port) + " " +
                     dialer.describe());
      ar.via = dialer.describe();
      auto sock = dialer.connect(net::Endpoint{addr.ip, port}, env_.timeouts.for_connect());
      if (!sock) {
        last = std::move(sock).error();
        last.host = where;
        // Even a proxy refusing the request for good (SOCKS5 reply 7 or 8) is a local matter
        // that the sender can fix: the message is kept (temporary), never bounced.
        last.permanence = Permanence::temporary;
        progress_.note(last.detail);
        ar.error = last;
        finish_record();
        return Attempt::next;
      }
      ++sessions_;
      ++report_round_trips_;  // the TCP handshake
      const bool implicit = relay_ && relay_->implicit_tls;
      auto connection = std::make_unique<SmtpConnection>(
          std::move(*sock), relay_ && relay_->tls_context ? *relay_->tls_context : env_.tls_context,
          policy.handshake, progress_, env_.timeouts, implicit);
      smtp::SessionOptions options;
      options.helo_name = request_.helo_name;
      options.tls = policy.tls;
      options.keep_open =
          !probe_;  // QUIT when the run ends, in case another domain shares the host
      options.probe = probe_;
      if (relay_ && relay_->auth) options.auth = relay_->auth;
      if (implicit) {
        DriverResult hs;
        auto handshake = connection->implicit_handshake(hs);
        report_round_trips_ += hs.round_trips;
        ar.tls = hs.tls;
        if (!handshake) {
          last = std::move(handshake).error();
          last.host = where;
          ar.error = last;
          finish_record();
          return Attempt::next;
        }
        options.tls_active = true;
        options.tls_authenticated = policy.handshake.verify != tls::Verify::none;
        options.channel_binding = connection->channel_binding();
      }
      PooledConnection fresh;
      fresh.via = ar.via;
      fresh.session = std::make_unique<smtp::Session>(std::move(envelope), options);
      fresh.connection = std::move(connection);
      pooled = pool_.insert_or_assign(key, std::move(fresh)).first;
    }
    smtp::Session& session = *pooled->second.session;
    DriverResult driven = pooled->second.connection->run(session, message_);
    report_round_trips_ += driven.round_trips;
    ar.round_trips = driven.round_trips;
    ar.tls = driven.tls;
    for (const auto& e : session.capabilities().raw) ar.extensions.push_back(e);
    if (!driven.tls && !driven.tls_failure)
      progress_.note("the session with " + where + " was not encrypted");
    if (!session.can_reuse()) {
      pooled->second.connection->close(session);
      // The session's outcome is read below: keep it alive until the attempt is recorded.
      retired_.push_back(std::move(pooled->second));
      pool_.erase(pooled);
    }

    const smtp::Outcome& out = session.outcome();
    if (probe_) {
      finish_record();
      if (out.error) {
        ar.error = *out.error;
        if (ar.error->host.empty()) ar.error->host = where;
        ar.tlsrpt_result = attempt_result(policy, driven, *ar.error);
        progress_.note("probe of " + where + " failed: " + ar.error->describe());
      }
      return Attempt::next;
    }
    std::string security = describe_security(policy, driven);
    std::vector<Pending> still;
    std::set<std::size_t> accepted;  // request indexes the server accepted (RCPT 2xx)
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      Pending& p = pending_[i];
      const smtp::RecipientResult* rr = i < out.recipients.size() ? &out.recipients[i] : nullptr;
      if (rr && rr->accepted) accepted.insert(p.index);
      if (rr && rr->delivered) {
        RecipientOutcome& o = outcomes_[p.index];
        o = {.recipient = p.recipient, .delivered_via = where, .security = security};
        if (rr->data_reply) {
          o.server_reply = rr->data_reply->text();
          o.smtp_code = rr->data_reply->code;
          o.enhanced_code = rr->data_reply->enhanced;
        }
        ar.delivered.push_back(p.recipient);
        continue;
      }
      if (rr && !rr->accepted && rr->reply) {
        Error e = error_from_reply(*rr->reply, "RCPT TO:<" + p.recipient + ">");
        e.host = where;
        if (e.permanent()) {
          outcomes_[p.index] = {.recipient = p.recipient, .error = e};
          continue;
        }
        p.last_error = e;
      }
      still.push_back(std::move(p));
    }
    pending_ = std::move(still);
    finish_record();
    if (!out.error) return Attempt::next;
    Error e = *out.error;
    if (e.host.empty()) e.host = where;
    progress_.note("attempt failed: " + e.describe());
    ar.error = e;
    ar.tlsrpt_result = attempt_result(policy, driven, e);
    if (after_failure(e, in_transaction(e)) == Next::final) {
      // A lost final reply concerns only the recipients the server had accepted; the others
      // never saw the message and may still go elsewhere.
      std::vector<Pending> untouched;
      for (auto& p : pending_) {
        if (e.maybe_delivered && !accepted.contains(p.index))
          untouched.push_back(std::move(p));
        else
          outcomes_[p.index] = {.recipient = p.recipient, .error = e};
      }
      pending_ = std::move(untouched);
      if (pending_.empty()) return Attempt::stop;
      return Attempt::next;
    }
    last = e;
    // RFC 7435: an opportunistic handshake failure is retried in plaintext on the same host.
    if (driven.tls_failure && policy.plaintext_fallback && policy.tls != smtp::TlsMode::none)
      return Attempt::plaintext_retry;
    return Attempt::next;
  }

  void finish_all(const Error& e) {
    for (const auto& p : pending_)
      outcomes_[p.index] = {.recipient = p.recipient, .error = p.last_error ? *p.last_error : e};
    pending_.clear();
  }

 public:
  int round_trips() const { return report_round_trips_; }

 private:
  const Request& request_;
  const message::Spool& message_;
  Environment& env_;
  Progress& progress_;
  std::vector<RecipientOutcome>& outcomes_;
  ConnectionPool& pool_;
  DomainRecord& record_;
  const Route* route_;                     // null: direct delivery with the environment's dialer
  const RelayTarget* relay_;               // set for smarthost / submission routes
  bool probe_;                             // --probe: every address, up to EHLO after TLS, no mail
  std::vector<PooledConnection> retired_;  // closed, kept while their outcome is read
  std::vector<Pending> pending_;
  int addresses_ = 0;
  int sessions_ = 0;
  int report_round_trips_ = 0;
};

}  // namespace

Report probe(const std::string& domain, const Request& request, Environment& env) {
  Report report;
  ConnectionPool pool;
  const auto empty = message::Spool::from_string("");
  auto started = std::chrono::steady_clock::now();
  DomainDelivery dd(request, empty, env, report.recipients, pool, report.domains.emplace_back(),
                    nullptr, true);
  dd.run(domain_of("@" + domain), {});
  report.round_trips = dd.round_trips();
  for (auto& [key, pooled] : pool) pooled.connection->close(*pooled.session);
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

Report deliver(const Request& request, const message::Spool& message, Environment& env) {
  Report report;
  report.recipients.resize(request.recipients.size());
  // Group recipients by route and, for direct delivery, by domain, keeping first-seen order:
  // one transaction per domain, or per relay.
  struct Group {
    std::string domain;
    const Route* route = nullptr;
    std::vector<Pending> pending;
  };
  std::vector<Group> groups;
  std::map<std::pair<std::size_t, std::string>, std::size_t> index;
  for (std::size_t i = 0; i < request.recipients.size(); ++i) {
    const Route* route = nullptr;
    std::size_t r = SIZE_MAX;
    if (i < request.recipient_routes.size() &&
        request.recipient_routes[i] < request.routes.size()) {
      r = request.recipient_routes[i];
      route = &request.routes[r];
    }
    std::string d = route && route->relay ? std::string() : domain_of(request.recipients[i]);
    auto [it, inserted] = index.try_emplace({r, d}, groups.size());
    if (inserted) groups.push_back({d, route, {}});
    groups[it->second].pending.push_back({i, request.recipients[i], std::nullopt});
  }
  auto started = std::chrono::steady_clock::now();
  ConnectionPool pool;
  report.domains.reserve(groups.size());
  for (auto& g : groups) {
    DomainDelivery dd(request, message, env, report.recipients, pool, report.domains.emplace_back(),
                      g.route);
    dd.run(g.domain, std::move(g.pending));
    report.round_trips += dd.round_trips();
  }
  for (auto& [key, pooled] : pool) pooled.connection->close(*pooled.session);
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace mx::delivery
