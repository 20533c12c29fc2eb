// Compatibility mode of the original C mxclient: ask the system's (loopback) validating
// resolver and take its AD bit as the DNSSEC verdict instead of validating locally.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "dns/resolver.hpp"
#include "dns/server_address.hpp"

namespace mx::dns {

struct TrustAdOptions {
  std::optional<std::string> nameserver;         // "IP" or "IP@port"; default: from resolv_conf
  std::string resolv_conf = "/etc/resolv.conf";  // its first "nameserver" line is used
  std::chrono::milliseconds timeout{30000};      // for one resolve() batch
  std::chrono::milliseconds retransmit{1000};    // UDP retransmission interval
};

/// Sends each batch concurrently over one UDP socket (retrying over TCP when an answer is
/// truncated). Not thread-safe: one resolve() at a time per instance.
class TrustAdResolver final : public Resolver {
 public:
  /// Refuses (Error{Stage::config, permanent}) a nameserver that is not on loopback: the AD
  /// bit is unauthenticated and only means something when neither the resolver nor the path
  /// to it can be tampered with (RFC 4035 §4.9.3).
  static Result<std::unique_ptr<TrustAdResolver>> create(const TrustAdOptions& options);

  std::vector<Result<Answer>> resolve(std::span<const Question> questions) override;

  const ServerAddress& server() const { return server_; }

 private:
  TrustAdResolver(ServerAddress server, const TrustAdOptions& options);

  ServerAddress server_;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds retransmit_;
  std::mt19937 rng_;  // query IDs (RFC 5452 §4.3); the path is loopback-only anyway
};

}  // namespace mx::dns
