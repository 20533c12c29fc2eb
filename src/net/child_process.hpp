// ChildProcess: an owned "/bin/sh -c" child in its own process group whose stdin and stdout are
// one socket and whose stderr is passed through and its tail kept; destroying the handle
// ends the child (voluntary exit, then SIGTERM, then SIGKILL) and reaps it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/deadline.hpp"
#include "core/fd.hpp"
#include "core/result.hpp"

namespace mx::net {

struct ChildOptions {
  /// Where the child's stderr is copied as it arrives; -1 to only capture it.
  int stderr_passthrough_fd = 2;
  /// Put before each copied line, e.g. "proxy-command: ".
  std::string stderr_prefix;
  /// How long a child may take to exit by itself once its connection is closed.
  std::chrono::milliseconds exit_grace{1000};
  /// How long after SIGTERM before SIGKILL.
  std::chrono::milliseconds term_grace{2000};
};

class ChildProcess {
 public:
  /// The last octets of stderr kept for error messages.
  static constexpr std::size_t kStderrTail = 4096;

  /// Starts `/bin/sh -c command` in a new process group with `stdio_fd` as its stdin and
  /// stdout and a pipe as its stderr. The caller keeps (and should close) its own `stdio_fd`.
  static Result<std::unique_ptr<ChildProcess>> spawn(const std::string& command, int stdio_fd,
                                                     ChildOptions options);

  /// finish(true): the child gets exit_grace to go by itself, then is killed and reaped.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  /// True once the child has exited (it is not reaped here, so its pid and process group
  /// stay reserved for the signals of finish()).
  bool exited();
  /// Waits until the child exits or the deadline passes; true when it exited.
  bool wait_exit(Deadline deadline);
  /// Ends the child: when `wait_voluntary`, up to exit_grace for it to exit alone; then
  /// SIGTERM (and SIGCONT, in case it stopped) to its process group, SIGKILL after term_grace;
  /// reaps it and collects the rest of its stderr. Idempotent.
  void finish(bool wait_voluntary);

  /// "exited with status 255", "was killed by signal 9", or "is running".
  std::string describe_exit() const;
  /// The raw exit code when it exited normally.
  std::optional<int> exit_code() const;
  /// The last kStderrTail octets of stderr so far (complete after finish()).
  std::string stderr_tail() const;

 private:
  ChildProcess(pid_t pid, Fd stderr_read, Fd stop_read, Fd stop_write, ChildOptions options);
  void drain_loop();
  void take_stderr(const char* data, std::size_t n);

  pid_t pid_;
  ChildOptions options_;
  bool reaped_ = false;
  int si_code_ = 0;  // CLD_EXITED, CLD_KILLED, ... once exited
  int si_status_ = 0;
  bool has_status_ = false;

  Fd stderr_read_;
  Fd stop_read_;
  Fd stop_write_;
  mutable std::mutex mutex_;
  std::string tail_;
  bool at_line_start_ = true;
  std::thread drain_;
};

}  // namespace mx::net
