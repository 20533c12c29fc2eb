// The proxy-command dialer: template expansion, a socketpair as the child's stdin/stdout, and
// the wait for the first octet from the far end (or for the child's failure).
#include "net/command_dialer.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mx::net {

namespace {

using namespace std::chrono_literals;

Error template_error(const std::string& why) {
  return permanent_error(Stage::usage, "proxy command: " + why);
}

// The tail of stderr on one line, for error messages.
std::string one_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  std::string out;
  for (char c : text) {
    if (c == '\n')
      out += "; ";
    else if (c == '\r' || (static_cast<unsigned char>(c) < 0x20 && c != '\t'))
      continue;
    else
      out += c;
  }
  return out;
}

}  // namespace

CommandDialer::CommandDialer(std::string command_template)
    : CommandDialer(std::move(command_template), Options{}) {}

CommandDialer::CommandDialer(std::string command_template, Options options)
    : template_(std::move(command_template)), options_(std::move(options)) {}

CommandDialer::~CommandDialer() {
  std::lock_guard lock(mutex_);
  parked_.clear();  // each ChildProcess finishes and reaps itself
}

Result<void> CommandDialer::check_template(std::string_view command_template) {
  if (command_template.find_first_not_of(" \t") == std::string_view::npos)
    return fail(template_error("empty command"));
  for (std::size_t i = 0; i < command_template.size(); ++i) {
    if (command_template[i] != '%') continue;
    if (i + 1 == command_template.size())
      return fail(template_error("lone % at the end (write %% for a literal %)"));
    char c = command_template[i + 1];
    if (c != 'h' && c != 'p' && c != '%')
      return fail(template_error(std::string("unknown %") + c + " (use %h, %p or %%)"));
    ++i;
  }
  return {};
}

Result<std::string> CommandDialer::expand(std::string_view command_template, const Endpoint& to) {
  if (auto ok = check_template(command_template); !ok) return fail(std::move(ok).error());
  // Only ever an address our own lookup chose; the quoting is a second line of defence.
  if (!is_ip_literal(to.ip)) return fail(template_error("not an IP address: \"" + to.ip + "\""));
  auto quote = [](const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  std::string out;
  for (std::size_t i = 0; i < command_template.size(); ++i) {
    char c = command_template[i];
    if (c != '%') {
      out += c;
      continue;
    }
    char n = command_template[++i];
    // "%h:%p" is host:port syntax (ssh -W, socat), where an IPv6 address needs brackets.
    const bool host_port = command_template.substr(i + 1).starts_with(":%p");
    if (n == 'h' && host_port && to.ip.find(':') != std::string::npos)
      out += quote("[" + to.ip + "]");
    else if (n == 'h')
      out += quote(to.ip);
    else if (n == 'p')
      out += quote(std::to_string(to.port));
    else
      out += '%';
  }
  return out;
}

std::string CommandDialer::describe() const {
  return "through proxy command '" + template_ + "'";
}

void CommandDialer::reap_exited() {
  std::lock_guard lock(mutex_);
  std::erase_if(parked_, [](const std::unique_ptr<ChildProcess>& c) {
    if (!c->exited()) return false;
    c->finish(false);
    return true;
  });
}

Result<Fd> CommandDialer::dial(const Endpoint& to, Deadline deadline) {
  reap_exited();
  auto conn = connect(to, deadline);
  if (!conn) return fail(std::move(conn).error());
  if (conn->child) {
    std::lock_guard lock(mutex_);
    parked_.push_back(std::move(conn->child));
  }
  return std::move(conn->fd);
}

Result<Connection> CommandDialer::connect(const Endpoint& to, Deadline deadline) {
  auto command = expand(template_, to);
  if (!command) return fail(std::move(command).error());
  const std::string who = "proxy command for " + to.to_string();

  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return fail(temporary_error(Stage::connect, who + ": socketpair: " + std::strerror(errno)));
  Fd ours(pair[0]);
  Fd theirs(pair[1]);
  if (!set_nonblocking(ours.get()))
    return fail(temporary_error(Stage::connect, who + ": fcntl: " + std::strerror(errno)));

  auto child = ChildProcess::spawn(*command, theirs.get(), options_.child);
  if (!child) return fail(std::move(child).error());
  theirs.reset();  // only the child holds the other end now: its exit means EOF for us

  Connection conn{std::move(*child), std::move(ours)};
  if (options_.ready == Ready::at_once) return conn;

  auto failed = [&](const std::string& what) {
    conn.child->finish(false);
    std::string detail = who + " " + what;
    std::string tail = one_line(conn.child->stderr_tail());
    if (!tail.empty()) detail += ": " + tail;
    return fail(temporary_error(Stage::connect, std::move(detail)));
  };

  for (;;) {
    // Poll in short steps: a child that exits while a helper of its own still holds the
    // socket gives no EOF, only an exit status.
    Deadline step = Deadline::min(deadline, Deadline::after(50ms));
    auto ready = wait_ready(conn.fd.get(), Io::read, step);
    if (!ready) {
      conn.child->finish(false);
      return fail(std::move(ready).error());
    }
    if (*ready) {
      char c;
      ssize_t n = ::recv(conn.fd.get(), &c, 1, MSG_PEEK);  // PEEK: the octet stays for SMTP
      if (n > 0) return conn;
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      // End of stream before any data: the child is exiting or has closed its stdout.
      conn.child->wait_exit(Deadline::min(deadline, Deadline::after(1000ms)));
      if (conn.child->exited())
        return failed(conn.child->describe_exit() + " before the server said anything");
      return failed("closed its stdout before the server said anything (killed)");
    }
    if (conn.child->exited())
      return failed(conn.child->describe_exit() + " before the server said anything");
    if (deadline.expired()) return failed("timed out before the server said anything (killed)");
  }
}

}  // namespace mx::net
