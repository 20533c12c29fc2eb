// Spool: the whole message read from a file descriptor, normalized to CRLF, kept in memory up
// to a limit and beyond that in an unlinked temporary file, re-readable for every MX tried.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/fd.hpp"
#include "core/result.hpp"
#include "message/normalizer.hpp"

namespace mx::message {

struct SpoolOptions {
  /// Normalized bytes kept in memory; a larger message moves to a temporary file.
  std::size_t memory_limit = 1024 * 1024;
  /// Directory for the temporary file; empty means $TMPDIR, or /tmp when that is unset.
  std::string tmp_dir;
  /// Drop Bcc fields from the header section as the message is read (sendmail -t).
  bool strip_bcc = false;
};

class Spool {
 public:
  /// Read and write size: memory stays flat whatever the message size.
  static constexpr std::size_t kChunk = 64 * 1024;

  /// Reads `fd` to EOF (not closing it), normalizing line ends as it goes. A read error or a
  /// failure to create or write the spool file is Stage::input / permanent / Reason::input_io.
  static Result<Spool> read_from(int fd, SpoolOptions opts = {});
  /// Normalizes an in-memory message (tests and library users); never touches the disk.
  static Spool from_string(std::string_view raw);

  Spool(Spool&&) noexcept = default;
  Spool& operator=(Spool&&) noexcept = default;
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;
  ~Spool() = default;

  const MessageStats& stats() const { return stats_; }
  /// Normalized size in octets.
  std::uint64_t size() const { return stats_.size; }
  /// True when the message lives in the temporary file rather than in memory.
  bool spooled_to_file() const { return file_.valid(); }
  /// Bytes of message data held in memory (0 once spooled to the file).
  std::size_t resident_bytes() const { return memory_.size(); }

  /// Calls `sink` with the normalized message from its start, in pieces of at most kChunk
  /// octets (none for an empty message). Repeatable; stops at and returns the first error.
  Result<void> for_each_chunk(const std::function<Result<void>(std::string_view)>& sink) const;

 private:
  Spool() = default;
  Result<void> append(std::string_view data, const SpoolOptions& opts);
  Result<void> move_to_file(const SpoolOptions& opts);

  std::string memory_;  // the message while it fits in opts.memory_limit
  mx::Fd file_;         // the unlinked spool file once it does not
  MessageStats stats_;
};

}  // namespace mx::message
