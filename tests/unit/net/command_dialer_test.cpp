// Tests for net/command_dialer and net/child_process: %h/%p expansion, talking through a child
// (sh and a python3 relay to a loopback listener), exit codes, hangs, stderr, and reaping.
#include "net/command_dialer.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "net/socket.hpp"

namespace mx::net {
namespace {

using namespace std::chrono_literals;

// tests/proxy/relay.py next to this file's directory tree.
std::string relay_script() {
  return (std::filesystem::path(__FILE__).parent_path() / "../../proxy/relay.py")
      .lexically_normal();
}

std::string read_available(int fd, std::size_t n, std::chrono::milliseconds wait = 3s) {
  std::string out;
  auto deadline = Deadline::after(wait);
  while (out.size() < n) {
    auto ready = wait_ready(fd, Io::read, deadline);
    if (!ready || !*ready) break;
    char buf[256];
    ssize_t got = ::read(fd, buf, std::min(sizeof buf, n - out.size()));
    if (got <= 0) break;
    out.append(buf, static_cast<std::size_t>(got));
  }
  return out;
}

// True when `pid` no longer exists, or is only a zombie of someone else (a grandchild that
// init in this container may not reap at once). Our own children must be gone entirely.
bool gone_or_foreign_zombie(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close != std::string::npos && line.size() > close + 2 && line[close + 2] == 'Z';
}

pid_t read_pid(const std::string& path) {
  for (int i = 0; i < 200; ++i) {
    std::ifstream f(path);
    pid_t pid = 0;
    if (f >> pid && pid > 0) return pid;
    std::this_thread::sleep_for(10ms);
  }
  return -1;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mx-cmd-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

CommandDialer::Options quiet(std::chrono::milliseconds grace = 300ms) {
  CommandDialer::Options o;
  o.child.stderr_passthrough_fd = -1;
  o.child.exit_grace = grace;
  o.child.term_grace = grace;
  return o;
}

const Endpoint kTarget{"192.0.2.1", 25};

// ---- expansion ---------------------------------------------------------------------------------

TEST(CommandTemplate, ExpandsQuotedHostPortAndPercent) {
  auto e = CommandDialer::expand("ssh -W %h:%p relay --x=100%%", {"192.0.2.7", 2525});
  ASSERT_TRUE(e) << e.error().detail;
  EXPECT_EQ(*e, "ssh -W '192.0.2.7':'2525' relay --x=100%");
}

TEST(CommandTemplate, BracketsIpv6OnlyInHostPortSyntax) {
  const Endpoint v6{"2001:db8::1", 25};
  auto e = CommandDialer::expand("ssh -W %h:%p relay", v6);
  ASSERT_TRUE(e) << e.error().detail;
  EXPECT_EQ(*e, "ssh -W '[2001:db8::1]':'25' relay");
  e = CommandDialer::expand("nc %h %p", v6);  // separate arguments: no brackets
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, "nc '2001:db8::1' '25'");
  e = CommandDialer::expand("ssh -W \\[%h\\]:%p relay", v6);  // already bracketed
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, "ssh -W \\['2001:db8::1'\\]:'25' relay");
}

TEST(CommandTemplate, RejectsUnknownAndTrailingPercent) {
  for (const char* bad : {"nc %x", "nc %h %", "nc %H", ""}) {
    auto e = CommandDialer::expand(bad, kTarget);
    ASSERT_FALSE(e) << bad;
    EXPECT_TRUE(e.error().permanent());
    EXPECT_EQ(e.error().stage, Stage::usage);
    EXPECT_FALSE(CommandDialer::check_template(bad)) << bad;
  }
  EXPECT_TRUE(CommandDialer::check_template("ssh -W %h:%p host"));
}

TEST(CommandTemplate, RejectsNonIpTarget) {
  auto e = CommandDialer::expand("nc %h %p", {"mx.example; rm -rf /", 25});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().detail.find("not an IP address"), std::string::npos);
}

TEST(CommandDialer, Describe) {
  CommandDialer d("ssh -W %h:%p relay");
  EXPECT_EQ(d.describe(), "through proxy command 'ssh -W %h:%p relay'");
}

// ---- talking through the child -----------------------------------------------------------------

TEST(CommandDialer, ServerSpeaksFirstThenEcho) {
  CommandDialer dialer("printf '220 %%s %%s\\r\\n' %h %p; exec cat", quiet());
  auto conn = dialer.connect(kTarget, Deadline::after(5s));
  ASSERT_TRUE(conn) << conn.error().describe();
  ASSERT_TRUE(conn->child);
  // Non-blocking like connect_tcp's sockets.
  EXPECT_TRUE(::fcntl(conn->fd.get(), F_GETFL) & O_NONBLOCK);
  // The octet that signalled readiness is still there for the SMTP layer.
  EXPECT_EQ(read_available(conn->fd.get(), 18), "220 192.0.2.1 25\r\n");
  SocketStream stream(std::move(conn->fd));
  ASSERT_TRUE(stream.write_all("EHLO x\r\n", Deadline::after(2s)));
  char buf[64];
  auto n = stream.read_some(buf, Deadline::after(2s));
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buf, *n), "EHLO x\r\n");
}

// A real relay to a loopback listener: %h and %p reach the command as separate words.
TEST(CommandDialer, Python3RelayToLoopbackServer) {
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&sin), len), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&sin), &len);
  std::string received;
  std::thread server([&] {
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return;
    Fd c(::accept(listener.get(), nullptr, nullptr));
    const std::string greeting = "220 relay test\r\n";
    ::send(c.get(), greeting.data(), greeting.size(), MSG_NOSIGNAL);
    received = read_available(c.get(), 6, 5s);
  });
  CommandDialer dialer("exec python3 " + relay_script() + " stdio %h %p", quiet());
  auto conn = dialer.connect({"127.0.0.1", ntohs(sin.sin_port)}, Deadline::after(10s));
  ASSERT_TRUE(conn) << conn.error().describe();
  EXPECT_EQ(read_available(conn->fd.get(), 16), "220 relay test\r\n");
  ASSERT_EQ(::send(conn->fd.get(), "QUIT\r\n", 6, MSG_NOSIGNAL), 6);
  server.join();
  EXPECT_EQ(received, "QUIT\r\n");
}

// ---- failures ----------------------------------------------------------------------------------

TEST(CommandDialer, NonZeroExitIsTemporaryWithStderr) {
  CommandDialer dialer(
      "echo 'channel 0: open failed: connect failed: Connection refused' >&2; "
      "echo 'stdio forwarding failed' >&2; exit 255",
      quiet());
  auto conn = dialer.connect(kTarget, Deadline::after(5s));
  ASSERT_FALSE(conn);
  EXPECT_TRUE(conn.error().temporary());
  EXPECT_EQ(conn.error().stage, Stage::connect);
  EXPECT_EQ(conn.error().detail,
            "proxy command for 192.0.2.1:25 exited with status 255 before the server said "
            "anything: channel 0: open failed: connect failed: Connection refused; stdio "
            "forwarding failed");
}

TEST(CommandDialer, CleanExitWithoutDataIsAFailureToo) {
  CommandDialer dialer("exit 0", quiet());
  auto conn = dialer.connect(kTarget, Deadline::after(5s));
  ASSERT_FALSE(conn);
  EXPECT_NE(conn.error().detail.find("exited with status 0"), std::string::npos);
}

TEST(CommandDialer, CommandNotFound) {
  CommandDialer dialer("/nonexistent/ssh -W %h:%p relay", quiet());
  auto conn = dialer.connect(kTarget, Deadline::after(5s));
  ASSERT_FALSE(conn);
  EXPECT_NE(conn.error().detail.find("exited with status 127"), std::string::npos);
  EXPECT_NE(conn.error().detail.find("/nonexistent/ssh"), std::string::npos) << conn.error().detail;
}

TEST(CommandDialer, ExitWhileAHelperKeepsTheSocketOpen) {
  // The background sleep holds stdout, so no EOF arrives: the exit status must decide.
  TempDir dir;
  CommandDialer dialer("sleep 30 & echo $! > " + dir.file("helper") + "; exit 3", quiet());
  auto start = Clock::now();
  auto conn = dialer.connect(kTarget, Deadline::after(5s));
  ASSERT_FALSE(conn);
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_NE(conn.error().detail.find("exited with status 3"), std::string::npos);
  pid_t helper = read_pid(dir.file("helper"));
  ASSERT_GT(helper, 0);
  // Killed with the process group.
  for (int i = 0; i < 100 && !gone_or_foreign_zombie(helper); ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(gone_or_foreign_zombie(helper));
}

TEST(CommandDialer, HangIsKilledAtTheDeadlineAndReaped) {
  TempDir dir;
  CommandDialer dialer("echo $$ > " + dir.file("pid") + "; echo 'connecting...' >&2; exec sleep 30",
                       quiet());
  auto start = Clock::now();
  auto conn = dialer.connect(kTarget, Deadline::after(400ms));
  auto took = Clock::now() - start;
  ASSERT_FALSE(conn);
  EXPECT_GE(took, 390ms);
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(conn.error().temporary());
  EXPECT_EQ(conn.error().detail,
            "proxy command for 192.0.2.1:25 timed out before the server said anything (killed): "
            "connecting...");
  pid_t pid = read_pid(dir.file("pid"));
  ASSERT_GT(pid, 0);
  // Our own child: not even a zombie may be left.
  EXPECT_NE(::kill(pid, 0), 0);
  EXPECT_EQ(errno, ESRCH);
}

TEST(CommandDialer, HangIgnoringSigtermIsKilled) {
  TempDir dir;
  CommandDialer dialer(
      "trap '' TERM; echo $$ > " + dir.file("pid") + "; while :; do sleep 0.05; done",
      quiet(200ms));
  auto conn = dialer.connect(kTarget, Deadline::after(200ms));
  ASSERT_FALSE(conn);
  pid_t pid = read_pid(dir.file("pid"));
  ASSERT_GT(pid, 0);
  EXPECT_NE(::kill(pid, 0), 0);
}

TEST(CommandDialer, StderrIsPassedThroughWithPrefix) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  Fd rd(p[0]);
  Fd wr(p[1]);
  CommandDialer::Options o = quiet();
  o.child.stderr_passthrough_fd = wr.get();
  o.child.stderr_prefix = "relay: ";
  {
    CommandDialer dialer("printf 'one\\ntwo' >&2; exit 1", o);
    auto conn = dialer.connect(kTarget, Deadline::after(5s));
    ASSERT_FALSE(conn);
  }
  wr.reset();
  EXPECT_EQ(read_available(rd.get(), 100), "relay: one\nrelay: two\n");
}

TEST(CommandDialer, StderrTailIsBounded) {
  CommandDialer dialer("head -c 20000 /dev/zero | tr '\\0' x >&2; echo END >&2; exit 2", quiet());
  auto conn = dialer.connect(kTarget, Deadline::after(5s));
  ASSERT_FALSE(conn);
  EXPECT_LT(conn.error().detail.size(), ChildProcess::kStderrTail + 200);
  EXPECT_EQ(conn.error().detail.substr(conn.error().detail.size() - 6), "xxxEND");
}

// ---- lifetime ----------------------------------------------------------------------------------

TEST(CommandDialer, ClosingTheConnectionReapsTheChild) {
  CommandDialer dialer("printf 'hi'; exec cat", quiet());
  pid_t pid = -1;
  {
    auto conn = dialer.connect(kTarget, Deadline::after(5s));
    ASSERT_TRUE(conn) << conn.error().describe();
    pid = conn->child->pid();
    EXPECT_EQ(::kill(pid, 0), 0);  // alive while the connection is
  }
  EXPECT_NE(::kill(pid, 0), 0);
  EXPECT_EQ(errno, ESRCH);
}

TEST(CommandDialer, ChildIgnoringEofIsKilledOnClose) {
  CommandDialer dialer("trap '' TERM; printf 'hi'; exec 0<&- 1>&-; while :; do sleep 0.05; done",
                       quiet(200ms));
  auto conn = dialer.connect(kTarget, Deadline::after(5s));
  ASSERT_TRUE(conn) << conn.error().describe();
  pid_t pid = conn->child->pid();
  auto start = Clock::now();
  conn = fail(temporary_error(Stage::internal, "drop"));  // destroys the Connection
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_NE(::kill(pid, 0), 0);
}

TEST(CommandDialer, DialKeepsTheChildUntilTheDialerGoes) {
  {
    CommandDialer dialer("printf 'hi'; exec cat", quiet());
    auto fd = dialer.dial(kTarget, Deadline::after(5s));
    ASSERT_TRUE(fd) << fd.error().describe();
    EXPECT_EQ(read_available(fd->get(), 2), "hi");
    // The child is alive while the fd is open (it echoes).
    ASSERT_EQ(::send(fd->get(), "x", 1, MSG_NOSIGNAL), 1);
    EXPECT_EQ(read_available(fd->get(), 1), "x");
    fd->reset();
    auto again = dialer.dial(kTarget, Deadline::after(5s));  // reaps exited children
    ASSERT_TRUE(again);
  }
  // Both children were reaped by the dialer: no child of ours is left.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(CommandDialer, ReadyAtOnceDoesNotWaitForData) {
  CommandDialer::Options o = quiet();
  o.ready = CommandDialer::Ready::at_once;
  CommandDialer dialer("exec cat", o);
  auto start = Clock::now();
  auto conn = dialer.connect(kTarget, Deadline::after(5s));
  ASSERT_TRUE(conn) << conn.error().describe();
  EXPECT_LT(Clock::now() - start, 1s);
  ASSERT_EQ(::send(conn->fd.get(), "ping", 4, MSG_NOSIGNAL), 4);
  EXPECT_EQ(read_available(conn->fd.get(), 4), "ping");
}

TEST(CommandDialer, ChildGetsDefaultSigpipe) {
  // The CLI ignores SIGPIPE; the child must not inherit that.
  struct sigaction old {};
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old);
  CommandDialer dialer(
      "grep -q '^SigIgn:.*' /proc/self/status && awk '/^SigIgn/ {print $2}' "
      "/proc/$$/status >&2; exit 1",
      quiet());
  auto conn = dialer.connect(kTarget, Deadline::after(5s));
  ::sigaction(SIGPIPE, &old, nullptr);
  ASSERT_FALSE(conn);
  // SigIgn is a hex mask; SIGPIPE (13) is bit 12 = 0x1000.
  auto detail = conn.error().detail;
  auto mask = detail.substr(detail.rfind(' ') + 1);
  EXPECT_EQ(std::stoull(mask, nullptr, 16) & 0x1000, 0u) << detail;
}

}  // namespace
}  // namespace mx::net
