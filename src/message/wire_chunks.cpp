// Dot-stuffed DATA body in fixed-size chunks (see wire_chunks.hpp).
#include "message/wire_chunks.hpp"

#include <algorithm>
#include <string>

#include "message/dot_stuffer.hpp"

namespace mx::message {
namespace {

// Hands every whole `chunk` at the front of `buf` to the sink; keeps the remainder (< chunk),
// or with `all` also hands over the remainder.
Result<void> drain(std::string& buf, std::size_t chunk, bool all,
                   const std::function<Result<void>(std::string_view)>& sink) {
  std::size_t pos = 0;
  while (buf.size() - pos >= chunk || (all && pos < buf.size())) {
    const std::size_t n = std::min(chunk, buf.size() - pos);
    if (auto r = sink(std::string_view(buf).substr(pos, n)); !r) return r;
    pos += n;
  }
  buf.erase(0, pos);
  return {};
}

}  // namespace

Result<void> write_dot_stuffed(const Spool& spool,
                               const std::function<Result<void>(std::string_view)>& sink,
                               std::size_t chunk) {
  if (chunk == 0) chunk = Spool::kChunk;
  DotStuffer stuffer;
  std::string buf;
  auto r = spool.for_each_chunk([&](std::string_view piece) -> Result<void> {
    stuffer.feed(piece, buf);
    return drain(buf, chunk, false, sink);
  });
  if (!r) return r;
  stuffer.finish(buf);
  return drain(buf, chunk, true, sink);
}

}  // namespace mx::message
