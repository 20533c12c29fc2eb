// See smtp_server.hpp. Blocking sockets with poll timeouts; one connection at a time.
#include "support/smtp_server.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace mx::testing {
namespace {

bool send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

SmtpServer::SmtpServer(const std::string& ip, std::uint16_t port, ServerScript script)
    : script_(std::move(script)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(listen_fd_, 8) != 0)
    throw std::runtime_error("test server cannot listen on " + ip + ": " + std::strerror(errno));
  socklen_t len = sizeof sa;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  port_ = ntohs(sa.sin_port);
  thread_ = std::thread([this] { serve(); });
}

SmtpServer::~SmtpServer() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

std::vector<std::string> SmtpServer::commands() const {
  std::lock_guard lock(mu_);
  return commands_;
}

std::vector<std::string> SmtpServer::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

void SmtpServer::serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    session(fd);
    ::close(fd);
  }
}

void SmtpServer::session(int fd) {
  if (!send_all(fd, script_.greeting) || script_.close_after_greeting) return;
  std::string in;
  bool in_data = false;
  std::size_t bdat_left = 0;
  bool bdat_pending = false;
  std::string chunk;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    in.append(buf, static_cast<std::size_t>(n));
    for (;;) {
      if (in_data) {
        auto end = in.find("\r\n.\r\n");
        std::size_t skip = 5;
        if (in.starts_with(".\r\n")) {
          end = 0;
          skip = 3;
        } else if (end != std::string::npos) {
          end += 2;
          skip = 3;
        }
        if (end == std::string::npos) break;
        {
          std::lock_guard lock(mu_);
          messages_.push_back(in.substr(0, end));
        }
        in.erase(0, end + skip);
        in_data = false;
        if (script_.final_reply.empty()) return;
        if (!send_all(fd, script_.final_reply)) return;
        continue;
      }
      if (bdat_left > 0 || bdat_pending) {
        // RFC 3030: exactly the announced number of octets follow the BDAT command.
        std::size_t take = std::min(bdat_left, in.size());
        chunk.append(in, 0, take);
        in.erase(0, take);
        bdat_left -= take;
        if (bdat_left > 0) break;
        bdat_pending = false;
        {
          std::lock_guard lock(mu_);
          messages_.push_back(chunk);
        }
        chunk.clear();
        if (script_.final_reply.empty()) return;
        if (!send_all(fd, script_.final_reply)) return;
        continue;
      }
      auto eol = in.find("\r\n");
      if (eol == std::string::npos) break;
      std::string line = in.substr(0, eol);
      in.erase(0, eol + 2);
      {
        std::lock_guard lock(mu_);
        commands_.push_back(line);
      }
      std::string reply = script_.on_command ? script_.on_command(line) : std::string();
      std::string verb = line.substr(0, 4);
      for (char& c : verb) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
      if (reply.empty()) {
        if (verb == "EHLO")
          reply = script_.ehlo_reply;
        else if (verb == "DATA")
          reply = "354 go ahead\r\n";
        else if (verb == "QUIT")
          reply = "221 bye\r\n";
        else
          reply = "250 ok\r\n";
      }
      if (verb == "DATA" && reply.starts_with("354")) in_data = true;
      if (verb == "BDAT") {  // only "BDAT <n> LAST" is supported: the reply follows the data
        bdat_left = std::stoul(line.substr(5));
        bdat_pending = true;
        continue;
      }
      if (!send_all(fd, reply)) return;
      if (verb == "QUIT") return;
    }
  }
}

}  // namespace mx::testing
