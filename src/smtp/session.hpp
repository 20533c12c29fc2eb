// Sans-I/O client side of one SMTP connection carrying one transaction (RFC 5321 §3-4,
// STARTTLS RFC 3207, PIPELINING RFC 2920). The driver feeds server bytes and performs actions.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "smtp/capabilities.hpp"
#include "smtp/phase.hpp"
#include "smtp/reply.hpp"

namespace mx::smtp {

struct Envelope {
  std::string reverse_path;             // "" (or "<>") = null sender
  std::vector<std::string> recipients;  // mailboxes; re-validated with parse_mailbox
  bool body_8bit = false;               // needs 8BITMIME (RFC 6152)
  bool smtputf8 = false;                // needs SMTPUTF8 (RFC 6531); implied by UTF-8 addresses
  std::uint64_t size = 0;               // message size for SIZE= (RFC 1870); 0 = unknown
};

enum class TlsMode { none, opportunistic, required };

struct SessionOptions {
  std::string helo_name;  // our name for EHLO/HELO: a domain or address literal, ASCII
  TlsMode tls = TlsMode::opportunistic;
  bool tls_active = false;  // implicit TLS, or TLS already running
};

// Actions for the driver.
struct Send {  // write `bytes` in ONE write; log_lines are what to print after ">>>"
  std::string bytes;
  std::vector<std::string> log_lines;
};
struct Receive {};   // read more bytes from the server and feed() them
struct StartTls {};  // do the TLS handshake now, then call tls_started() or tls_failed()
struct SendBody {};  // stream the dot-stuffed message ending ".\r\n", then call body_sent()
struct Done {};      // finished; see outcome()
using Action = std::variant<Send, Receive, StartTls, SendBody, Done>;

struct RecipientResult {
  std::string recipient;  // as used in RCPT TO (canonical "local@domain")
  bool accepted = false;
  std::optional<Reply> reply;
};

struct Outcome {
  bool delivered = false;  // final dot got 2xx: the accepted recipients have the message
  std::vector<RecipientResult> recipients;
  std::optional<Reply> final_reply;  // reply to the final dot
  std::optional<Error> error;        // why the transaction failed, if it did
};

class Session {
 public:
  Session(Envelope envelope, SessionOptions options);

  /// Server bytes as read; they are only interpreted by next(). Ignored once done.
  void feed(std::string_view server_bytes);
  /// What the driver should do now. Repeats StartTls/SendBody until the matching call;
  /// Done is final. QUIT is the last Send before Done: its reply is never needed (the driver
  /// may give it default_timeout(Phase::quit) of grace when quit_sent()).
  Action next();

  void tls_started();               // handshake ok: forget old capabilities, send EHLO again
  void tls_failed(Error why);       // ends the session with that error
  void body_sent();                 // the body including the final ".\r\n" was written
  void connection_lost(Error why);  // EOF, I/O error or timeout; ignored once done

  Phase phase() const;
  const Capabilities& capabilities() const { return caps_; }
  bool tls_active() const { return tls_active_; }
  bool quit_sent() const { return quit_sent_; }  // QUIT was (or is about to be) sent
  const Outcome& outcome() const { return outcome_; }

 private:
  enum class Cmd : std::uint8_t {
    greeting,
    ehlo,
    helo,
    starttls,
    mail,
    rcpt,
    data,
    dot,
    empty_dot,
  };
  struct Pending {
    Cmd cmd;
    std::string command;  // as logged, for error reports
    std::size_t rcpt = 0;
  };
  enum class Wait : std::uint8_t { reply, tls, body, done };

  void queue(Cmd cmd, std::string command, std::size_t rcpt = 0);
  void end(Error error, bool send_quit);
  void send_quit();
  void handle(const Pending& p, Reply reply);
  void on_greeting(const Pending& p, Reply reply);
  void on_ehlo(const Pending& p, Reply reply);
  void on_starttls(const Pending& p, Reply reply);
  void on_rcpt(const Pending& p, Reply reply);
  void on_data(const Pending& p, Reply reply);
  void on_final_dot(const Pending& p, Reply reply);
  void after_hello();
  void start_transaction();
  void queue_rcpt(std::size_t index);
  Error all_rejected_error() const;
  void injection_detected();

  Envelope env_;
  SessionOptions opts_;
  std::string reverse_path_;  // validated, canonical; "" = null
  ReplyParser parser_;
  Capabilities caps_;
  bool tls_active_ = false;
  bool pipelining_ = false;  // the transaction was sent as one group
  bool need_utf8_ = false;   // MAIL needs SMTPUTF8
  bool quit_sent_ = false;
  std::size_t accepted_ = 0;
  Wait wait_ = Wait::reply;
  std::deque<Pending> expect_;       // replies still due, in order
  Send out_;                         // bytes not yet handed to the driver
  std::optional<Error> rcpt_error_;  // held while an empty body is sent after 354
  Outcome outcome_;
};

}  // namespace mx::smtp
