// The byte-stream seam between the SMTP driver and the transport (plain TCP, TLS, proxies).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "core/deadline.hpp"
#include "core/result.hpp"

namespace mx::net {

class Stream {
 public:
  virtual ~Stream() = default;
  /// Reads what is available (at least one byte), waiting until the deadline.
  /// Returns 0 at orderly end of stream. Errors: Stage::connect (or tls), temporary.
  virtual Result<std::size_t> read_some(std::span<char> buf, Deadline deadline) = 0;
  /// Writes everything in one go where the kernel allows (callers batch pipelined commands).
  virtual Result<void> write_all(std::string_view data, Deadline deadline) = 0;
};

}  // namespace mx::net
