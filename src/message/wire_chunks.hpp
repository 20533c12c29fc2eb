// The DATA body on the wire: the spooled message dot-stuffed and terminated, cut into chunks
// that the SMTP driver writes one write at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

#include "core/result.hpp"
#include "message/spool.hpp"

namespace mx::message {

/// Streams the stuffed message plus the final ".\r\n" (RFC 5321 §4.5.2, §4.1.1.4) to `sink`
/// in chunks of exactly `chunk` octets except the last, which is shorter or equal (0 means
/// Spool::kChunk). Stops at and returns the first error from the spool or the sink.
Result<void> write_dot_stuffed(const Spool& spool,
                               const std::function<Result<void>(std::string_view)>& sink,
                               std::size_t chunk = Spool::kChunk);

}  // namespace mx::message
