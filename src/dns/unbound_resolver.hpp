// Resolver backed by libunbound as an embedded validating resolver: DNSSEC is checked in this
// process against a local trust anchor, never taken on trust from another server.
#pragma once

#include <unbound.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/unique_handle.hpp"
#include "dns/resolver.hpp"

namespace mx::dns {

struct UnboundOptions {
  std::optional<std::string> forwarder;  // "IP" or "IP@port": forward there, still validate here
  std::string trust_anchor_file = "/usr/share/dns/root.key";  // DS/DNSKEY (ub_ctx_add_ta_file)
  std::optional<std::string> root_hints_file;  // recursive mode: replaces the built-in hints
  std::chrono::milliseconds timeout{30000};    // for one resolve() batch
};

/// Not thread-safe: one resolve() at a time per instance.
class UnboundResolver final : public Resolver {
 public:
  /// Bad options (unreadable trust anchor or hints, bad forwarder) are
  /// Error{Stage::config, permanent}. Sends nothing: the first query starts the resolver.
  static Result<std::unique_ptr<UnboundResolver>> create(const UnboundOptions& options);

  std::vector<Result<Answer>> resolve(std::span<const Question> questions) override;

  UnboundResolver(const UnboundResolver&) = delete;
  UnboundResolver& operator=(const UnboundResolver&) = delete;

 private:
  using Context = UniqueHandle<ub_ctx, &ub_ctx_delete>;
  // What libunbound hands back to the callback. Tickets stay alive (in tickets_) until their
  // callback ran or ub_cancel succeeded, so a late result never touches freed memory.
  struct Ticket {
    UnboundResolver* self = nullptr;
    std::uint64_t token = 0;
  };

  UnboundResolver(Context ctx, std::chrono::milliseconds timeout);
  static void on_result(void* data, int err, ub_result* result);
  static void on_prefetch(void* data, int err, ub_result* result);
  void deliver(std::uint64_t token, int err, ub_result* result);
  void prefetch_chain_of_trust(std::span<const Question> questions);

  std::chrono::milliseconds timeout_;
  std::uint64_t next_token_ = 1;
  std::unordered_map<std::uint64_t, Ticket> tickets_;     // node-based: addresses are stable
  std::unordered_map<std::uint64_t, std::size_t> slots_;  // token -> index in the batch
  std::vector<Question> batch_;                           // the batch being resolved
  std::vector<std::optional<Result<Answer>>> results_;    // its results so far
  std::set<std::string> prefetched_;  // zones whose DNSKEY and DS were already asked for
  Context ctx_;  // last member: deleted first, before the tickets it may refer to
};

}  // namespace mx::dns
