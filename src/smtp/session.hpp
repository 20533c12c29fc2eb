// Sans-I/O client side of one SMTP connection (RFC 5321 §3-4, STARTTLS RFC 3207, PIPELINING
// RFC 2920, AUTH RFC 4954, CHUNKING RFC 3030, DSN RFC 3461, LIMITS RFC 9422, REQUIRETLS RFC 8689).
// The driver feeds server bytes and performs actions; one message may take several transactions.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "sasl/client.hpp"
#include "smtp/capabilities.hpp"
#include "smtp/phase.hpp"
#include "smtp/reply.hpp"

namespace mx::smtp {

/// RFC 3461 §4.1 NOTIFY: all false means NEVER.
struct Notify {
  bool success = false;
  bool failure = false;
  bool delay = false;
};

struct Recipient {
  Recipient() = default;
  Recipient(std::string mailbox) : address(std::move(mailbox)) {}  // NOLINT: implicit by design
  Recipient(const char* mailbox) : address(mailbox) {}             // NOLINT

  std::string address;               // mailbox; re-validated with parse_mailbox
  std::optional<Notify> notify;      // RFC 3461 NOTIFY=, only when the server has DSN
  std::optional<std::string> orcpt;  // RFC 3461 §4.2 original recipient, sent xtext-encoded
};

struct Envelope {
  std::string reverse_path;           // "" (or "<>") = null sender
  std::vector<Recipient> recipients;  // in order; Outcome::recipients matches it
  bool body_8bit = false;             // needs 8BITMIME (RFC 6152)
  bool smtputf8 = false;              // needs SMTPUTF8 (RFC 6531); implied by UTF-8 addresses
  /// The exact normalized message size: SIZE= (RFC 1870) and BDAT (RFC 3030). 0 = unknown,
  /// which also means DATA is used instead of BDAT.
  std::uint64_t size = 0;
  std::optional<std::string> ret;    // RFC 3461 §4.3: "FULL" or "HDRS" (any case)
  std::optional<std::string> envid;  // RFC 3461 §4.4: printable ASCII, sent xtext-encoded
  bool requiretls = false;           // RFC 8689: only over authenticated TLS, MAIL ... REQUIRETLS
};

enum class TlsMode { none, opportunistic, required };

/// SMTP AUTH (RFC 4954) after the EHLO that follows STARTTLS, before the first MAIL.
struct AuthOptions {
  sasl::Credentials credentials;
  std::optional<std::string> mechanism;  // explicit: this one, or the session fails
  std::vector<std::string> allowed;      // restricts the automatic choice; empty = all
  bool client_certificate = false;       // the TLS context presents one (enables EXTERNAL)
};

struct SessionOptions {
  std::string helo_name;  // our name for EHLO/HELO: a domain or address literal, ASCII
  TlsMode tls = TlsMode::opportunistic;
  bool tls_active = false;         // implicit TLS, or TLS already running
  bool tls_authenticated = false;  // with tls_active: the server was authenticated (DANE/PKIX)
  bool use_chunking = true;        // BDAT instead of DATA when the server has CHUNKING
  /// false: QUIT after the message. true: Idle after it; then start_transaction() or quit().
  bool keep_open = false;
  /// Probe only: greeting, EHLO, STARTTLS, EHLO (and AUTH when configured), then QUIT (or Idle
  /// with keep_open) without any transaction; the envelope is ignored.
  bool probe = false;
  /// Authenticate before the first MAIL; only ever over TLS.
  std::optional<AuthOptions> auth;
  /// With tls_active (implicit TLS): the connection's channel binding for SCRAM-*-PLUS.
  std::optional<sasl::ChannelBinding> channel_binding;
};

// Actions for the driver.
struct Send {  // write `bytes`; log_lines are what to print after ">>>"
  std::string bytes;
  std::vector<std::string> log_lines;
};
struct Receive {};   // read more bytes from the server and feed() them
struct StartTls {};  // do the TLS handshake now, then call tls_started() or tls_failed()
/// Stream the message, then call body_sent(). dot_stuffed: DATA, stuffed and ending ".\r\n";
/// otherwise BDAT: exactly Envelope::size octets as they are. For BDAT it follows the Send of
/// the commands without waiting, so both may go in one write.
struct SendBody {
  bool dot_stuffed = true;
};
struct Idle {};  // keep_open: the message is finished; start_transaction() or quit()
struct Done {};  // finished; see outcome()
using Action = std::variant<Send, Receive, StartTls, SendBody, Idle, Done>;

struct RecipientResult {
  std::string recipient;            // as used in RCPT TO (canonical "local@domain")
  bool accepted = false;            // the last RCPT for it got 2xx
  bool delivered = false;           // ... and its transaction completed: the server has the message
  std::optional<Reply> reply;       // the last RCPT reply (452 for one deferred and never retried)
  std::optional<Reply> data_reply;  // the 2xx to the dot or BDAT when delivered
};

struct Outcome {
  bool delivered = false;  // some recipient was delivered; recipients[i].delivered says which
  std::vector<RecipientResult> recipients;  // one per envelope recipient, in order
  std::optional<Reply> final_reply;         // the last reply to a dot or BDAT with recipients
  std::optional<Error> error;  // why not every recipient was delivered or rejected, if so
  bool dsn_dropped = false;    // DSN parameters were requested but the server lacks DSN
  int transactions = 0;        // MAIL commands sent for this message
};

class Session {
 public:
  Session(Envelope envelope, SessionOptions options);

  /// Server bytes as read; they are only interpreted by next(). Ignored once done.
  void feed(std::string_view server_bytes);
  /// What the driver should do now. Repeats StartTls/SendBody/Idle until the matching call;
  /// Done is final. QUIT is the last Send before Done: its reply is never needed (the driver
  /// may give it default_timeout(Phase::quit) of grace when quit_sent()).
  Action next();

  void tls_started() { tls_started(false); }
  /// Handshake ok: forget old capabilities, send EHLO again. `authenticated`: DANE or PKIX
  /// verified the server (needed for REQUIRETLS). `binding`: the new connection's channel
  /// binding (TlsStream::channel_binding_type() and channel_binding()), for SCRAM-*-PLUS.
  void tls_started(bool authenticated, std::optional<sasl::ChannelBinding> binding = std::nullopt);
  void tls_failed(Error why);       // ends the session with that error
  void body_sent();                 // the body (DATA: including ".\r\n") was written
  void connection_lost(Error why);  // EOF, I/O error or timeout; ignored once done

  /// keep_open: Idle, the connection healthy and the server's MAILMAX not reached.
  bool can_reuse() const;
  /// Sends another message over this connection (RSET first when the last transaction failed
  /// midway). outcome() is then that message's. Without can_reuse() the message fails at once.
  void start_transaction(Envelope next);
  /// Ends the session with QUIT (when Idle; mid-transaction the message fails).
  void quit();

  Phase phase() const;
  const Capabilities& capabilities() const { return caps_; }
  bool tls_active() const { return tls_active_; }
  bool authenticated() const { return authenticated_; }  // AUTH succeeded (235)
  bool quit_sent() const { return quit_sent_; }          // QUIT was (or is about to be) sent
  const Outcome& outcome() const { return outcome_; }

 private:
  enum class Cmd : std::uint8_t {
    greeting,
    ehlo,
    helo,
    starttls,
    auth,         // AUTH and each response to a 334 challenge
    auth_cancel,  // "*" (RFC 4954 §4)
    rset,
    mail,
    rcpt,
    data,
    dot,
    empty_dot,
    bdat,
  };
  struct Pending {
    Cmd cmd;
    std::string command;  // as logged, for error reports
    std::size_t rcpt = 0;
  };
  enum class Wait : std::uint8_t { reply, tls, body, idle, done };

  Result<void> prepare(Envelope envelope);
  void queue(Cmd cmd, std::string command, std::size_t rcpt = 0);
  void end(Error error, bool send_quit);
  void send_quit();
  void handle(const Pending& p, Reply reply);
  void on_greeting(const Pending& p, Reply reply);
  void on_ehlo(const Pending& p, Reply reply);
  void on_starttls(const Pending& p, Reply reply);
  void on_auth(const Pending& p, Reply reply);
  void proceed();
  void begin_auth();
  void queue_secret(Cmd cmd, const std::string& line, std::string log_line, std::string command);
  void cancel_auth(const Pending& p, Error why);
  void on_rset(const Pending& p, Reply reply);
  void on_mail(const Pending& p, Reply reply);
  void on_rcpt(const Pending& p, Reply reply);
  void on_data(const Pending& p, Reply reply);
  void on_final_dot(const Pending& p, Reply reply);
  void on_bdat(const Pending& p, Reply reply);
  void after_hello();
  void begin_message();
  std::optional<Error> message_checks() const;
  void next_transaction();
  void send_mail_group();
  std::string mail_command();
  void queue_rcpt(std::size_t index);
  void queue_body_command();
  void after_rcpts();
  void fail_message(Error error);
  void fail_transaction(Error error);
  void finish_transaction(bool completed);
  void finish_message();
  bool can_mail() const;
  bool awaiting_final_reply() const;
  Error all_rejected_error() const;
  void injection_detected();

  SessionOptions opts_;
  ReplyParser parser_;
  Capabilities caps_;
  bool tls_active_ = false;
  bool tls_authenticated_ = false;
  bool quit_sent_ = false;
  bool authenticated_ = false;
  std::optional<sasl::ChannelBinding> binding_;
  std::optional<sasl::Client> sasl_;  // the AUTH exchange in progress
  std::optional<Error> auth_error_;   // why the exchange was cancelled with "*"
  Wait wait_ = Wait::reply;
  std::deque<Pending> expect_;  // replies still due, in order
  Send out_;                    // bytes not yet handed to the driver

  // The message: checked and encoded once by prepare().
  Envelope env_;
  std::string reverse_path_;             // validated, canonical; "" = null
  bool need_utf8_ = false;               // MAIL needs SMTPUTF8
  bool dsn_requested_ = false;           // some DSN parameter was asked for
  std::string envid_xtext_;              // encoded ENVID value, "" when none
  std::vector<std::string> dsn_params_;  // per recipient: " NOTIFY=... ORCPT=..." or ""
  std::deque<std::size_t> todo_;         // recipients not yet tried (or deferred), in order
  Outcome outcome_;

  // The transaction in progress.
  std::vector<std::size_t> batch_;     // its recipients, in RCPT order
  std::vector<std::size_t> deferred_;  // 452 after an acceptance: for a further transaction
  std::size_t next_rcpt_ = 0;          // without PIPELINING: position in batch_
  std::size_t accepted_ = 0;           // RCPTs accepted in it
  bool pipelining_ = false;            // sent as one group
  bool bdat_ = false;                  // BDAT rather than DATA
  bool body_dot_stuffed_ = true;       // what SendBody says
  bool bdat_pending_ = false;          // BDAT body written, its reply not yet read
  bool draining_ = false;              // failed: reading the rest of its pipelined replies
  std::optional<Error> txn_error_;     // a failure that ends the whole message
  bool need_rset_ = false;             // the last transaction did not complete
  std::uint32_t mails_sent_ = 0;       // MAIL commands in this session (RFC 9422 MAILMAX)
};

}  // namespace mx::smtp
