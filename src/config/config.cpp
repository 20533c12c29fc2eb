// TOML configuration reader: strict (unknown keys, wrong types and bad values are errors with
// file:line), plus the default search path and the submission password loader.
#include "config/config.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <span>

#include "core/ascii.hpp"
#include "core/fd.hpp"

namespace mx::config {
namespace {

constexpr std::size_t kMaxConfigSize = 1 << 20;
constexpr std::size_t kMaxPasswordSize = 4096;

// The names --smtp-timeout accepts (delivery::Timeouts::set); config may not link delivery.
constexpr std::string_view kTimeoutNames[] = {"connect", "tls",        "greeting", "ehlo",
                                              "helo",    "starttls",   "mail",     "rcpt",
                                              "data",    "data_block", "data_end", "quit"};
constexpr std::string_view kTlsPolicies[] = {"dane",    "dane-only", "verify",
                                             "encrypt", "may",       "none"};

/// Text from the file shown in a message: control characters become '?', long text is cut.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 120)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > 120) out += "...";
  return out;
}

std::string join(std::span<const std::string_view> names) {
  std::string out;
  for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

/// RFC 1035 §2.3.1 preferred syntax (LDH labels of 1-63 octets, 253 in all); A-labels only,
/// so an IDN must be written in its xn-- form.
bool is_domain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = d.find('.', start);
    std::string_view label = d.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}
bool is_ipv6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

/// "IP" or "IP@port", as --resolver and libunbound's ub_ctx_set_fwd write it.
bool is_resolver_address(std::string_view s) {
  auto at = s.find('@');
  std::string ip(s.substr(0, at));
  if (at != std::string_view::npos && !parse_port(s.substr(at + 1))) return false;
  return is_ipv4(ip) || is_ipv6(ip);
}

/// The HELO name: a domain or an RFC 5321 §4.1.3 address literal.
bool is_helo_name(std::string_view s) {
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') {
    std::string inner(s.substr(1, s.size() - 2));
    if (inner.size() > 5 && ascii_iequals(inner.substr(0, 5), "IPv6:"))
      return is_ipv6(inner.substr(5));
    return is_ipv4(inner);
  }
  return is_domain(s);
}

/// RFC 4422 §3.1: 1-20 characters of upper-case letters, digits, '-' and '_'.
bool is_sasl_mechanism(std::string_view s) {
  if (s.empty() || s.size() > 20) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

bool is_env_name(std::string_view s) {
  if (s.empty() || (s.front() >= '0' && s.front() <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool is_transport_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

const char* node_kind(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date/time";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

int line_of(const toml::source_region& r) {
  return static_cast<int>(std::min<toml::source_index>(r.begin.line, 1u << 30));
}

/// Walks the document, keeping the first error: later checks run but cannot overwrite it, so
/// one bad value does not also report the "missing key" that follows from it.
class Reader {
 public:
  Reader(std::string source, std::string base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  bool failed() const { return first_.has_value(); }
  Error take_error() { return std::move(*first_); }

  void error(int line, const std::string& msg) {
    if (first_) return;
    std::string where = "config " + source_;
    if (line > 0) where += ":" + std::to_string(line);
    first_ = permanent_error(Stage::config, where + ": " + msg);
  }

  /// Every key of `t` must be one of `allowed`; keys are visited in file order.
  void only_keys(const toml::table& t, const std::string& where,
                 std::span<const std::string_view> allowed) {
    for (const auto& [key, node] : in_file_order(t)) {
      if (std::find(allowed.begin(), allowed.end(), key->str()) != allowed.end()) continue;
      error(line_of(key->source()), "unknown key '" + printable(key->str()) + "' in " + where +
                                        " (valid keys: " + join(allowed) + ")");
    }
  }

  static std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(
      const toml::table& t) {
    std::vector<std::pair<const toml::key*, const toml::node*>> out;
    for (const auto& [k, v] : t) out.emplace_back(&k, &v);
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return a.first->source().begin < b.first->source().begin;
    });
    return out;
  }

  void wrong_type(const toml::node& n, const std::string& what, const char* expected) {
    error(line_of(n.source()), what + " must be " + expected + ", not " + node_kind(n));
  }

  std::optional<std::string> string(const toml::table& t, std::string_view key,
                                    const std::string& where) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    const auto* s = n->as_string();
    if (!s) {
      wrong_type(*n, where + "." + std::string(key), "a string");
      return std::nullopt;
    }
    if (s->get().empty() || s->get().find('\0') != std::string::npos) {
      error(line_of(n->source()), where + "." + std::string(key) + " must not be empty");
      return std::nullopt;
    }
    return s->get();
  }

  std::optional<bool> boolean(const toml::table& t, std::string_view key,
                              const std::string& where) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (const auto* b = n->as_boolean()) return b->get();
    wrong_type(*n, where + "." + std::string(key), "true or false");
    return std::nullopt;
  }

  std::optional<std::int64_t> integer(const toml::table& t, std::string_view key,
                                      const std::string& where, std::int64_t min,
                                      std::int64_t max) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    const auto* i = n->as_integer();
    if (!i) {
      wrong_type(*n, where + "." + std::string(key), "an integer");
      return std::nullopt;
    }
    if (i->get() < min || i->get() > max) {
      error(line_of(n->source()), where + "." + std::string(key) + " must be between " +
                                      std::to_string(min) + " and " + std::to_string(max) +
                                      ", not " + std::to_string(i->get()));
      return std::nullopt;
    }
    return i->get();
  }

  /// Seconds: an integer or a float in (0, max].
  std::optional<double> seconds(const toml::node& n, const std::string& what, double max) {
    double v = 0;
    if (const auto* i = n.as_integer())
      v = static_cast<double>(i->get());
    else if (const auto* f = n.as_floating_point())
      v = f->get();
    else {
      wrong_type(n, what, "a number of seconds");
      return std::nullopt;
    }
    if (!(v > 0) || !(v <= max)) {
      error(line_of(n.source()), what + " must be more than 0 and at most " +
                                     std::to_string(static_cast<long>(max)) + " seconds");
      return std::nullopt;
    }
    return v;
  }

  struct Item {
    std::string value;
    int line;
  };
  /// An array of non-empty strings.
  std::optional<std::vector<Item>> strings(const toml::table& t, std::string_view key,
                                           const std::string& where) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    const auto* a = n->as_array();
    if (!a) {
      wrong_type(*n, where + "." + std::string(key), "an array of strings");
      return std::nullopt;
    }
    std::vector<Item> out;
    for (const toml::node& e : *a) {
      const auto* s = e.as_string();
      if (!s) {
        wrong_type(e, "each element of " + where + "." + std::string(key), "a string");
        return std::nullopt;
      }
      if (s->get().empty()) {
        error(line_of(e.source()), where + "." + std::string(key) + " has an empty string");
        return std::nullopt;
      }
      out.push_back({s->get(), line_of(e.source())});
    }
    return out;
  }

  /// A file or directory name; relative names are taken from the config file's directory.
  std::optional<std::string> path(const toml::table& t, std::string_view key,
                                  const std::string& where) {
    auto p = string(t, key, where);
    if (!p) return std::nullopt;
    if (p->front() != '/' && !base_dir_.empty()) return base_dir_ + "/" + *p;
    return p;
  }

  int line(const toml::table& t, std::string_view key) const {
    const toml::node* n = t.get(key);
    return n ? line_of(n->source()) : line_of(t.source());
  }

 private:
  std::string source_;
  std::string base_dir_;
  std::optional<Error> first_;
};

/// proxy / proxy_command: at most one; the URL is checked for its scheme here and fully by
/// net::parse_proxy_url when it is used.
void read_proxy(Reader& r, const toml::table& t, const std::string& where,
                std::optional<std::string>* proxy, std::optional<std::string>* command) {
  *proxy = r.string(t, "proxy", where);
  *command = r.string(t, "proxy_command", where);
  if (const auto& p = *proxy) {
    constexpr std::string_view kScheme = "socks5://";
    if (p->size() <= kScheme.size() || !ascii_iequals(p->substr(0, kScheme.size()), kScheme) ||
        has_control(*p))
      r.error(r.line(t, "proxy"), where + ".proxy must be a socks5://[user:pass@]IP[:port] URL");
  }
  if (*command && has_control(**command))
    r.error(r.line(t, "proxy_command"), where + ".proxy_command must be one line");
  if (*proxy && *command)
    r.error(r.line(t, "proxy_command"), where + ": give either proxy or proxy_command, not both");
}

std::optional<std::string> read_host(Reader& r, const toml::table& t, const std::string& where) {
  auto host = r.string(t, "host", where);
  if (!host) {
    if (!t.contains("host")) r.error(line_of(t.source()), where + ": 'host' is required");
    return std::nullopt;
  }
  std::string h = *host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (is_ipv4(h) || is_ipv6(h)) return h;
  if (is_domain(h)) return ascii_lower(h);
  r.error(r.line(t, "host"),
          where + ".host '" + printable(*host) + "' is neither a domain name nor an IP address");
  return std::nullopt;
}

std::optional<TlsMode> read_tls(Reader& r, const toml::table& t, const std::string& where) {
  auto tls = r.string(t, "tls", where);
  if (!tls) return std::nullopt;
  if (*tls == "starttls") return TlsMode::starttls;
  if (*tls == "implicit") return TlsMode::implicit;
  if (*tls == "none") return TlsMode::none;
  r.error(r.line(t, "tls"),
          where + ".tls '" + printable(*tls) + "' is not one of starttls, implicit, none");
  return std::nullopt;
}

std::optional<std::uint16_t> read_port(Reader& r, const toml::table& t, const std::string& where) {
  auto p = r.integer(t, "port", where, 1, 65535);
  if (!p) return std::nullopt;
  return static_cast<std::uint16_t>(*p);
}

void read_defaults(Reader& r, const toml::node& node, Defaults* d) {
  const std::string where = "defaults";
  const auto* t = node.as_table();
  if (!t) return r.wrong_type(node, where, "a table");
  static constexpr std::string_view kKeys[] = {
      "helo",         "tls_policy",    "require_tls", "mta_sts",      "resolver",
      "trust_anchor", "root_hints",    "ca_file",     "ca_path",      "sts_cache",
      "proxy",        "proxy_command", "timeout",     "smtp_timeouts"};
  r.only_keys(*t, "[defaults]", kKeys);

  d->helo = r.string(*t, "helo", where);
  if (d->helo && !is_helo_name(*d->helo)) {
    r.error(r.line(*t, "helo"), "defaults.helo '" + printable(*d->helo) +
                                    "' is neither a domain name nor an address literal");
  }
  d->tls_policy = r.string(*t, "tls_policy", where);
  if (d->tls_policy && std::find(std::begin(kTlsPolicies), std::end(kTlsPolicies),
                                 *d->tls_policy) == std::end(kTlsPolicies)) {
    r.error(r.line(*t, "tls_policy"), "defaults.tls_policy '" + printable(*d->tls_policy) +
                                          "' is not one of " + join(kTlsPolicies));
  }
  d->require_tls = r.boolean(*t, "require_tls", where);
  d->mta_sts = r.boolean(*t, "mta_sts", where);
  d->resolver = r.string(*t, "resolver", where);
  if (d->resolver && !is_resolver_address(*d->resolver)) {
    r.error(r.line(*t, "resolver"), "defaults.resolver '" + printable(*d->resolver) +
                                        "' must be IP or IP@port (port 1-65535)");
  }
  d->trust_anchor = r.path(*t, "trust_anchor", where);
  d->root_hints = r.path(*t, "root_hints", where);
  d->ca_file = r.path(*t, "ca_file", where);
  d->ca_path = r.path(*t, "ca_path", where);
  d->sts_cache = r.path(*t, "sts_cache", where);
  read_proxy(r, *t, where, &d->proxy, &d->proxy_command);
  if (const toml::node* n = t->get("timeout"))
    d->timeout = r.seconds(*n, "defaults.timeout", 7 * 86400);  // as --timeout

  if (const toml::node* n = t->get("smtp_timeouts")) {
    const auto* st = n->as_table();
    if (!st) return r.wrong_type(*n, "defaults.smtp_timeouts", "a table");
    r.only_keys(*st, "[defaults.smtp_timeouts]", kTimeoutNames);
    for (const auto& [key, value] : Reader::in_file_order(*st)) {
      std::string name(key->str());
      auto s = r.seconds(*value, "defaults.smtp_timeouts." + printable(name), 86400);
      if (s) d->smtp_timeouts.push_back({name, *s});
    }
  }
}

void read_submission(Reader& r, const toml::table& t, const std::string& where,
                     SubmissionTransport* s) {
  s->tls = read_tls(r, t, where).value_or(TlsMode::starttls);
  if (s->tls == TlsMode::none) {
    r.error(r.line(t, "tls"),
            where +
                ".tls: submission needs TLS (starttls or implicit): the password must not "
                "travel in clear");
  }
  // RFC 8314 §3.3 (465, implicit TLS) and RFC 6409 §3.1 (587).
  s->port = read_port(r, t, where).value_or(s->tls == TlsMode::implicit ? 465 : 587);
  if (auto u = r.string(t, "username", where)) {
    if (has_control(*u)) r.error(r.line(t, "username"), where + ".username has control characters");
    s->username = *u;
  } else if (!t.contains("username")) {
    r.error(line_of(t.source()), where + ": 'username' is required for a submission transport");
  }
  s->password_file = r.path(t, "password_file", where);
  s->password_env = r.string(t, "password_env", where);
  if (s->password_env && !is_env_name(*s->password_env)) {
    r.error(r.line(t, "password_env"),
            where + ".password_env '" + printable(*s->password_env) +
                "' is not an environment variable name (letters, digits, '_')");
  }
  if (s->password_file && s->password_env) {
    r.error(r.line(t, "password_env"),
            where + ": give either password_file or password_env, not both");
  } else if (!t.contains("password_file") && !t.contains("password_env")) {
    r.error(line_of(t.source()),
            where + ": a submission transport needs password_file or password_env");
  }
  if (auto mechs = r.strings(t, "auth_mechanisms", where)) {
    if (mechs->empty())
      r.error(r.line(t, "auth_mechanisms"), where + ".auth_mechanisms must not be empty");
    for (const auto& m : *mechs) {
      std::string upper = m.value;
      for (char& c : upper) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
      if (!is_sasl_mechanism(upper)) {
        r.error(m.line, where + ".auth_mechanisms: '" + printable(m.value) +
                            "' is not a SASL mechanism name (RFC 4422 §3.1)");
      }
      s->auth_mechanisms.push_back(upper);
    }
  }
  s->client_cert = r.path(t, "client_cert", where);
  s->client_key = r.path(t, "client_key", where);
  // A key alone is allowed: a bare (e.g. Ed25519) key gets a self-signed certificate in memory.
  if (s->client_cert && !s->client_key) {
    r.error(r.line(t, "client_cert"), where + ": client_cert needs client_key (its private key)");
  }
  s->ca_file = r.path(t, "ca_file", where);
}

std::optional<Transport> read_transport(Reader& r, const toml::key& name, const toml::node& node) {
  std::string where = "transports." + printable(name.str());
  if (!is_transport_name(name.str())) {
    r.error(line_of(name.source()), "transport name '" + printable(name.str()) +
                                        "' must be 1-64 letters, digits, '-' or '_'");
    return std::nullopt;
  }
  const auto* t = node.as_table();
  if (!t) {
    r.wrong_type(node, where, "a table");
    return std::nullopt;
  }
  Transport out;
  out.name = std::string(name.str());
  out.line = line_of(t->source());
  // Passwords live in a file or the environment, never in a config that is often world-readable.
  if (const toml::node* p = t->get("password")) {
    r.error(line_of(p->source()),
            where +
                ": an inline 'password' is refused; put it in a file (mode 0600) named by "
                "password_file, or in an environment variable named by password_env");
    return std::nullopt;
  }
  auto type = r.string(*t, "type", where);
  if (!type) {
    if (!t->contains("type"))
      r.error(out.line, where + ": 'type' is required (direct, smtp, submission or socks)");
    return std::nullopt;
  }
  std::string full = "[" + where + "] (type " + printable(*type) + ")";
  if (*type == "direct") {
    static constexpr std::string_view kKeys[] = {"type", "proxy", "proxy_command"};
    r.only_keys(*t, full, kKeys);
    DirectTransport d;
    read_proxy(r, *t, where, &d.proxy, &d.proxy_command);
    out.settings = d;
  } else if (*type == "socks") {
    static constexpr std::string_view kKeys[] = {"type", "proxy", "proxy_command"};
    r.only_keys(*t, full, kKeys);
    SocksTransport s;
    read_proxy(r, *t, where, &s.proxy, &s.proxy_command);
    if (!t->contains("proxy") && !t->contains("proxy_command"))
      r.error(out.line, where + ": a socks transport needs proxy or proxy_command");
    out.settings = s;
  } else if (*type == "smtp") {
    static constexpr std::string_view kKeys[] = {"type", "host", "port", "tls", "ca_file"};
    r.only_keys(*t, full, kKeys);
    SmtpTransport s;
    s.host = read_host(r, *t, where).value_or("");
    s.port = read_port(r, *t, where).value_or(25);
    s.tls = read_tls(r, *t, where).value_or(TlsMode::starttls);
    s.ca_file = r.path(*t, "ca_file", where);
    out.settings = s;
  } else if (*type == "submission") {
    static constexpr std::string_view kKeys[] = {
        "type",        "host",          "port",         "tls",
        "username",    "password_file", "password_env", "auth_mechanisms",
        "client_cert", "client_key",    "ca_file"};
    r.only_keys(*t, full, kKeys);
    SubmissionTransport s;
    s.host = read_host(r, *t, where).value_or("");
    read_submission(r, *t, where, &s);
    out.settings = s;
  } else {
    r.error(r.line(*t, "type"), where + ".type '" + printable(*type) +
                                    "' is not one of direct, smtp, submission, socks");
    return std::nullopt;
  }
  return out;
}

/// A route's domain list: lower case, "example.com" or ".example.com" (any subdomain).
std::vector<std::string> read_domains(Reader& r, const toml::table& t, std::string_view key,
                                      const std::string& where) {
  std::vector<std::string> out;
  auto items = r.strings(t, key, where);
  if (!items) return out;
  for (const auto& item : *items) {
    std::string_view d = item.value;
    if (d.front() == '.') d.remove_prefix(1);
    if (!is_domain(d)) {
      r.error(item.line, where + "." + std::string(key) + ": '" + printable(item.value) +
                             "' is not a domain name (\"example.com\", or \".example.com\" for "
                             "its subdomains; IDNs in xn-- form)");
      continue;
    }
    out.push_back(ascii_lower(item.value));
  }
  return out;
}

void read_routes(Reader& r, const toml::node& node, Config* c) {
  const auto* a = node.as_array();
  if (!a) return r.wrong_type(node, "routes", "an array of tables ([[routes]])");
  int index = 0;
  for (const toml::node& e : *a) {
    ++index;
    std::string where = "routes #" + std::to_string(index);
    const auto* t = e.as_table();
    if (!t) {
      r.wrong_type(e, where, "a table");
      continue;
    }
    static constexpr std::string_view kKeys[] = {"recipient_domains", "sender_domains",
                                                 "min_attempt", "transport"};
    r.only_keys(*t, "[[routes]] #" + std::to_string(index), kKeys);
    Route route;
    route.line = line_of(t->source());
    route.recipient_domains = read_domains(r, *t, "recipient_domains", where);
    route.sender_domains = read_domains(r, *t, "sender_domains", where);
    route.min_attempt = static_cast<int>(
        r.integer(*t, "min_attempt", where, 1, std::numeric_limits<int>::max()).value_or(1));
    if (auto name = r.string(*t, "transport", where)) {
      const Transport* tr = c->find_transport(*name);
      if (!tr) {
        std::string known;
        for (const auto& x : c->transports) known += (known.empty() ? "" : ", ") + x.name;
        r.error(r.line(*t, "transport"),
                where + ": unknown transport '" + printable(*name) +
                    "' (defined: " + (known.empty() ? std::string("none") : known) + ")");
      } else {
        route.transport = tr->name;
        route.transport_index = static_cast<std::size_t>(tr - c->transports.data());
      }
    } else if (!t->contains("transport")) {
      r.error(route.line, where + ": 'transport' is required");
    }
    c->routes.push_back(std::move(route));
  }
}

std::string dir_of(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return "";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

Error file_error(const std::string& path, const std::string& what) {
  return permanent_error(Stage::config, "config " + path + ": " + what);
}

/// Opens without blocking on a FIFO and checks the type with fstat on the same descriptor.
Result<Fd> open_regular(const std::string& path, const std::string& what) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid())
    return fail(file_error(path, "cannot open " + what + ": " + std::strerror(errno)));
  return fd;
}

Result<std::string> read_all(const Fd& fd, const std::string& path, std::size_t max,
                             const std::string& what) {
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(file_error(path, "cannot read " + what + ": " + std::strerror(errno)));
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max)
      return fail(file_error(path, what + " is larger than " + std::to_string(max) + " bytes"));
  }
}

}  // namespace

std::string NamedTimeout::assignment() const {
  // Whole seconds print without a fraction; from_chars in Timeouts::set reads either form.
  if (seconds == std::floor(seconds))
    return name + "=" + std::to_string(static_cast<long long>(seconds));
  std::string s = std::to_string(seconds);
  return name + "=" + s;
}

const char* transport_type_name(TransportType type) {
  switch (type) {
    case TransportType::direct:
      return "direct";
    case TransportType::smtp:
      return "smtp";
    case TransportType::submission:
      return "submission";
    case TransportType::socks:
      return "socks";
  }
  return "?";
}

const char* tls_mode_name(TlsMode mode) {
  switch (mode) {
    case TlsMode::starttls:
      return "starttls";
    case TlsMode::implicit:
      return "implicit";
    case TlsMode::none:
      return "none";
  }
  return "?";
}

TransportType Transport::type() const {
  return static_cast<TransportType>(settings.index());  // variant order = enum order
}

const Transport* Config::find_transport(std::string_view name) const {
  for (const auto& t : transports)
    if (ascii_iequals(t.name, name)) return &t;
  return nullptr;
}

Result<Config> parse_config(std::string_view text, std::string_view source) {
  Reader r{std::string(source), dir_of(source)};
  toml::table doc;
  try {
    // toml++ (the Debian shared library) reports syntax errors by exception; it stops here.
    doc = toml::parse(text, std::string(source));
  } catch (const toml::parse_error& e) {
    r.error(line_of(e.source()), "TOML syntax: " + std::string(e.description()));
    return fail(r.take_error());
  }

  Config c;
  c.path = std::string(source);
  static constexpr std::string_view kTop[] = {"defaults", "transports", "routes"};
  r.only_keys(doc, "the top-level table", kTop);
  if (const toml::node* d = doc.get("defaults")) read_defaults(r, *d, &c.defaults);

  if (const toml::node* n = doc.get("transports")) {
    if (const auto* t = n->as_table()) {
      for (const auto& [key, value] : Reader::in_file_order(*t)) {
        auto tr = read_transport(r, *key, *value);
        if (!tr) continue;
        // TOML itself refuses a table defined twice; names differing only in case would make
        // routes ambiguous, so they count as duplicates too.
        if (const Transport* prev = c.find_transport(tr->name)) {
          r.error(line_of(key->source()), "duplicate transport name '" + tr->name + "' (also '" +
                                              prev->name + "' at line " +
                                              std::to_string(prev->line) +
                                              "; names are compared without case)");
          continue;
        }
        c.transports.push_back(std::move(*tr));
      }
      std::sort(c.transports.begin(), c.transports.end(),
                [](const Transport& a, const Transport& b) { return a.name < b.name; });
    } else {
      r.wrong_type(*n, "transports", "a table of [transports.NAME] tables");
    }
  }
  if (const toml::node* n = doc.get("routes")) read_routes(r, *n, &c);
  if (r.failed()) return fail(r.take_error());
  return c;
}

Result<Config> load_config_file(const std::string& path) {
  auto fd = open_regular(path, "the configuration file");
  if (!fd) return fail(std::move(fd).error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0)
    return fail(file_error(path, std::string("cannot stat: ") + std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return fail(file_error(path, "not a regular file"));
  auto text = read_all(*fd, path, kMaxConfigSize, "the configuration file");
  if (!text) return fail(std::move(text).error());
  return parse_config(*text, path);
}

std::vector<std::string> default_config_paths(const char* xdg_config_home, const char* home) {
  std::vector<std::string> out;
  // XDG Base Directory spec: a relative $XDG_CONFIG_HOME is invalid and ignored.
  if (xdg_config_home && xdg_config_home[0] == '/')
    out.push_back(std::string(xdg_config_home) + "/mxclient/config.toml");
  else if (home && home[0] != '\0')
    out.push_back(std::string(home) + "/.config/mxclient/config.toml");
  out.emplace_back("/etc/mxclient/config.toml");
  return out;
}

std::vector<std::string> default_config_paths() {
  return default_config_paths(std::getenv("XDG_CONFIG_HOME"), std::getenv("HOME"));
}

Result<Config> load_config(const std::optional<std::string>& explicit_path,
                           const std::vector<std::string>& candidates) {
  if (explicit_path) return load_config_file(*explicit_path);
  for (const auto& path : candidates) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) continue;
    return load_config_file(path);  // exists (or stat failed otherwise): errors are real
  }
  return Config{};
}

Result<std::string> load_password(const SubmissionTransport& t) {
  if (t.password_env) {
    const char* v = std::getenv(t.password_env->c_str());
    if (!v)
      return fail(permanent_error(Stage::config, "config: the password environment variable " +
                                                     *t.password_env + " is not set"));
    if (v[0] == '\0')
      return fail(permanent_error(Stage::config, "config: the password environment variable " +
                                                     *t.password_env + " is empty"));
    return std::string(v);
  }
  if (!t.password_file)
    return fail(permanent_error(Stage::config, "config: no password_file or password_env"));

  const std::string& path = *t.password_file;
  auto fd = open_regular(path, "the password file");
  if (!fd) return fail(std::move(fd).error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0)
    return fail(
        file_error(path, std::string("cannot stat the password file: ") + std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    return fail(file_error(path, "the password file is not a regular file"));
  // Like ssh with private keys: a secret others can read (or replace) is refused outright.
  if ((st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(file_error(path, std::string("the password file has mode ") + mode +
                                     ": group and others must have no access (chmod 600)"));
  }
  auto text = read_all(*fd, path, kMaxPasswordSize, "the password file");
  if (!text) return fail(std::move(text).error());
  std::string pw = std::move(*text);
  if (!pw.empty() && pw.back() == '\n') {
    pw.pop_back();
    if (!pw.empty() && pw.back() == '\r') pw.pop_back();  // a CRLF is one newline too
  }
  if (pw.empty()) return fail(file_error(path, "the password file is empty"));
  if (pw.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
    return fail(file_error(path,
                           "the password file has more than one line or a NUL byte; it must hold "
                           "the password alone"));
  return pw;
}

}  // namespace mx::config
