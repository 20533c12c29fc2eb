// Parsing of MTA-STS policy files (RFC 8461 §3.2) and MX pattern matching (§4.1).
#include "mtasts/policy.hpp"

#include <optional>

#include "core/ascii.hpp"
#include "mtasts/names.hpp"

namespace mx::mtasts {

namespace {

Error bad_policy(std::string detail) {
  Error e = temporary_error(Stage::tls, "MTA-STS policy: " + std::move(detail));
  e.reason = Reason::protocol;
  return e;
}

bool valid_key(std::string_view k) {
  return valid_extension_name(k);
}

// sts-policy-ext-value: VCHAR or UTF-8 octets, inner spaces only (the trailing ones were
// already taken as *WSP and the leading ones by the delimiter).
bool valid_value(std::string_view v) {
  if (v.empty()) return false;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

// sts-policy-max-age-value = 1*10(DIGIT), then the §3.2 upper bound.
std::optional<std::uint32_t> parse_max_age(std::string_view v) {
  if (v.empty() || v.size() > 10) return std::nullopt;
  std::uint64_t n = 0;  // ten digits fit in 64 bits
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (n > kMaxMaxAge) return std::nullopt;
  return static_cast<std::uint32_t>(n);
}

// sts-policy-mx-value = ["*."] Domain
bool valid_mx_pattern(std::string_view v) {
  if (v.starts_with("*.")) v.remove_prefix(2);
  return valid_hostname(v);
}

}  // namespace

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::enforce:
      return "enforce";
    case Mode::testing:
      return "testing";
    case Mode::none:
      return "none";
  }
  return "?";
}

Result<Policy> parse_policy(std::string_view text) {
  if (text.empty()) return fail(bad_policy("empty"));
  Policy policy;
  bool have_version = false, have_mode = false, have_max_age = false;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    // sts-policy-term = LF / CRLF; the last line may lack one.
    const std::size_t lf = text.find('\n');
    std::string_view line = text.substr(0, lf);
    text.remove_prefix(lf == std::string_view::npos ? text.size() : lf + 1);
    if (lf != std::string_view::npos && !line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string where = "line " + std::to_string(line_no) + ": ";
    while (!line.empty() && is_wsp(line.back())) line.remove_suffix(1);
    if (line.empty()) return fail(bad_policy(where + "empty line"));
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(bad_policy(where + "no ':'"));
    const std::string_view key = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    // sts-policy-field-delim = ":" *WSP
    while (!value.empty() && is_wsp(value.front())) value.remove_prefix(1);
    if (!valid_key(key)) return fail(bad_policy(where + "invalid key"));
    if (!valid_value(value)) {
      return fail(bad_policy(where + "missing or invalid value for \"" + std::string(key) + "\""));
    }
    // Field names and the version and mode values are case-sensitive (%s in the ABNF).
    if (key == "version") {
      if (value != "STSv1") {
        return fail(bad_policy(where + "unsupported version \"" + std::string(value) + "\""));
      }
      have_version = true;
    } else if (key == "mode") {
      Mode m;
      if (value == "enforce") {
        m = Mode::enforce;
      } else if (value == "testing") {
        m = Mode::testing;
      } else if (value == "none") {
        m = Mode::none;
      } else {
        return fail(bad_policy(where + "invalid mode \"" + std::string(value) + "\""));
      }
      if (!have_mode) policy.mode = m;
      have_mode = true;
    } else if (key == "max_age") {
      const auto age = parse_max_age(value);
      if (!age) {
        return fail(bad_policy(where + "max_age \"" + std::string(value) +
                               "\" is not an integer from 0 to 31557600"));
      }
      if (!have_max_age) policy.max_age = *age;
      have_max_age = true;
    } else if (key == "mx") {
      if (!valid_mx_pattern(value)) {
        return fail(bad_policy(where + "invalid mx pattern \"" + std::string(value) + "\""));
      }
      policy.mx.push_back(ascii_lower(value));
    }
    // Any other key is an extension and is ignored (RFC 8461 §3.2).
  }
  if (!have_version) return fail(bad_policy("no version field"));
  if (!have_mode) return fail(bad_policy("no mode field"));
  if (!have_max_age) return fail(bad_policy("no max_age field"));
  if (policy.mx.empty() && policy.mode != Mode::none) {
    return fail(bad_policy("no mx field (required unless mode is none)"));
  }
  return policy;
}

bool Policy::matches(std::string_view mx_host) const {
  if (!mx_host.empty() && mx_host.back() == '.') mx_host.remove_suffix(1);
  const std::string host = ascii_lower(mx_host);
  if (host.empty()) return false;
  for (const auto& pattern : mx) {
    if (pattern.starts_with("*.")) {
      // The wildcard stands for exactly one whole left-most label.
      const std::string_view suffix = std::string_view(pattern).substr(1);  // ".example.com"
      if (host.size() > suffix.size() && host.ends_with(suffix)) {
        const std::string_view label =
            std::string_view(host).substr(0, host.size() - suffix.size());
        if (label.find('.') == std::string_view::npos) return true;
      }
    } else if (host == pattern) {
      return true;
    }
  }
  return false;
}

}  // namespace mx::mtasts
