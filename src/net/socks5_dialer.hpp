// Dialing through a SOCKS5 proxy (RFC 1928): the proxy only relays bytes to the IP address our
// own validated lookup chose; STARTTLS, DANE and PKIX checks still happen in this process.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "net/dialer.hpp"
#include "net/socks5.hpp"

namespace mx::net {

/// A parsed "socks5://[user:pass@]host[:port]" (port 1080 when absent).
struct ProxyUrl {
  Endpoint proxy;
  std::optional<socks5::Credentials> credentials;
};

/// Parses a SOCKS5 proxy URL. The host must be an IP literal (IPv6 in brackets): we never ask
/// the system resolver, not even for the proxy. User and password may use %XX escapes (for
/// ':' or '@') and must be 1-255 octets each (RFC 1929). Errors: permanent Stage::usage.
Result<ProxyUrl> parse_proxy_url(std::string_view url);

class Socks5Dialer final : public Dialer {
 public:
  explicit Socks5Dialer(Endpoint proxy, std::optional<socks5::Credentials> credentials = {});
  explicit Socks5Dialer(ProxyUrl url);

  /// Connects to the proxy, negotiates (with username/password when given) and sends CONNECT
  /// to `to`. The fd returned is positioned right after the proxy's reply: the reply is read
  /// octet-exactly, so the SMTP server's first bytes stay in the socket for the SMTP layer.
  Result<Fd> dial(const Endpoint& to, Deadline deadline) override;
  /// "through SOCKS5 proxy 127.0.0.1:1080" (never the credentials).
  std::string describe() const override;

  const Endpoint& proxy() const { return proxy_; }

 private:
  Endpoint proxy_;
  std::optional<socks5::Credentials> credentials_;
};

}  // namespace mx::net
