// Route selection: ordered routes, all criteria of a route must hold, first match wins.
#include "config/routes.hpp"

#include <algorithm>

#include "core/ascii.hpp"

namespace mx::config {
namespace {

bool any_matches(const std::vector<std::string>& patterns, std::string_view domain) {
  if (patterns.empty()) return true;
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return domain_matches(p, domain); });
}

}  // namespace

bool domain_matches(std::string_view pattern, std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || pattern.empty()) return false;
  if (pattern.front() != '.') return ascii_iequals(pattern, domain);
  // ".example.com": the domain must end in it and have at least one label before it.
  return domain.size() > pattern.size() &&
         ascii_iequals(domain.substr(domain.size() - pattern.size()), pattern);
}

const Transport* select_transport(const Config& config, std::string_view recipient_domain,
                                  std::string_view sender_domain, int attempt) {
  for (const Route& r : config.routes) {
    if (attempt < r.min_attempt) continue;
    if (!any_matches(r.recipient_domains, recipient_domain)) continue;
    if (!any_matches(r.sender_domains, sender_domain)) continue;
    // parse_config sets transport_index; a Config built by hand may only have the name.
    if (r.transport_index < config.transports.size() &&
        ascii_iequals(config.transports[r.transport_index].name, r.transport))
      return &config.transports[r.transport_index];
    if (const Transport* t = config.find_transport(r.transport)) return t;
  }
  return nullptr;
}

}  // namespace mx::config
