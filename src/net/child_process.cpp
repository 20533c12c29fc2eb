// ChildProcess: posix_spawn of /bin/sh -c in its own process group, a stderr drain thread
// (pass-through plus a bounded tail), and kill-then-reap on finish.
#include "net/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace mx::net {

namespace {

using namespace std::chrono_literals;

Error spawn_error(const std::string& what, int err) {
  return temporary_error(Stage::connect,
                         "proxy command: " + what + ": " + std::string(std::strerror(err)));
}

// dup2 in the child clears close-on-exec only when the fd numbers differ; an fd that already
// is 0, 1 or 2 (the parent had one closed) is moved out of the way first.
Fd above_stdio(Fd fd) {
  if (fd.get() > 2) return fd;
  return Fd(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
}

void write_all_fd(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;  // pass-through is best effort; the tail is still kept
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(const std::string& command, int stdio_fd,
                                                          ChildOptions options) {
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return fail(spawn_error("pipe", errno));
  Fd err_read(err_pipe[0]);
  Fd err_write = above_stdio(Fd(err_pipe[1]));
  int stop_pipe[2];
  if (::pipe2(stop_pipe, O_CLOEXEC) != 0) return fail(spawn_error("pipe", errno));
  Fd stop_read(stop_pipe[0]);
  Fd stop_write(stop_pipe[1]);
  Fd stdio(::fcntl(stdio_fd, F_DUPFD_CLOEXEC, 3));
  if (!stdio.valid() || !err_write.valid()) return fail(spawn_error("fcntl", errno));
  // The drain thread polls; a non-blocking pipe lets it empty the pipe at the end.
  ::fcntl(err_read.get(), F_SETFL, ::fcntl(err_read.get(), F_GETFL) | O_NONBLOCK);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, stdio.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, stdio.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  // Own process group: the whole pipeline (sh, ssh, its helpers) is signalled as one.
  posix_spawnattr_setpgroup(&attr, 0);
  // The CLI ignores SIGPIPE; ignored dispositions survive exec, so restore the defaults.
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::string sh = "/bin/sh";
  std::string dash_c = "-c";
  std::string cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return fail(spawn_error("cannot start /bin/sh", rc));

  return std::unique_ptr<ChildProcess>(new ChildProcess(
      pid, std::move(err_read), std::move(stop_read), std::move(stop_write), std::move(options)));
}

ChildProcess::ChildProcess(pid_t pid, Fd stderr_read, Fd stop_read, Fd stop_write,
                           ChildOptions options)
    : pid_(pid),
      options_(std::move(options)),
      stderr_read_(std::move(stderr_read)),
      stop_read_(std::move(stop_read)),
      stop_write_(std::move(stop_write)) {
  drain_ = std::thread([this] { drain_loop(); });
}

ChildProcess::~ChildProcess() {
  finish(true);
}

void ChildProcess::take_stderr(const char* data, std::size_t n) {
  std::lock_guard lock(mutex_);
  tail_.append(data, n);
  if (tail_.size() > kStderrTail) tail_.erase(0, tail_.size() - kStderrTail);
  if (options_.stderr_passthrough_fd < 0) return;
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (at_line_start_) out += options_.stderr_prefix;
    out += data[i];
    at_line_start_ = data[i] == '\n';
  }
  write_all_fd(options_.stderr_passthrough_fd, out.data(), out.size());
}

void ChildProcess::drain_loop() {
  char buf[4096];
  bool stopping = false;
  for (;;) {
    if (!stopping) {
      pollfd p[2] = {{stderr_read_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
      int n = ::poll(p, 2, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      // Stop requested: take what is already in the pipe, then end (a grandchild that
      // escaped the process group may hold the pipe open forever).
      if (p[1].revents != 0) stopping = true;
    }
    ssize_t got = ::read(stderr_read_.get(), buf, sizeof buf);
    if (got > 0) {
      take_stderr(buf, static_cast<std::size_t>(got));
      continue;
    }
    if (got == 0) break;  // every writer is gone
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (stopping) break;
      continue;
    }
    break;
  }
  std::lock_guard lock(mutex_);
  if (!at_line_start_ && options_.stderr_passthrough_fd >= 0) {
    write_all_fd(options_.stderr_passthrough_fd, "\n", 1);
    at_line_start_ = true;
  }
}

bool ChildProcess::exited() {
  if (reaped_ || has_status_) return true;
  siginfo_t info{};
  // WNOWAIT: leave it a zombie, so its pid (= process group id) cannot be reused yet.
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
    return false;
  if (info.si_pid == 0) return false;
  si_code_ = info.si_code;
  si_status_ = info.si_status;
  has_status_ = true;
  return true;
}

bool ChildProcess::wait_exit(Deadline deadline) {
  for (;;) {
    if (exited()) return true;
    if (deadline.expired()) return false;
    int ms = deadline.poll_timeout_ms();
    std::this_thread::sleep_for(std::chrono::milliseconds(ms < 0 || ms > 10 ? 10 : ms));
  }
}

void ChildProcess::finish(bool wait_voluntary) {
  if (reaped_) return;
  bool gone = wait_voluntary ? wait_exit(Deadline::after(options_.exit_grace)) : exited();
  // Also when the leader is gone: helpers it left in its group get SIGTERM too. The leader
  // is still an unreaped zombie here, so the group id cannot belong to anyone else.
  ::kill(-pid_, SIGTERM);
  ::kill(-pid_, SIGCONT);  // a stopped process acts on SIGTERM only once continued
  if (!gone && !wait_exit(Deadline::after(options_.term_grace))) ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  if (!has_status_) {
    has_status_ = true;
    if (WIFEXITED(status)) {
      si_code_ = CLD_EXITED;
      si_status_ = WEXITSTATUS(status);
    } else {
      si_code_ = CLD_KILLED;
      si_status_ = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
  }
  reaped_ = true;
  char one = 1;
  while (::write(stop_write_.get(), &one, 1) < 0 && errno == EINTR) {
  }
  if (drain_.joinable()) drain_.join();
}

std::optional<int> ChildProcess::exit_code() const {
  if (has_status_ && si_code_ == CLD_EXITED) return si_status_;
  return std::nullopt;
}

std::string ChildProcess::describe_exit() const {
  if (!has_status_) return "is running";
  if (si_code_ == CLD_EXITED) return "exited with status " + std::to_string(si_status_);
  return "was killed by signal " + std::to_string(si_status_);
}

std::string ChildProcess::stderr_tail() const {
  std::lock_guard lock(mutex_);
  return tail_;
}

}  // namespace mx::net
