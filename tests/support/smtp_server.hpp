// A tiny scripted SMTP server on a loopback socket for tests: each connection gets a greeting,
// then a handler decides the reply to every command; message data is collected after a 354.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mx::testing {

struct ServerScript {
  std::string greeting = "220 test.example ESMTP\r\n";
  std::string ehlo_reply = "250-test.example\r\n250 PIPELINING\r\n";
  /// Reply to a command line (without CRLF); empty = use the defaults (250 / 354 for DATA).
  std::function<std::string(const std::string& line)> on_command;
  /// Reply to the end of the message data; empty string = close the connection instead.
  std::string final_reply = "250 2.0.0 queued\r\n";
  bool close_after_greeting = false;
};

class SmtpServer {
 public:
  /// Listens on ip:port (port 0 = ephemeral).
  SmtpServer(const std::string& ip, std::uint16_t port, ServerScript script);
  ~SmtpServer();
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  std::uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  /// Commands received, over all connections, in order.
  std::vector<std::string> commands() const;
  /// Message data received (dot-unstuffing not applied), one entry per accepted message.
  std::vector<std::string> messages() const;

 private:
  void serve();
  void session(int fd);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  ServerScript script_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<std::string> commands_;
  std::vector<std::string> messages_;
  std::thread thread_;
};

}  // namespace mx::testing
