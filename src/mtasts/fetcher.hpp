// Fetching the MTA-STS policy over HTTPS (RFC 8461 §3.3) with libcurl, pinned to addresses our
// own resolver found so that libcurl never resolves a name, with PKIX checks and hard limits.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "core/fd.hpp"
#include "core/result.hpp"

namespace mx::mtasts {

/// Which pinned address a connection is wanted for.
struct SocketRequest {
  int family = 0;       // AF_INET or AF_INET6
  std::string address;  // IP literal
  std::uint16_t port = 0;
};

/// Returns an already connected stream socket for `request` (through a SOCKS5 proxy, an ssh
/// child, ...). It is tried on the addresses in order until one works; libcurl then talks
/// through it (via an in-process relay) and makes no connection of its own.
using OpenSocket = std::function<Result<Fd>(const SocketRequest& request)>;

struct FetchOptions {
  std::uint16_t port = 443;  // other values only for tests
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{60'000};
  std::string ca_file;               // PEM bundle; empty: libcurl's default
  std::string ca_path;               // hashed directory; empty: libcurl's default
  std::size_t max_body = 64 * 1024;  // RFC 8461 §3.3 suggests 64 KiB
  OpenSocket open_socket;            // empty: libcurl connects to the pinned addresses
};

/// The seam discovery uses, so tests can script fetch outcomes.
class Fetcher {
 public:
  virtual ~Fetcher() = default;
  /// GETs https://mta-sts.<domain>/.well-known/mta-sts.txt from one of `addresses` (the IP
  /// literals of mta-sts.<domain>) and returns the body. Errors: Stage::tls when the
  /// certificate or the handshake failed (TLSRPT sts-webpki-invalid), Stage::connect for the
  /// transport and HTTP (sts-policy-fetch-error), Stage::input for a bad domain or address.
  virtual Result<std::string> fetch(std::string_view domain,
                                    std::span<const std::string> addresses) = 0;
};

/// "https://mta-sts.<domain>/.well-known/mta-sts.txt", with ":<port>" unless 443.
std::string policy_url(std::string_view domain, std::uint16_t port = 443);

/// The libcurl implementation: HTTPS only, no redirects (RFC 8461 §3.3), only 200 with a
/// text/plain body of at most max_body octets, no proxy from the environment, no cookies and
/// no .netrc.
class CurlFetcher final : public Fetcher {
 public:
  explicit CurlFetcher(FetchOptions options = {});
  Result<std::string> fetch(std::string_view domain,
                            std::span<const std::string> addresses) override;

 private:
  FetchOptions options_;
};

}  // namespace mx::mtasts
