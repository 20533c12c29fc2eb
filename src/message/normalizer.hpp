// Streaming line-ending normalizer: turns LF, CRLF and bare CR into CRLF so that no bare CR or
// LF ever reaches the wire (SMTP smuggling), and gathers the statistics the SMTP layer needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mx::message {

/// Facts about a normalized message; final once Normalizer::finish() has run.
struct MessageStats {
  std::uint64_t size = 0;             // normalized octets, CRLF line ends included
  std::uint64_t lines = 0;            // number of lines (each ends in CRLF)
  bool eight_bit = false;             // some octet >= 0x80 (needs 8BITMIME/SMTPUTF8)
  bool has_nul = false;               // some NUL octet (not allowed in 8BITMIME either)
  std::uint64_t longest_line = 0;     // octets, CRLF excluded
  std::uint64_t long_lines = 0;       // lines longer than kMaxLineOctets
  std::uint64_t first_long_line = 0;  // 1-based number of the first such line, 0 if none
};

class Normalizer {
 public:
  /// RFC 5321 §4.5.3.1.6: at most 998 octets per line before the CRLF.
  static constexpr std::uint64_t kMaxLineOctets = 998;

  /// Appends the normalized form of `in` to `out`. Chunk boundaries may fall anywhere,
  /// including between the CR and LF of one line end.
  void feed(std::string_view in, std::string& out);
  /// Ends the input: a pending CR becomes a line end, and a non-empty unterminated last line
  /// gets its CRLF. An empty message stays empty. Feeding after finish() starts a new line.
  void finish(std::string& out);

  const MessageStats& stats() const { return stats_; }

 private:
  void end_line(std::string& out);

  MessageStats stats_;
  std::uint64_t line_len_ = 0;  // octets of the current, unterminated line
  bool pending_cr_ = false;     // the last octet fed was a CR whose successor is unknown
};

}  // namespace mx::message
