// MTA-STS discovery: RFC 8461 §3.3 and §5.1 decisions over a resolver, a fetcher and a cache.
#include "mtasts/mtasts.hpp"

#include <ctime>
#include <vector>

#include "dns/records.hpp"
#include "mtasts/names.hpp"
#include "mtasts/record.hpp"

namespace mx::mtasts {

namespace {

using Source = PolicyLookup::Source;

struct Cached {
  CacheEntry entry;
  Policy policy;
};

std::string describe_cached(const Cached& c) {
  return std::string("cached ") + mode_name(c.policy.mode) + " policy (id " + c.entry.id +
         ", expires " + format_time(c.entry.expires_at) + ")";
}

PolicyLookup use_cached(const Cached& c, std::string why) {
  PolicyLookup out;
  out.policy = c.policy;
  out.source = Source::cached;
  out.id = c.entry.id;
  out.expires_at = c.entry.expires_at;
  out.note = std::move(why) + ", using " + describe_cached(c);
  return out;
}

PolicyLookup no_policy(std::string why) {
  PolicyLookup out;
  out.note = std::move(why);
  return out;
}

void add_note(PolicyLookup& out, const std::string& extra) {
  if (extra.empty()) return;
  out.note += out.note.empty() ? extra : "; " + extra;
}

// The addresses of mta-sts.<domain> from our resolver, so that libcurl never resolves.
Result<std::vector<std::string>> policy_host_addresses(const std::string& host,
                                                       dns::Resolver& resolver) {
  const dns::Question questions[] = {{host, dns::rrtype::A}, {host, dns::rrtype::AAAA}};
  auto answers = resolver.resolve(questions);
  std::vector<std::string> addresses;
  std::string problems;
  for (auto& answer : answers) {
    if (!answer) {
      problems += (problems.empty() ? "" : "; ") + answer.error().detail;
      continue;
    }
    if (answer->security == dns::Security::bogus) {
      problems += (problems.empty() ? "" : "; ") + dns::type_name(answer->qtype) +
                  " answer is bogus: " + answer->why_bogus;
      continue;
    }
    if (answer->rcode != dns::rcode::noerror) {
      problems += (problems.empty() ? "" : "; ") + dns::type_name(answer->qtype) +
                  " lookup: " + dns::rcode_name(answer->rcode);
      continue;
    }
    for (const auto& rdata : answer->rdata) {
      auto ip = answer->qtype == dns::rrtype::A ? dns::parse_a(rdata) : dns::parse_aaaa(rdata);
      if (ip) addresses.push_back(std::move(*ip));
    }
  }
  if (addresses.empty()) {
    Error e =
        temporary_error(Stage::dns, "MTA-STS policy host " + host + " has no address" +
                                        (problems.empty() ? std::string() : " (" + problems + ")"));
    e.host = host;
    return fail(std::move(e));
  }
  return addresses;
}

}  // namespace

const char* tlsrpt_result_type(PolicyFailure failure) {
  switch (failure) {
    case PolicyFailure::none:
      return "";
    case PolicyFailure::fetch_error:
      return "sts-policy-fetch-error";
    case PolicyFailure::policy_invalid:
      return "sts-policy-invalid";
    case PolicyFailure::webpki_invalid:
      return "sts-webpki-invalid";
  }
  return "";
}

std::string format_time(WallTime t) {
  const std::time_t tt = static_cast<std::time_t>(t.time_since_epoch().count());
  std::tm tm{};
  char buf[32] = "?";
  if (gmtime_r(&tt, &tm)) std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<PolicyLookup> discover(std::string_view domain_in, dns::Resolver& resolver, Fetcher& fetcher,
                              const Cache* cache, WallTime now) {
  const std::string domain = dns::normalize_name(domain_in);
  if (!valid_hostname(domain)) {
    return fail(permanent_error(
        Stage::input, "MTA-STS: \"" + std::string(domain_in) + "\" is not a valid domain name"));
  }

  // The cache first: whatever DNS and HTTPS say below, an unexpired entry keeps applying
  // unless a newer policy replaces it (RFC 8461 §5.1).
  std::optional<Cached> cached;
  std::string cache_note;
  if (cache) {
    if (auto entry = cache->load(domain, &cache_note)) {
      if (auto policy = parse_policy(entry->policy_text)) {
        if (now < entry->expires_at) {
          cached = Cached{std::move(*entry), std::move(*policy)};
        } else {
          cache_note =
              "cached policy (id " + entry->id + ") expired " + format_time(entry->expires_at);
        }
      } else {
        cache_note = "ignoring cached policy that no longer parses: " + policy.error().detail;
      }
    }
  }
  auto finish = [&](PolicyLookup out) {
    add_note(out, cache_note);
    return out;
  };

  // RFC 8461 §3.1: the TXT record. MTA-STS does not need DNSSEC, so insecure is fine; a
  // bogus answer is a lookup failure like SERVFAIL.
  const std::string txt_name = "_mta-sts." + domain;
  const dns::Question question{txt_name, dns::rrtype::TXT};
  auto answers = resolver.resolve(std::span(&question, 1));
  std::optional<std::string> lookup_failure;
  std::optional<StsRecord> record;
  std::string no_record_reason;
  if (answers.size() != 1 || !answers.front()) {
    lookup_failure = answers.size() == 1 ? answers.front().error().detail : "no answer";
  } else if (const auto& a = *answers.front(); a.security == dns::Security::bogus) {
    lookup_failure = "bogus answer: " + a.why_bogus;
  } else if (a.rcode == dns::rcode::nxdomain || a.nodata()) {
    no_record_reason = "no TXT record at " + txt_name;
  } else if (a.rcode != dns::rcode::noerror) {
    lookup_failure = dns::rcode_name(a.rcode);
  } else if (auto r = select_record(a.rdata); !r) {
    no_record_reason = r.error().detail;
  } else {
    record = std::move(*r);
  }

  if (lookup_failure) {
    const std::string why = "TXT lookup for " + txt_name + " failed (" + *lookup_failure + ")";
    if (cached) return finish(use_cached(*cached, why));
    return finish(no_policy(why + "; no cached policy, so no MTA-STS"));
  }
  if (!record) {
    // RFC 8461 §10.2: removing the record does not withdraw a cached policy; only a new
    // policy (mode none) or expiry does.
    if (cached) return finish(use_cached(*cached, no_record_reason));
    return finish(no_policy(no_record_reason + "; no MTA-STS policy"));
  }
  if (cached && cached->entry.id == record->id) {
    return finish(use_cached(*cached, "TXT id " + record->id + " unchanged"));
  }

  // A new or changed id, or nothing usable cached: fetch (RFC 8461 §3.3).
  const std::string host = "mta-sts." + domain;
  const std::string fetch_why =
      cached ? "TXT id changed from " + cached->entry.id + " to " + record->id
             : "TXT id " + record->id;
  PolicyFailure failure = PolicyFailure::fetch_error;
  Result<Policy> fetched = [&]() -> Result<Policy> {
    auto addresses = policy_host_addresses(host, resolver);
    if (!addresses) return fail(std::move(addresses).error());
    auto body = fetcher.fetch(domain, *addresses);
    if (!body) {
      if (body.error().stage == Stage::tls) failure = PolicyFailure::webpki_invalid;
      return fail(std::move(body).error());
    }
    auto policy = parse_policy(*body);
    if (!policy) {
      failure = PolicyFailure::policy_invalid;
      return fail(std::move(policy).error());
    }
    if (cache) {
      CacheEntry entry{record->id, now, now + std::chrono::seconds(policy->max_age), *body};
      if (auto stored = cache->store(domain, entry); !stored) {
        cache_note += (cache_note.empty() ? "" : "; ") + stored.error().detail;
      }
    }
    return policy;
  }();

  if (!fetched) {
    const std::string why = fetch_why + ", but " + fetched.error().detail;
    PolicyLookup out =
        cached ? use_cached(*cached, why) : no_policy(why + "; no cached policy, so no MTA-STS");
    out.fetch_error = std::move(fetched).error();
    out.failure = failure;
    return finish(std::move(out));
  }
  PolicyLookup out;
  out.source = Source::fresh;
  out.id = record->id;
  out.expires_at = now + std::chrono::seconds(fetched->max_age);
  out.note = fetch_why + ": fetched " + std::string(mode_name(fetched->mode)) + " policy from " +
             policy_url(domain) + " (max_age " + std::to_string(fetched->max_age) + ")";
  out.policy = std::move(*fetched);
  return finish(std::move(out));
}

}  // namespace mx::mtasts
