// Parses the EHLO reply into typed capabilities; lenient: bad lines or parameters are skipped.
#include "smtp/capabilities.hpp"

#include <algorithm>
#include <limits>

namespace mx::smtp {

namespace {

char upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}
bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), upper);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return upper(x) == upper(y); });
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

// RFC 5321 §4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
bool valid_keyword(std::string_view kw) {
  if (kw.empty() || !is_alnum(kw[0])) return false;
  return std::all_of(kw.begin(), kw.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

// RFC 4422 §3.1: SASL mechanism names are 1-20 of upper-case letters, digits, '-' and '_'.
bool valid_mechanism(std::string_view m) {
  if (m.empty() || m.size() > 20) return false;
  return std::all_of(m.begin(), m.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '_'; });
}

std::optional<std::uint64_t> parse_number(std::string_view s, std::uint64_t max) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (max - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

void add_mechanisms(Capabilities& caps, const std::vector<std::string_view>& words,
                    std::size_t from) {
  for (std::size_t i = from; i < words.size(); ++i) {
    std::string mech = to_upper(words[i]);
    if (!valid_mechanism(mech)) continue;
    if (std::find(caps.auth.begin(), caps.auth.end(), mech) == caps.auth.end()) {
      caps.auth.push_back(std::move(mech));
    }
  }
}

// RFC 9422: LIMITS name=value pairs; unknown names and bad values are ignored.
void parse_limits(Limits& limits, const std::vector<std::string_view>& words) {
  for (std::size_t i = 1; i < words.size(); ++i) {
    auto eq = words[i].find('=');
    if (eq == std::string_view::npos) continue;
    std::string name = to_upper(words[i].substr(0, eq));
    auto value = parse_number(words[i].substr(eq + 1), std::numeric_limits<std::uint32_t>::max());
    if (!value || *value == 0) continue;
    auto v = static_cast<std::uint32_t>(*value);
    if (name == "RCPTMAX")
      limits.rcptmax = v;
    else if (name == "MAILMAX")
      limits.mailmax = v;
    else if (name == "RCPTDOMAINMAX")
      limits.rcptdomainmax = v;
  }
}

}  // namespace

const Extension* Capabilities::find(std::string_view keyword) const {
  for (const auto& ext : extensions) {
    if (iequals(ext.keyword, keyword)) return &ext;
  }
  return nullptr;
}

bool Capabilities::has(std::string_view keyword) const {
  return find(keyword) != nullptr;
}

Capabilities parse_capabilities(const Reply& reply) {
  Capabilities caps;
  if (reply.lines.empty()) return caps;
  caps.greeting = reply.lines.front();
  for (std::size_t li = 1; li < reply.lines.size(); ++li) {
    const std::string& line = reply.lines[li];
    caps.raw.push_back(line);
    auto words = split_words(line);
    if (words.empty()) continue;
    std::string kw = to_upper(words[0]);
    // Pre-standard "AUTH=LOGIN PLAIN" form still sent by some servers.
    if (kw.rfind("AUTH=", 0) == 0) {
      std::vector<std::string_view> mechs{std::string_view(kw).substr(5)};
      mechs.insert(mechs.end(), words.begin() + 1, words.end());
      add_mechanisms(caps, mechs, 0);
      continue;
    }
    if (!valid_keyword(kw)) continue;
    Extension ext{kw, {words.begin() + 1, words.end()}};

    if (kw == "STARTTLS")
      caps.starttls = true;
    else if (kw == "PIPELINING")
      caps.pipelining = true;
    else if (kw == "8BITMIME")
      caps.eightbitmime = true;
    else if (kw == "SMTPUTF8")
      caps.smtputf8 = true;
    else if (kw == "ENHANCEDSTATUSCODES")
      caps.enhancedstatuscodes = true;
    else if (kw == "CHUNKING")
      caps.chunking = true;
    else if (kw == "DSN")
      caps.dsn = true;
    else if (kw == "REQUIRETLS")
      caps.requiretls = true;
    else if (kw == "AUTH")
      add_mechanisms(caps, words, 1);
    else if (kw == "LIMITS")
      parse_limits(caps.limits, words);
    else if (kw == "SIZE") {
      // RFC 1870 §4: "SIZE" alone or with a maximum; 0 or a malformed value means no limit known.
      std::optional<std::uint64_t> max;
      if (words.size() > 1) max = parse_number(words[1], std::numeric_limits<std::uint64_t>::max());
      caps.size = max.value_or(0);
    }
    caps.extensions.push_back(std::move(ext));
  }
  return caps;
}

}  // namespace mx::smtp
