// Dialing through a command such as "ssh -W %h:%p relay": the child's stdin and stdout are one
// end of a socketpair, so the SMTP and TLS layers use it like a TCP socket and TLS still ends
// in this process.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "net/child_process.hpp"
#include "net/dialer.hpp"

namespace mx::net {

class CommandDialer final : public Dialer {
 public:
  /// When a dial counts as connected. A command gives no "connected" signal of its own.
  enum class Ready {
    /// When the first octet from the far end arrives (or the child fails first). Right for
    /// SMTP, where the server speaks first (RFC 5321 §3.1): the dial deadline then also
    /// covers the first octet of the 220 greeting.
    first_byte,
    /// As soon as the child is started (for protocols where the client speaks first, such as
    /// the HTTPS of the MTA-STS fetch; a failing child then shows up as end of stream).
    at_once,
  };
  /// stderr copied to ours with "proxy-command: " before each line.
  static ChildOptions default_child_options() {
    ChildOptions o;
    o.stderr_prefix = "proxy-command: ";
    return o;
  }
  struct Options {
    Ready ready = Ready::first_byte;
    ChildOptions child = default_child_options();
  };

  /// `command_template` is run by /bin/sh -c after expand().
  explicit CommandDialer(std::string command_template);
  CommandDialer(std::string command_template, Options options);
  /// Finishes (and reaps) the children that dial() left with the dialer.
  ~CommandDialer() override;

  /// Replaces %h with the address and %p with the port, each single-quoted for the shell, and
  /// %% with %. In "%h:%p" an IPv6 address gets brackets ("[2001:db8::1]:25"), as host:port
  /// syntax (ssh -W, socat) requires. Any other % sequence is a permanent Stage::usage error, as is
  /// a non-IP `to`.
  static Result<std::string> expand(std::string_view command_template, const Endpoint& to);
  /// Checks a template's % sequences without an address (for option parsing).
  static Result<void> check_template(std::string_view command_template);

  /// Starts the command for `to` and waits per Options::ready. Errors (all Stage::connect,
  /// temporary): the child exited or closed the stream first (its exit status and the tail of
  /// its stderr in the message); the deadline passed (the child is killed).
  Result<Connection> connect(const Endpoint& to, Deadline deadline) override;
  /// connect(), keeping the child in the dialer until it exits or the dialer is destroyed.
  Result<Fd> dial(const Endpoint& to, Deadline deadline) override;
  /// "through proxy command 'ssh -W %h:%p relay'".
  std::string describe() const override;

 private:
  void reap_exited();

  std::string template_;
  Options options_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<ChildProcess>> parked_;
};

}  // namespace mx::net
