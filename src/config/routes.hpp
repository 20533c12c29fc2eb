// Route selection (pure): which configured transport carries mail for a recipient domain,
// given the sender's domain and the delivery attempt number; mox-style first match wins.
#pragma once

#include <string_view>

#include "config/config.hpp"

namespace mx::config {

/// Whether `domain` matches a route entry: "example.com" matches itself only, ".example.com"
/// any subdomain of it but not example.com itself. Case-insensitive; one trailing dot of
/// `domain` is ignored.
bool domain_matches(std::string_view pattern, std::string_view domain);

/// The transport of the first route whose criteria all match (an empty list matches any
/// domain; min_attempt <= attempt), or nullptr when none does: plain direct delivery.
/// An empty sender_domain (the null reverse-path) matches only routes without sender_domains.
/// A route naming no configured transport (only possible in a hand-built Config) is skipped.
const Transport* select_transport(const Config& config, std::string_view recipient_domain,
                                  std::string_view sender_domain, int attempt);

}  // namespace mx::config
