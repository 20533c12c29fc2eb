// Progress sink: the SMTP transcript (">>>"/"<<<") and the DNS/TLS decisions, shown on stdout
// unless -q. Layers report through this interface and never print directly.
#pragma once

#include <ostream>
#include <string_view>

namespace mx {

class Progress {
 public:
  virtual ~Progress() = default;
  /// A decision or event ("MX for example.net: ...", "TLS 1.3 ...").
  virtual void note(std::string_view text) = 0;
  /// One line the client sent, without CRLF (already redacted by the caller if secret).
  virtual void sent(std::string_view line) = 0;
  /// One line the server sent, without CRLF.
  virtual void received(std::string_view line) = 0;
  /// A warning that also matters with -q (goes to stderr in the CLI).
  virtual void warn(std::string_view text) = 0;
};

/// Writes to an ostream: notes as "*** text", transcript as ">>> line" / "<<< line".
class StreamProgress final : public Progress {
 public:
  StreamProgress(std::ostream* out, std::ostream* err) : out_(out), err_(err) {}
  void note(std::string_view text) override;
  void sent(std::string_view line) override;
  void received(std::string_view line) override;
  void warn(std::string_view text) override;

 private:
  std::ostream* out_;  // null when quiet
  std::ostream* err_;
};

/// Discards everything (tests, library users who do not care).
class NullProgress final : public Progress {
 public:
  void note(std::string_view) override {}
  void sent(std::string_view) override {}
  void received(std::string_view) override {}
  void warn(std::string_view) override {}
};

}  // namespace mx
