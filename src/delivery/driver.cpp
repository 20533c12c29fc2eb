// The thin I/O loop around smtp::Session (see driver.hpp).
#include "delivery/driver.hpp"

#include <sys/socket.h>

#include <string_view>
#include <variant>

namespace mx::delivery {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};

constexpr std::size_t kLogLineMax = 512;

}  // namespace

SmtpConnection::SmtpConnection(net::Connection dialed, tls::Context& tls_context,
                               tls::HandshakeParams tls_params, Progress& progress,
                               const Timeouts& timeouts, bool implicit_tls)
    : child_(std::move(dialed.child)),
      plain_(std::make_unique<net::SocketStream>(std::move(dialed.fd))),
      tls_context_(tls_context),
      tls_params_(std::move(tls_params)),
      progress_(progress),
      timeouts_(timeouts),
      implicit_tls_pending_(implicit_tls) {}

SmtpConnection::~SmtpConnection() = default;

net::Stream& SmtpConnection::stream() {
  if (secure_) return *secure_;
  return *plain_;
}

Result<void> SmtpConnection::flush(Deadline deadline) {
  if (corked_.empty()) return {};
  auto w = stream().write_all(corked_, deadline);
  corked_.clear();
  waiting_ = true;
  deadline_set_ = false;
  return w;
}

Deadline SmtpConnection::reply_deadline(smtp::Phase phase) {
  if (!deadline_set_ || phase != deadline_phase_) {
    reply_deadline_ = timeouts_.for_phase(phase);
    deadline_phase_ = phase;
    deadline_set_ = true;
  }
  return reply_deadline_;
}

// Splits server bytes into lines for the transcript without trusting their length; terminal
// control characters from a hostile server never reach the user's terminal.
void SmtpConnection::transcript(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n') {
      if (transcript_truncated_) transcript_line_ += "...";
      progress_.received(transcript_line_);
      transcript_line_.clear();
      transcript_truncated_ = false;
    } else if (c == '\r') {
      continue;
    } else if (transcript_line_.size() < kLogLineMax) {
      transcript_line_ += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    } else {
      transcript_truncated_ = true;
    }
  }
}

Result<void> SmtpConnection::implicit_handshake(DriverResult& result) {
  if (!implicit_tls_pending_) return {};
  implicit_tls_pending_ = false;
  if (!start_tls(nullptr, result)) return fail(*result.tls_failure);
  return {};
}

std::optional<sasl::ChannelBinding> SmtpConnection::channel_binding() const {
  if (!secure_) return std::nullopt;
  auto type = secure_->channel_binding_type();
  if (!type) return std::nullopt;
  auto data = secure_->channel_binding(*type);
  if (!data) return std::nullopt;
  return sasl::ChannelBinding{*type, std::move(*data)};
}

bool SmtpConnection::start_tls(smtp::Session* session, DriverResult& result) {
  auto hs = tls::handshake(plain_->release_fd(), tls_context_, tls_params_,
                           timeouts_.for_tls_handshake());
  ++round_trips_;
  waiting_ = false;
  if (!hs) {
    progress_.note("TLS handshake failed: " + hs.error().detail);
    result.tls_failure = hs.error();
    if (session) session->tls_failed(std::move(hs).error());
    return false;
  }
  secure_ = std::move(*hs);
  const tls::Info& info = secure_->info();
  std::string how;
  if (info.dane_verified)
    how = " (DANE: matched TLSA " + info.dane_record + " at depth " +
          std::to_string(info.dane_depth) + ")";
  else if (info.pkix_valid)
    how = " (PKIX-valid certificate)";
  else
    how = " (certificate not verified: " + info.pkix_error + ")";
  progress_.note("TLS established: " + info.version + " " + info.cipher +
                 ", server key SPKI SHA-256 " + info.spki_sha256 + how);
  tls_info_ = info;
  return true;
}

DriverResult SmtpConnection::run(smtp::Session& session, const message::Spool& message) {
  DriverResult result;
  round_trips_ = 0;
  if (implicit_tls_pending_) {
    implicit_tls_pending_ = false;
    // RFC 8314 §3.3: TLS first; the session was created with tls_active and never asks.
    if (!start_tls(&session, result)) {
      result.round_trips = round_trips_;
      return result;
    }
  }
  for (bool stop = false; !stop;) {
    smtp::Action action = session.next();
    std::visit(
        Overloaded{
            [&](smtp::Send& s) {
              for (const auto& line : s.log_lines) progress_.sent(line);
              corked_ += s.bytes;
            },
            [&](smtp::Receive&) {
              if (auto w = flush(timeouts_.for_phase(session.phase())); !w) {
                session.connection_lost(std::move(w).error());
                return;
              }
              auto n = stream().read_some(buf_, reply_deadline(session.phase()));
              if (!n) {
                session.connection_lost(std::move(n).error());
                return;
              }
              if (*n == 0) {
                session.connection_lost(
                    temporary_error(Stage::connect, "the server closed the connection"));
                return;
              }
              if (waiting_) {
                ++round_trips_;
                waiting_ = false;
              }
              std::string_view got(buf_.data(), *n);
              transcript(got);
              session.feed(got);
            },
            [&](smtp::StartTls&) {
              if (auto w = flush(timeouts_.for_phase(session.phase())); !w) {
                session.connection_lost(std::move(w).error());
                return;
              }
              // Authenticated (DANE or PKIX) when verification was asked for: the handshake
              // fails otherwise. The channel binding lets SCRAM-*-PLUS bind to this session.
              if (start_tls(&session, result))
                session.tls_started(tls_params_.verify != tls::Verify::none, channel_binding());
            },
            [&](smtp::SendBody& b) {
              progress_.sent("(message body, " + std::to_string(message.size()) + " octets" +
                             (b.dot_stuffed ? ", dot-stuffed)" : ")"));
              if (b.dot_stuffed) {
                // After 354 the server says nothing until the final dot. If it already closed
                // (or talks in plaintext), the message cannot be delivered: say so now rather
                // than send it into a dead socket and report "may have been delivered" after
                // the dot. A peek at the socket itself sees the FIN under TLS too; TLS records
                // (a session ticket) are left for the TLS layer.
                char c = 0;
                ssize_t n =
                    ::recv(secure_ ? secure_->fd() : plain_->fd(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
                if (n == 0 || (n > 0 && !secure_)) {
                  session.connection_lost(temporary_error(
                      Stage::smtp, n == 0 ? "the server closed the connection after its 354"
                                          : "the server sent data before the message body"));
                  return;
                }
              }
              // The first body chunk carries the corked commands: one write for the group.
              auto sink = [&](std::string_view chunk) -> Result<void> {
                Deadline d = timeouts_.for_data_block();
                if (!corked_.empty()) {
                  corked_ += chunk;
                  return flush(d);
                }
                waiting_ = true;
                return stream().write_all(chunk, d);
              };
              // DATA needs RFC 5321 §4.5.2 transparency; BDAT (RFC 3030) sends the octets
              // exactly as counted in its size argument.
              auto w = b.dot_stuffed ? message::write_dot_stuffed(message, sink)
                                     : message.for_each_chunk(sink);
              if (w) w = flush(timeouts_.for_data_block());  // an empty BDAT body
              if (!w) {
                session.connection_lost(std::move(w).error());
                return;
              }
              session.body_sent();
            },
            [&](smtp::Idle&) { stop = true; },
            [&](smtp::Done&) {
              stop = true;
              finish(session);
            },
        },
        action);
  }
  result.tls = tls_info_;
  result.round_trips = round_trips_;
  return result;
}

void SmtpConnection::close(smtp::Session& session) {
  if (finished_) return;
  session.quit();
  // quit() queues QUIT; collect what the session hands over until it is done.
  for (int i = 0; i < 4; ++i) {
    smtp::Action action = session.next();
    auto* send = std::get_if<smtp::Send>(&action);
    if (send == nullptr) break;
    for (const auto& line : send->log_lines) progress_.sent(line);
    corked_ += send->bytes;
  }
  finish(session);
}

void SmtpConnection::finish(smtp::Session& session) {
  if (finished_) return;
  finished_ = true;
  // QUIT (and anything else corked) goes out; its reply is a courtesy and never changes the
  // outcome.
  Deadline grace = timeouts_.for_phase(smtp::Phase::quit);
  if (!corked_.empty() && flush(grace) && session.quit_sent()) {
    for (;;) {
      auto n = stream().read_some(buf_, grace);
      if (!n || *n == 0) break;
      std::string_view got(buf_.data(), *n);
      transcript(got);
      if (got.find('\n') != std::string_view::npos) break;
    }
  }
  if (secure_) (void)secure_->shutdown(grace);
}

}  // namespace mx::delivery
