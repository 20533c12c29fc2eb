// Runs sans-I/O smtp::Sessions over a real connection: writes what the session asks, reads and
// feeds replies under the RFC 5321 §4.5.3.2 timeout of the current phase, performs STARTTLS and
// streams the body. A connection can carry several messages (SessionOptions::keep_open).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>

#include "core/progress.hpp"
#include "delivery/timeouts.hpp"
#include "message/spool.hpp"
#include "message/wire_chunks.hpp"
#include "net/dialer.hpp"
#include "net/socket.hpp"
#include "sasl/client.hpp"
#include "smtp/phase.hpp"
#include "smtp/session.hpp"
#include "tls/context.hpp"
#include "tls/tls_stream.hpp"

namespace mx::delivery {

struct DriverResult {
  std::optional<tls::Info> tls;      // set once STARTTLS succeeded on this connection
  std::optional<Error> tls_failure;  // set when the TLS handshake failed
  int round_trips = 0;               // times the client waited for the server during this run
};

class SmtpConnection {
 public:
  /// Takes the dialed connection: its socket, and the proxy child carrying it if any.
  /// With `implicit_tls` the handshake comes first (RFC 8314 §3), before the greeting.
  SmtpConnection(net::Connection dialed, tls::Context& tls_context, tls::HandshakeParams tls_params,
                 Progress& progress, const Timeouts& timeouts, bool implicit_tls = false);
  SmtpConnection(const SmtpConnection&) = delete;
  SmtpConnection& operator=(const SmtpConnection&) = delete;
  ~SmtpConnection();

  /// Drives `session` until it is Idle (keep_open) or Done, streaming `message` when asked.
  /// Writes are corked: everything the session sends before it next waits for the server goes
  /// out in one write (RFC 2920 §3.1). Transport failures are reported into the session.
  DriverResult run(smtp::Session& session, const message::Spool& message);

  /// RFC 8314 implicit TLS: the handshake before the session starts, so that the session can
  /// be created knowing the channel binding. Only with implicit_tls; at most once.
  Result<void> implicit_handshake(DriverResult& result);
  /// The TLS channel binding (RFC 9266 tls-exporter, RFC 5929 tls-unique) once TLS is up.
  std::optional<sasl::ChannelBinding> channel_binding() const;

  /// Ends an idle session politely: QUIT, a short grace for its reply, TLS close_notify.
  void close(smtp::Session& session);

 private:
  net::Stream& stream();
  Result<void> flush(Deadline deadline);
  void finish(smtp::Session& session);

  // The proxy child (if any) outlives the streams: declared first, destroyed last, so it
  // sees the socket close and exits by itself before it is reaped.
  std::unique_ptr<net::ChildProcess> child_;
  std::unique_ptr<net::SocketStream> plain_;
  std::unique_ptr<tls::TlsStream> secure_;
  tls::Context& tls_context_;
  tls::HandshakeParams tls_params_;
  Progress& progress_;
  const Timeouts& timeouts_;
  std::optional<tls::Info> tls_info_;
  std::string corked_;   // commands not yet written: they go out with the next write
  bool waiting_ = true;  // the next read completes a round trip (the greeting is the first)
  int round_trips_ = 0;
  std::string transcript_line_;  // server bytes of the current line, for the transcript
  bool transcript_truncated_ = false;
  std::array<char, 16 * 1024> buf_{};
  bool finished_ = false;
  // RFC 5321 §4.5.3.2: a timeout bounds the wait for a whole reply, not each read, so a server
  // dripping one byte at a time cannot stretch it. A new wait starts after each write or when
  // the session moves on to another phase.
  Deadline reply_deadline_ = Deadline::never();
  smtp::Phase deadline_phase_ = smtp::Phase::done;
  bool deadline_set_ = false;
  Deadline reply_deadline(smtp::Phase phase);
  bool implicit_tls_pending_ = false;  // the RFC 8314 handshake has not run yet

  /// Runs the TLS handshake on the plain socket; false (with the session told) on failure.
  bool start_tls(smtp::Session* session, DriverResult& result);

  void transcript(std::string_view bytes);
};

}  // namespace mx::delivery
