// mxclient's main flow (see app.hpp). Output: progress on stdout (unless -q), one line per
// recipient outcome, errors on stderr; the exit code comes from exit_codes.cpp.
#include "cli/app.hpp"

#include <csignal>
#include <iostream>
#include <memory>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "cli/exit_codes.hpp"
#include "cli/identity.hpp"
#include "cli/options.hpp"
#include "cli/probe_table.hpp"
#include "config/config.hpp"
#include "config/routes.hpp"
#include "delivery/deliver.hpp"
#include "dns/trust_ad_resolver.hpp"
#include "dns/unbound_resolver.hpp"
#include "message/headers.hpp"
#include "message/spool.hpp"
#include "mtasts/cache.hpp"
#include "mtasts/fetcher.hpp"
#include "mtasts/mtasts.hpp"
#include "net/command_dialer.hpp"
#include "net/socks5_dialer.hpp"
#include "report/json_report.hpp"
#include "smtp/address.hpp"
#include "smtp/dsn.hpp"
#include "smtp/idna.hpp"
#include "tls/context.hpp"

namespace mx::cli {
namespace {

int report_error(const Error& e) {
  std::cerr << "mxclient: " << e.describe() << '\n';
  return exit_code_for(e);
}

/// Validates a mailbox and puts it in wire form: an ASCII local part gets its domain as
/// A-labels (RFC 5890); a UTF-8 local part needs SMTPUTF8 anyway (RFC 6531) and keeps its domain.
Result<std::string> normalize_mailbox(const std::string& text, const char* role) {
  auto m = smtp::parse_mailbox(text);
  if (!m) {
    Error e = std::move(m).error();
    e.detail = std::string("bad ") + role + " address '" + text + "': " + e.detail;
    return fail(std::move(e));
  }
  auto ascii = smtp::domain_to_ascii(m->domain);
  if (!ascii) {
    Error e = std::move(ascii).error();
    const std::string what = e.stage == Stage::internal ? "cannot convert the " : "bad ";
    e.detail = what + role + " address '" + text + "': " + e.detail;
    return fail(std::move(e));
  }
  if (m->local_is_ascii()) m->domain = *ascii;
  return m->to_string();
}

/// -N/-R/-V (RFC 3461), validated here so that a bad value is a usage error before any I/O.
Result<void> apply_dsn_options(const Options& o, delivery::Request& request) {
  if (o.dsn_notify) {
    smtp::Notify n;
    std::string list = *o.dsn_notify;
    for (char& c : list) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::size_t pos = 0;
    bool never = false;
    while (pos <= list.size()) {
      auto comma = list.find(',', pos);
      std::string item =
          list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (item == "never")
        never = true;
      else if (item == "success")
        n.success = true;
      else if (item == "failure")
        n.failure = true;
      else if (item == "delay")
        n.delay = true;
      else
        return fail(permanent_error(Stage::usage, "-N: unknown notification '" + item +
                                                      "' (use never, or success,failure,delay)"));
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    if (never && (n.success || n.failure || n.delay))
      return fail(
          permanent_error(Stage::usage, "-N: never cannot be combined with other notifications"));
    request.notify = n;
  }
  if (o.dsn_ret) {
    auto r = smtp::encode_ret(*o.dsn_ret);
    if (!r) return fail(permanent_error(Stage::usage, "-R: " + r.error().detail));
    request.ret = *r;
  }
  if (o.envid) {
    auto e = smtp::encode_envid(*o.envid);
    if (!e) return fail(permanent_error(Stage::usage, "-V: " + e.error().detail));
    request.envid = *o.envid;
  }
  return {};
}

/// The header section of the spooled message (up to 1 MiB), for -t and TLS-Required.
Result<std::string> read_header_section(const message::Spool& spool) {
  constexpr std::size_t kMax = 1024 * 1024;
  std::string head;
  auto r = spool.for_each_chunk([&](std::string_view chunk) -> Result<void> {
    head.append(chunk);
    if (head.find("\r\n\r\n") != std::string::npos || head.size() >= kMax ||
        head.starts_with("\r\n"))
      return fail(Error{});  // enough: stop reading (not an error for the caller)
    return {};
  });
  (void)r;
  if (auto end = head.find("\r\n\r\n"); end != std::string::npos)
    head.resize(end + 4);
  else if (head.size() > kMax)
    head.resize(kMax);
  return head;
}

/// RFC 8689 §5: a "TLS-Required: No" header field asks that TLS policy failures be ignored.
bool tls_required_no(const std::string& headers) {
  for (const auto& f : message::parse_header_fields(headers)) {
    std::string name = f.name;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name != "tls-required") continue;
    std::string v;
    for (char c : f.value)
      if (c != ' ' && c != '\t')
        v += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (v == "no") return true;
  }
  return false;
}

/// Creates (or truncates) the --json file now, so that an unwritable path stops the run early.
Result<void> check_writable(const std::string& path) {
  std::ofstream probe(path, std::ios::trunc);
  if (!probe)
    return fail(permanent_error(
        Stage::config, "cannot write the JSON report to " + path + ": " + std::strerror(errno)));
  return {};
}

/// --proxy / --proxy-command: how MX hosts are reached (null: directly). `for_https` builds
/// the variant for the MTA-STS fetch, where the client speaks first.
Result<std::unique_ptr<net::Dialer>> make_dialer(const std::optional<std::string>& proxy,
                                                 const std::optional<std::string>& proxy_command,
                                                 bool for_https) {
  if (proxy) {
    auto url = net::parse_proxy_url(*proxy);
    if (!url) return fail(std::move(url).error());
    return std::unique_ptr<net::Dialer>(std::make_unique<net::Socks5Dialer>(std::move(*url)));
  }
  if (proxy_command) {
    if (auto c = net::CommandDialer::check_template(*proxy_command); !c)
      return fail(std::move(c).error());
    net::CommandDialer::Options opts;
    // SMTP servers speak first, so the first byte proves the connection; HTTPS clients do.
    opts.ready =
        for_https ? net::CommandDialer::Ready::at_once : net::CommandDialer::Ready::first_byte;
    return std::unique_ptr<net::Dialer>(std::make_unique<net::CommandDialer>(*proxy_command, opts));
  }
  return std::unique_ptr<net::Dialer>();
}

/// The MTA-STS lookup used for domains without DANE (RFC 8461), with its on-disk cache.
Result<std::function<std::optional<mtasts::PolicyLookup>(const std::string&)>> make_mta_sts(
    const Options& o, dns::Resolver& resolver, Progress& progress) {
  if (!o.mta_sts) return std::function<std::optional<mtasts::PolicyLookup>(const std::string&)>{};
  std::shared_ptr<mtasts::Cache> cache;
  if (o.sts_cache) {
    cache = std::make_shared<mtasts::Cache>(*o.sts_cache);
  } else if (auto dir = mtasts::default_cache_dir(); dir) {
    cache = std::make_shared<mtasts::Cache>(*dir);
  } else {
    progress.warn("no MTA-STS policy cache: " + dir.error().detail);
  }
  mtasts::FetchOptions fetch;
  if (o.ca_file) fetch.ca_file = *o.ca_file;
  if (o.ca_path) fetch.ca_path = *o.ca_path;
  // Through the same proxy as the SMTP connections (the policy host is never resolved by it).
  auto https_dialer = make_dialer(o.proxy, o.proxy_command, true);
  if (!https_dialer) return fail(std::move(https_dialer).error());
  if (*https_dialer) {
    std::shared_ptr<net::Dialer> dialer = std::move(*https_dialer);
    fetch.open_socket = [dialer](const mtasts::SocketRequest& r) -> Result<Fd> {
      return dialer->dial(net::Endpoint{r.address, r.port},
                          Deadline::after(std::chrono::seconds(10)));
    };
  }
  auto fetcher = std::make_shared<mtasts::CurlFetcher>(fetch);
  return std::function<std::optional<mtasts::PolicyLookup>(const std::string&)>(
      [&resolver, &progress, cache,
       fetcher](const std::string& domain) -> std::optional<mtasts::PolicyLookup> {
        auto now =
            std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
        auto found = mtasts::discover(domain, resolver, *fetcher, cache.get(), now);
        if (!found) {
          progress.note("MTA-STS: " + found.error().detail);
          return std::nullopt;
        }
        if (!found->note.empty()) progress.note("MTA-STS: " + found->note);
        return std::move(*found);
      });
}

/// The config file's [defaults], for every option the command line left unset.
void merge_defaults(Options& o, const config::Defaults& d) {
  auto fill = [](auto& flag, const auto& dflt) {
    if (!flag && dflt) flag = dflt;
  };
  fill(o.helo, d.helo);
  fill(o.tls_policy, d.tls_policy);
  fill(o.resolver, d.resolver);
  fill(o.trust_anchor, d.trust_anchor);
  fill(o.root_hints, d.root_hints);
  fill(o.ca_file, d.ca_file);
  fill(o.ca_path, d.ca_path);
  fill(o.sts_cache, d.sts_cache);
  if (!o.proxy && !o.proxy_command) {
    o.proxy = d.proxy;
    o.proxy_command = d.proxy_command;
  }
  fill(o.overall_timeout, d.timeout);
  if (d.require_tls.value_or(false)) o.require_tls = true;
  if (!d.mta_sts.value_or(true)) o.mta_sts = false;
  // The file's timeouts first, so that --smtp-timeout flags override them.
  std::vector<std::string> timeouts;
  for (const auto& t : d.smtp_timeouts) timeouts.push_back(t.assignment());
  timeouts.insert(timeouts.end(), o.smtp_timeouts.begin(), o.smtp_timeouts.end());
  o.smtp_timeouts = std::move(timeouts);
}

/// What the routes need kept alive during the delivery.
struct RouteResources {
  std::vector<std::unique_ptr<net::Dialer>> dialers;
  std::vector<std::unique_ptr<tls::Context>> contexts;
};

std::string domain_part(const std::string& mailbox) {
  auto at = mailbox.rfind('@');
  return at == std::string::npos ? std::string() : mailbox.substr(at + 1);
}

/// One delivery::Route for each transport the config's routes choose (first match wins, no
/// match = direct delivery), and each recipient's route.
Result<void> assign_routes(const config::Config& cfg, const Options& o, delivery::Request& request,
                           RouteResources& res) {
  std::map<const config::Transport*, std::size_t> made;
  for (const auto& rcpt : request.recipients) {
    const config::Transport* t = config::select_transport(
        cfg, domain_part(rcpt), domain_part(request.reverse_path), o.attempt);
    if (t == nullptr) {
      request.recipient_routes.push_back(SIZE_MAX);  // direct, with the command line's proxy
      continue;
    }
    if (auto it = made.find(t); it != made.end()) {
      request.recipient_routes.push_back(it->second);
      continue;
    }
    delivery::Route route;
    route.name = t->name;
    std::optional<std::string> proxy, proxy_command;
    if (const auto* d = t->direct()) {
      proxy = d->proxy;
      proxy_command = d->proxy_command;
    } else if (const auto* s = t->socks()) {
      proxy = s->proxy;
      proxy_command = s->proxy_command;
    } else if (const auto* smtp = t->smtp()) {
      delivery::RelayTarget relay;
      relay.host = smtp->host;
      relay.port = smtp->port;
      relay.implicit_tls = smtp->tls == config::TlsMode::implicit;
      relay.tls =
          smtp->tls == config::TlsMode::none ? smtp::TlsMode::none : smtp::TlsMode::required;
      if (smtp->ca_file) {
        tls::ContextOptions co;
        co.ca_file = *smtp->ca_file;
        auto ctx = tls::Context::create(co);
        if (!ctx) return fail(std::move(ctx).error());
        res.contexts.push_back(std::make_unique<tls::Context>(std::move(*ctx)));
        relay.tls_context = res.contexts.back().get();
      }
      route.relay = relay;
      proxy = o.proxy;
      proxy_command = o.proxy_command;
    } else if (const auto* sub = t->submission()) {
      // RFC 6409 submission: PKIX-verified TLS (STARTTLS or RFC 8314 implicit), then SASL.
      delivery::RelayTarget relay;
      relay.host = sub->host;
      relay.port = sub->port;
      relay.implicit_tls = sub->tls == config::TlsMode::implicit;
      relay.tls = smtp::TlsMode::required;
      tls::ContextOptions co;
      if (sub->ca_file)
        co.ca_file = *sub->ca_file;
      else if (o.ca_file)
        co.ca_file = *o.ca_file;
      if (o.ca_path) co.ca_path = *o.ca_path;
      if (sub->client_cert) co.client_cert_file = *sub->client_cert;
      if (sub->client_key) co.client_key_file = *sub->client_key;
      auto ctx = tls::Context::create(co);
      if (!ctx) return fail(std::move(ctx).error());
      res.contexts.push_back(std::make_unique<tls::Context>(std::move(*ctx)));
      relay.tls_context = res.contexts.back().get();
      smtp::AuthOptions auth;
      auth.credentials.authcid = sub->username;
      if (sub->password_file || sub->password_env) {
        auto password = config::load_password(*sub);
        if (!password) return fail(std::move(password).error());
        auth.credentials.password = std::move(*password);
      }
      // One mechanism named: that one or nothing; several: the strongest of them.
      if (sub->auth_mechanisms.size() == 1)
        auth.mechanism = sub->auth_mechanisms.front();
      else
        auth.allowed = sub->auth_mechanisms;
      auth.client_certificate = relay.tls_context->has_client_certificate();
      relay.auth = std::move(auth);
      route.relay = std::move(relay);
      proxy = o.proxy;
      proxy_command = o.proxy_command;
    } else {
      return fail(
          permanent_error(Stage::internal, "transport '" + t->name + "' has an unknown type"));
    }
    if (proxy || proxy_command) {
      auto dialer = make_dialer(proxy, proxy_command, false);
      if (!dialer) return fail(std::move(dialer).error());
      res.dialers.push_back(std::move(*dialer));
      route.dialer = res.dialers.back().get();
    }
    made[t] = request.routes.size();
    request.recipient_routes.push_back(request.routes.size());
    request.routes.push_back(std::move(route));
  }
  return {};
}

Result<std::unique_ptr<dns::Resolver>> make_resolver(const Options& o,
                                                     const delivery::Timeouts& t) {
  if (o.trust_ad) {
    auto r = dns::TrustAdResolver::create(dns::TrustAdOptions{});
    if (!r) return fail(std::move(r).error());
    return std::unique_ptr<dns::Resolver>(std::move(*r));
  }
  dns::UnboundOptions u;
  if (o.resolver) u.forwarder = *o.resolver;
  if (o.trust_anchor) u.trust_anchor_file = *o.trust_anchor;
  if (o.root_hints) u.root_hints_file = *o.root_hints;
  // One DNS batch never outlives --timeout.
  if (int left = t.overall.poll_timeout_ms(); left >= 0)
    u.timeout = std::min(u.timeout, std::chrono::milliseconds(std::max(left, 1)));
  auto r = dns::UnboundResolver::create(u);
  if (!r) return fail(std::move(r).error());
  return std::unique_ptr<dns::Resolver>(std::move(*r));
}

/// What a delivery or a probe needs from the options: timeouts, the validating resolver, the
/// TLS context, the dialer (direct or proxy) and the MTA-STS lookup.
struct Setup {
  delivery::Timeouts timeouts;
  std::unique_ptr<dns::Resolver> resolver;
  std::unique_ptr<tls::Context> tls_context;
  std::unique_ptr<net::Dialer> dialer;
  std::function<std::optional<mtasts::PolicyLookup>(const std::string&)> mta_sts;

  static Result<Setup> create(const Options& o, Progress& progress) {
    Setup s;
    for (const auto& t : o.smtp_timeouts)
      if (auto r = s.timeouts.set(t); !r) return fail(std::move(r).error());
    if (o.overall_timeout)
      s.timeouts.overall = Deadline::after(
          std::chrono::milliseconds(static_cast<long long>(*o.overall_timeout * 1000)));
    auto resolver = make_resolver(o, s.timeouts);
    if (!resolver) return fail(std::move(resolver).error());
    s.resolver = std::move(*resolver);
    tls::ContextOptions tls_options;
    if (o.ca_file) tls_options.ca_file = *o.ca_file;
    if (o.ca_path) tls_options.ca_path = *o.ca_path;
    auto tls_context = tls::Context::create(tls_options);
    if (!tls_context) return fail(std::move(tls_context).error());
    s.tls_context = std::make_unique<tls::Context>(std::move(*tls_context));
    auto dialer = make_dialer(o.proxy, o.proxy_command, false);
    if (!dialer) return fail(std::move(dialer).error());
    s.dialer = std::move(*dialer);
    auto sts = make_mta_sts(o, *s.resolver, progress);
    if (!sts) return fail(std::move(sts).error());
    s.mta_sts = std::move(*sts);
    return s;
  }

  delivery::Environment environment(Progress& progress) {
    delivery::Environment env(*resolver, *tls_context, progress);
    env.timeouts = timeouts;
    env.dialer = dialer.get();
    env.mta_sts = mta_sts;
    return env;
  }
};

/// --probe DOMAIN: the delivery machinery up to TLS and EHLO, on every MX address, no mail.
int run_probe(const Options& o) {
  auto domain = smtp::domain_to_ascii(*o.probe);
  if (!domain) return report_error(domain.error());
  delivery::Request request;
  request.helo_name = o.helo ? *o.helo : local_fqdn();
  auto level = delivery::parse_level(o.tls_policy.value_or("dane"));
  if (!level) return report_error(level.error());
  request.level = *level;
  if (o.json && *o.json != "-") {
    if (auto w = check_writable(*o.json); !w) return report_error(w.error());
  }
  StreamProgress progress(o.verbose ? &std::cout : nullptr, &std::cerr);
  auto setup = Setup::create(o, progress);
  if (!setup) return report_error(setup.error());
  delivery::Environment env = setup->environment(progress);
  const auto started = std::chrono::system_clock::now();
  delivery::Report report = delivery::probe(*domain, request, env);
  const delivery::DomainRecord& record = report.domains.front();
  std::ostringstream discard;  // with --json - the document alone goes to stdout
  bool secure = print_probe(record, o.json && *o.json == "-" ? discard : std::cout);
  int code = ex::ok;
  if (!secure) code = record.dns_error ? exit_code_for(*record.dns_error) : ex::unavailable;
  if (o.json) {
    report::RunInfo info;
    info.version = MXCLIENT_VERSION;
    info.tls_policy = delivery::level_name(request.level);
    info.resolver_mode = o.trust_ad ? "trust-ad" : o.resolver ? "forward" : "recursive";
    info.started = started;
    info.exit_code = code;
    if (auto w = report::write_json_report(report, info, *o.json); !w)
      std::cerr << "mxclient: " << w.error().describe() << '\n';
  }
  return code;
}

}  // namespace

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = parse_options(args);
  if (!parsed) {
    std::cerr << "mxclient: " << parsed.error().detail << "\nTry 'mxclient --help'.\n";
    return ex::usage;
  }
  Options o = *parsed;
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
  auto cfg = config::load_config(o.config);
  if (!cfg) return report_error(cfg.error());
  merge_defaults(o, cfg->defaults);

  if (o.probe) return run_probe(o);

  // Addresses are checked before anything is read or sent (RFC 5321 §4.1.2).
  std::string sender;
  if (!o.sender) {
    sender = local_user() + "@" + local_fqdn();
  } else if (*o.sender != "" && *o.sender != "<>") {
    sender = *o.sender;
  }
  if (!sender.empty()) {
    auto m = normalize_mailbox(sender, "sender");
    if (!m) return report_error(m.error());
    sender = *m;
  }
  delivery::Request request;
  request.reverse_path = sender;
  for (const auto& r : o.recipients) {
    auto m = normalize_mailbox(r, "recipient");
    if (!m) return report_error(m.error());
    request.recipients.push_back(*m);
  }
  request.helo_name = o.helo ? *o.helo : local_fqdn();
  auto level = delivery::parse_level(o.tls_policy.value_or("dane"));
  if (!level) return report_error(level.error());
  request.level = *level;
  request.require_tls = o.require_tls;
  if (auto dsn = apply_dsn_options(o, request); !dsn) return report_error(dsn.error());

  // A report that cannot be written is found out before anything is sent.
  if (o.json && *o.json != "-") {
    if (auto w = check_writable(*o.json); !w) return report_error(w.error());
  }

  // The whole message is read before any connection, so a read error never sends a partial one.
  message::SpoolOptions spool_options;
  spool_options.strip_bcc = o.recipients_from_headers;  // sendmail -t (RFC 5322 §3.6.3)
  auto spool = message::Spool::read_from(0, spool_options);
  if (!spool) return report_error(spool.error());
  StreamProgress progress(o.quiet ? nullptr : &std::cout, &std::cerr);
  const auto& stats = spool->stats();
  if (stats.long_lines > 0)
    progress.warn("line " + std::to_string(stats.first_long_line) + " is " +
                  std::to_string(stats.longest_line) +
                  " octets long (RFC 5321 limit: 998); it is sent unaltered, but some servers "
                  "refuse such lines");
  auto headers = read_header_section(*spool);
  if (!headers) return report_error(headers.error());
  request.tls_required_no = tls_required_no(*headers);
  if (request.tls_required_no) progress.note("the message says \"TLS-Required: No\" (RFC 8689 §5)");
  if (o.recipients_from_headers) {
    auto listed = message::extract_recipients(*headers);
    if (!listed) return report_error(listed.error());
    for (const auto& r : *listed) {
      auto m = normalize_mailbox(r, "recipient (from the headers)");
      if (!m) return report_error(m.error());
      if (std::find(request.recipients.begin(), request.recipients.end(), *m) ==
          request.recipients.end())
        request.recipients.push_back(*m);
    }
    if (request.recipients.empty())
      return report_error(permanent_error(Stage::usage, "-t: the message names no recipients"));
  }

  auto setup = Setup::create(o, progress);
  if (!setup) return report_error(setup.error());
  RouteResources route_resources;
  if (auto routed = assign_routes(*cfg, o, request, route_resources); !routed)
    return report_error(routed.error());
  delivery::Environment env = setup->environment(progress);
  delivery::Report report = delivery::deliver(request, *spool, env);
  const auto started = std::chrono::system_clock::now() -
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(
                           std::chrono::duration<double>(report.seconds));

  std::vector<const Error*> errors;
  for (const auto& r : report.recipients) {
    if (!r.error) {
      if (!o.quiet)
        std::cout << "delivered to <" << r.recipient << "> via " << r.delivered_via << " ("
                  << r.security << "): " << r.server_reply << '\n';
      errors.push_back(nullptr);
    } else {
      std::cerr << "mxclient: <" << r.recipient
                << ">: " << (r.error->temporary() ? "deferred: " : "failed: ")
                << r.error->describe() << '\n';
      errors.push_back(&*r.error);
    }
  }
  if (o.verbose && !o.quiet) std::cout << "SMTP round trips: " << report.round_trips << '\n';
  int code = worst_exit_code(errors);
  if (o.json) {
    report::RunInfo info;
    info.version = MXCLIENT_VERSION;
    info.sender = request.reverse_path;
    info.tls_policy = delivery::level_name(request.level);
    info.resolver_mode = o.trust_ad ? "trust-ad" : o.resolver ? "forward" : "recursive";
    info.recipients = o.recipients;
    if (o.recipients_from_headers) info.recipients = request.recipients;
    info.started = started;
    info.exit_code = code;
    // The outcome stands whatever happens to the report: the mail is already out.
    if (auto w = report::write_json_report(report, info, *o.json); !w)
      std::cerr << "mxclient: " << w.error().describe() << '\n';
  }
  return code;
}

}  // namespace mx::cli
