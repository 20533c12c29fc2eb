// The SOCKS5 dialer: proxy URL parsing and the negotiation over a non-blocking socket, every
// read octet-exact and every wait bounded by the caller's deadline.
#include "net/socks5_dialer.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace mx::net {

namespace {

Error url_error(std::string_view url, const std::string& why) {
  // Credentials must not reach logs: show "socks5://***@host:port" when there are any.
  std::string shown(url);
  auto at = url.rfind('@');
  auto slashes = url.find("://");
  if (at != std::string_view::npos && slashes != std::string_view::npos && slashes < at)
    shown = std::string(url.substr(0, slashes + 3)) + "***" + std::string(url.substr(at));
  return permanent_error(Stage::usage, "bad SOCKS5 proxy URL \"" + shown + "\": " + why);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 §2.1 percent-decoding of the userinfo parts.
std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    int hi = hex_value(in[i + 1]);
    int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

class Negotiation {
 public:
  Negotiation(int fd, Deadline deadline, std::string proxy)
      : fd_(fd), deadline_(deadline), proxy_(std::move(proxy)) {}

  Result<void> send(std::string_view data, const char* phase) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(io_error(phase, errno));
      if (auto w = wait(Io::write, phase); !w) return w;
    }
    return {};
  }

  // Appends exactly `n` octets to `out`: never more, so nothing after the proxy's reply (the
  // tunnelled server's first bytes) is taken out of the socket.
  Result<void> read_exact(std::string& out, std::size_t n, const char* phase) {
    while (n > 0) {
      char buf[512];
      ssize_t got = ::recv(fd_, buf, std::min(n, sizeof buf), 0);
      if (got > 0) {
        out.append(buf, static_cast<std::size_t>(got));
        n -= static_cast<std::size_t>(got);
        continue;
      }
      if (got == 0)
        return fail(
            temporary_error(Stage::connect, prefix() + "closed the connection during " + phase));
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(io_error(phase, errno));
      if (auto w = wait(Io::read, phase); !w) return w;
    }
    return {};
  }

  std::string prefix() const { return "SOCKS5 proxy " + proxy_ + ": "; }

 private:
  Result<void> wait(Io io, const char* phase) {
    auto ready = wait_ready(fd_, io, deadline_);
    if (!ready) return fail(std::move(ready).error());
    if (!*ready)
      return fail(temporary_error(Stage::connect, prefix() + "timed out during " + phase));
    return {};
  }

  Error io_error(const char* phase, int err) const {
    return temporary_error(Stage::connect,
                           prefix() + phase + ": " + std::string(std::strerror(err)));
  }

  int fd_;
  Deadline deadline_;
  std::string proxy_;
};

}  // namespace

Result<ProxyUrl> parse_proxy_url(std::string_view url) {
  constexpr std::string_view kScheme = "socks5://";
  auto sep = url.find("://");
  if (sep == std::string_view::npos)
    return fail(url_error(url, "expected socks5://[user:pass@]IP:port"));
  std::string_view scheme = url.substr(0, sep);
  if (iequals(scheme, "socks5h"))
    return fail(url_error(url,
                          "socks5h (the proxy resolves names) is not supported: mxclient "
                          "resolves and validates MX addresses itself"));
  if (!iequals(scheme, "socks5")) return fail(url_error(url, "the scheme must be socks5://"));
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);

  ProxyUrl out;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    if (colon == std::string_view::npos)
      return fail(url_error(url, "credentials must be user:password"));
    auto user = percent_decode(userinfo.substr(0, colon));
    auto pass = percent_decode(userinfo.substr(colon + 1));
    if (!user || !pass) return fail(url_error(url, "bad %-escape in the credentials"));
    // RFC 1929 §2: one length octet each, at least 1.
    if (user->empty() || user->size() > 255 || pass->empty() || pass->size() > 255)
      return fail(url_error(url, "user and password must be 1 to 255 octets each (RFC 1929)"));
    out.credentials = socks5::Credentials{std::move(*user), std::move(*pass)};
  }

  std::string_view host;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return fail(url_error(url, "missing ']'"));
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(url_error(url, "junk after ']'"));
      port_text = after.substr(1);
      if (port_text.empty()) return fail(url_error(url, "empty port"));
    }
    if (host.find(':') == std::string_view::npos || !is_ip_literal(host))
      return fail(url_error(url, "not an IPv6 address in brackets"));
  } else {
    auto colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return fail(url_error(url, "empty port"));
      if (host.find(':') != std::string_view::npos)
        return fail(url_error(url, "an IPv6 address must be in brackets"));
    } else {
      host = rest;
    }
    if (host.empty()) return fail(url_error(url, "no proxy address"));
    if (!is_ip_literal(host))
      return fail(url_error(url,
                            "the proxy host must be an IP address; names are not resolved "
                            "(mxclient never asks the system resolver)"));
  }

  out.proxy.ip = std::string(host);
  out.proxy.port = 1080;  // the IANA port for SOCKS
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value == 0 ||
        value > 65535)
      return fail(url_error(url, "bad port \"" + std::string(port_text) + "\""));
    out.proxy.port = static_cast<std::uint16_t>(value);
  }
  return out;
}

Socks5Dialer::Socks5Dialer(Endpoint proxy, std::optional<socks5::Credentials> credentials)
    : proxy_(std::move(proxy)), credentials_(std::move(credentials)) {}

Socks5Dialer::Socks5Dialer(ProxyUrl url)
    : Socks5Dialer(std::move(url.proxy), std::move(url.credentials)) {}

std::string Socks5Dialer::describe() const {
  return "through SOCKS5 proxy " + proxy_.to_string();
}

Result<Fd> Socks5Dialer::dial(const Endpoint& to, Deadline deadline) {
  const std::string name = proxy_.to_string();
  // Check what we would send before touching the network.
  auto connect_request = socks5::build_connect(to, name);
  if (!connect_request) return fail(std::move(connect_request).error());
  std::string auth_request;
  if (credentials_) {
    auto a = socks5::build_auth_request(*credentials_, name);
    if (!a) return fail(std::move(a).error());
    auth_request = std::move(*a);
  }

  auto fd = connect_tcp(proxy_, deadline);
  if (!fd) {
    Error e = std::move(fd).error();
    e.detail = "SOCKS5 proxy " + name + ": " + e.detail;
    return fail(std::move(e));
  }
  Negotiation n(fd->get(), deadline, name);

  // RFC 1928 §3: greeting, method selection.
  if (auto r = n.send(socks5::build_greeting(credentials_.has_value()), "the greeting"); !r)
    return fail(std::move(r).error());
  std::string in;
  if (auto r = n.read_exact(in, socks5::kMethodReplySize, "method selection"); !r)
    return fail(std::move(r).error());
  auto method = socks5::parse_method_selection(in, credentials_.has_value(), name);
  if (!method) return fail(std::move(method).error());

  // RFC 1929 §2: username/password sub-negotiation when the proxy chose it.
  if (*method == socks5::kMethodUserPass) {
    if (auto r = n.send(auth_request, "authentication"); !r) return fail(std::move(r).error());
    in.clear();
    if (auto r = n.read_exact(in, socks5::kAuthReplySize, "authentication"); !r)
      return fail(std::move(r).error());
    if (auto r = socks5::parse_auth_reply(in, name); !r) return fail(std::move(r).error());
  }

  // RFC 1928 §4 and §6: CONNECT, then the reply read in exact steps.
  if (auto r = n.send(*connect_request, "CONNECT"); !r) return fail(std::move(r).error());
  in.clear();
  for (;;) {
    std::size_t need = 0;
    auto reply = socks5::parse_connect_reply(in, &need, name);
    if (!reply) return fail(std::move(reply).error());
    if (*reply) break;
    if (auto r = n.read_exact(in, need - in.size(), "the CONNECT reply"); !r)
      return fail(std::move(r).error());
  }
  return std::move(*fd);
}

}  // namespace mx::net
