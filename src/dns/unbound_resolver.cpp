// UnboundResolver: configures a libunbound context (never from resolv.conf or /etc/hosts) and
// runs each batch of questions concurrently with ub_resolve_async + poll(ub_fd).
#include "dns/unbound_resolver.hpp"

#include <poll.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "core/deadline.hpp"
#include "dns/config_file.hpp"
#include "dns/records.hpp"
#include "dns/server_address.hpp"

namespace mx::dns {
namespace {

constexpr int kClassIn = 1;
constexpr int kTypeDs = 43;      // RFC 4034 §5
constexpr int kTypeDnskey = 48;  // RFC 4034 §2

using ResultHandle = UniqueHandle<ub_result, &ub_resolve_free>;

Error config_error(std::string detail) {
  return permanent_error(Stage::config, std::move(detail));
}

Result<void> set_option(ub_ctx* ctx, const char* opt, const std::string& value) {
  if (int err = ub_ctx_set_option(ctx, opt, value.c_str()); err != 0) {
    return fail(config_error(std::string("libunbound rejected option ") + opt + " " + value + ": " +
                             ub_strerror(err)));
  }
  return {};
}

/// True when some line of a zone-file style text is a DS or DNSKEY record. libunbound only
/// reads the file when the first query starts, so checking here turns a typo in the path or
/// an empty file into a configuration error instead of every lookup coming back bogus.
bool has_anchor_record(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (auto semi = line.find(';'); semi != std::string::npos) line.resize(semi);
    std::istringstream words(line);
    std::string w;
    while (words >> w) {
      for (char& c : w) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (w == "DS" || w == "DNSKEY") return true;
    }
  }
  return false;
}

Answer to_answer(const Question& q, const ub_result& r) {
  Answer a;
  a.qname = normalize_name(q.name);
  a.qtype = q.type;
  a.rcode = r.rcode;
  a.security = r.secure ? Security::secure : (r.bogus ? Security::bogus : Security::insecure);
  a.canonical_name = r.canonname ? normalize_name(r.canonname) : a.qname;
  if (r.havedata && r.data) {
    for (int i = 0; r.data[i] != nullptr; ++i) a.rdata.emplace_back(r.data[i], r.len[i]);
  }
  a.ttl = r.ttl > 0 ? static_cast<std::uint32_t>(r.ttl) : 0;
  if (r.why_bogus) a.why_bogus = r.why_bogus;
  return a;
}

Error lookup_error(const Question& q, const std::string& why) {
  return temporary_error(Stage::dns, "DNS lookup of " + normalize_name(q.name) + " " +
                                         type_name(q.type) + " failed: " + why);
}

Error timeout_error(const Question& q) {
  return temporary_error(Stage::dns, "DNS lookup of " + normalize_name(q.name) + " " +
                                         type_name(q.type) + " timed out");
}

}  // namespace

UnboundResolver::UnboundResolver(Context ctx, std::chrono::milliseconds timeout)
    : timeout_(timeout), ctx_(std::move(ctx)) {}

Result<std::unique_ptr<UnboundResolver>> UnboundResolver::create(const UnboundOptions& options) {
  Context ctx(ub_ctx_create());
  if (!ctx) return fail(temporary_error(Stage::internal, "ub_ctx_create failed"));

  // Deliberately no ub_ctx_resolvconf / ub_ctx_hosts: the system resolver is never asked.
  auto anchors = read_config_file(options.trust_anchor_file, "DNSSEC trust anchor file");
  if (!anchors) return fail(std::move(anchors).error());
  if (!has_anchor_record(*anchors)) {
    return fail(config_error("DNSSEC trust anchor file " + options.trust_anchor_file +
                             " holds no DS or DNSKEY record"));
  }
  if (int err = ub_ctx_add_ta_file(ctx.get(), options.trust_anchor_file.c_str()); err != 0) {
    return fail(config_error("cannot use trust anchor file " + options.trust_anchor_file + ": " +
                             ub_strerror(err)));
  }

  bool allow_loopback = false;
  if (options.forwarder) {
    auto server = parse_server_address(*options.forwarder);
    if (!server) return fail(std::move(server).error());
    if (int err = ub_ctx_set_fwd(ctx.get(), server->to_string().c_str()); err != 0) {
      return fail(
          config_error("cannot forward to " + *options.forwarder + ": " + ub_strerror(err)));
    }
    allow_loopback = server->loopback();
  } else if (options.root_hints_file) {
    auto hints = read_config_file(*options.root_hints_file, "root hints file");
    if (!hints) return fail(std::move(hints).error());
    if (auto r = set_option(ctx.get(), "root-hints:", *options.root_hints_file); !r) {
      return fail(std::move(r).error());
    }
    allow_loopback = true;  // test roots live on 127.0.0.0/8
  }
  // libunbound's default is to query loopback servers; outside the test setups a delegation
  // to 127.0.0.1 is an attack or a mistake, so use the daemon's default there.
  if (auto r = set_option(ctx.get(), "do-not-query-localhost:", allow_loopback ? "no" : "yes");
      !r) {
    return fail(std::move(r).error());
  }
  // Validator before iterator (the default, stated so that nobody loses it), and level 2 so
  // that bogus results carry why_bogus (squelched from the log by libunbound's defaults).
  if (auto r = set_option(ctx.get(), "module-config:", "validator iterator"); !r) {
    return fail(std::move(r).error());
  }
  if (auto r = set_option(ctx.get(), "val-log-level:", "2"); !r) return fail(std::move(r).error());
  // RFC 8145 key-tag signalling queries cost a query per run and tell the world nothing useful.
  if (auto r = set_option(ctx.get(), "trust-anchor-signaling:", "no"); !r)
    return fail(std::move(r).error());
  // A thread instead of a forked process: cheaper and nothing to reap.
  if (int err = ub_ctx_async(ctx.get(), 1); err != 0) {
    return fail(
        temporary_error(Stage::internal, std::string("ub_ctx_async failed: ") + ub_strerror(err)));
  }
  return std::unique_ptr<UnboundResolver>(new UnboundResolver(std::move(ctx), options.timeout));
}

void UnboundResolver::on_result(void* data, int err, ub_result* result) {
  const auto* ticket = static_cast<const Ticket*>(data);
  ticket->self->deliver(ticket->token, err, result);
}

void UnboundResolver::deliver(std::uint64_t token, int err, ub_result* raw) {
  ResultHandle result(raw);
  tickets_.erase(token);
  const auto slot = slots_.find(token);
  if (slot == slots_.end()) return;  // a query cancelled in an earlier batch
  const std::size_t index = slot->second;
  slots_.erase(slot);
  const Question& q = batch_[index];
  if (err != 0 || !result) {
    results_[index] = fail(lookup_error(q, err != 0 ? ub_strerror(err) : "no result"));
  } else {
    results_[index] = to_answer(q, *result);
  }
}

// The validator walks the chain of trust one zone at a time (DNSKEY ., DS example., DNSKEY
// example., ...), each a round trip after the previous one. Asking for every candidate zone's
// DNSKEY and DS alongside the batch fills the cache in parallel, so validation finds them there:
// a cold-cache delivery then needs about 3 sequential round trips instead of 2 per zone level.
// Candidates are the ancestors of each name (skipping "_"-labels such as _25._tcp), plus the
// name itself for MX and TXT questions, which usually ask at a zone apex. Answers are only cached.
void UnboundResolver::prefetch_chain_of_trust(std::span<const Question> questions) {
  std::vector<std::string> zones;
  for (const Question& q : questions) {
    std::string name = normalize_name(q.name);
    if (name.empty() || !encode_name(name)) continue;
    bool apex = q.type == rrtype::MX || q.type == rrtype::TXT;
    // Walk up: the name itself when it is a likely apex, then each parent up to the root.
    std::string_view n = name;
    bool first = true;
    for (;;) {
      bool underscore = n.starts_with('_');
      if (!underscore && (!first || apex)) zones.emplace_back(n);
      first = false;
      auto dot = n.find('.');
      if (dot == std::string_view::npos) break;
      n.remove_prefix(dot + 1);
    }
    zones.emplace_back("");  // the root: its DNSKEY is checked against the trust anchor
  }
  for (const auto& zone : zones) {
    if (!prefetched_.insert(zone).second) continue;
    const std::string owner = zone.empty() ? "." : zone;
    ub_resolve_async(ctx_.get(), owner.c_str(), kTypeDnskey, kClassIn, nullptr,
                     &UnboundResolver::on_prefetch, nullptr);
    if (!zone.empty())  // the root has no DS
      ub_resolve_async(ctx_.get(), owner.c_str(), kTypeDs, kClassIn, nullptr,
                       &UnboundResolver::on_prefetch, nullptr);
  }
}

void UnboundResolver::on_prefetch(void*, int, ub_result* result) {
  if (result != nullptr) ub_resolve_free(result);
}

std::vector<Result<Answer>> UnboundResolver::resolve(std::span<const Question> questions) {
  const Deadline deadline = Deadline::after(timeout_);
  batch_.assign(questions.begin(), questions.end());
  results_.assign(questions.size(), std::nullopt);
  slots_.clear();
  std::vector<int> async_ids(questions.size(), 0);
  std::vector<std::uint64_t> tokens(questions.size(), 0);

  prefetch_chain_of_trust(questions);
  // Every question goes out before waiting for any answer: the batch takes as long as its
  // slowest lookup, not the sum of them.
  for (std::size_t i = 0; i < batch_.size(); ++i) {
    const Question& q = batch_[i];
    const std::string name = normalize_name(q.name);
    if (auto wire = encode_name(name); !wire || name.empty()) {
      results_[i] = fail(lookup_error(q, "invalid domain name"));
      continue;
    }
    const std::uint64_t token = next_token_++;
    Ticket& ticket = tickets_[token];
    ticket = Ticket{this, token};
    slots_[token] = i;
    tokens[i] = token;
    if (int err = ub_resolve_async(ctx_.get(), name.c_str(), q.type, kClassIn, &ticket,
                                   &UnboundResolver::on_result, &async_ids[i]);
        err != 0) {
      tickets_.erase(token);
      slots_.erase(token);
      results_[i] = fail(lookup_error(q, ub_strerror(err)));
    }
  }

  std::string broken;  // why waiting stopped early, if it did
  while (!slots_.empty()) {
    const int wait_ms = deadline.poll_timeout_ms();
    if (wait_ms == 0) break;
    pollfd pfd{ub_fd(ctx_.get()), POLLIN, 0};
    const int n = ::poll(&pfd, 1, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      broken = std::string("poll: ") + std::strerror(errno);
      break;
    }
    if (n > 0) {
      if (int err = ub_process(ctx_.get()); err != 0) {
        broken = std::string("ub_process: ") + ub_strerror(err);
        break;
      }
    }
  }

  std::vector<Result<Answer>> out;
  out.reserve(batch_.size());
  for (std::size_t i = 0; i < batch_.size(); ++i) {
    if (!results_[i]) {
      // Timed out (or the resolver broke): cancel so no thread keeps working for nothing.
      // If the cancel loses a race with delivery, the ticket stays until the late callback.
      if (ub_cancel(ctx_.get(), async_ids[i]) == 0) tickets_.erase(tokens[i]);
      results_[i] =
          fail(broken.empty() ? timeout_error(batch_[i]) : lookup_error(batch_[i], broken));
    }
    out.push_back(std::move(*results_[i]));
  }
  slots_.clear();
  batch_.clear();
  results_.clear();
  return out;
}

}  // namespace mx::dns
