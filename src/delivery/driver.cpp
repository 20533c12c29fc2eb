// The thin I/O loop around smtp::Session (see driver.hpp).
#include "delivery/driver.hpp"

#include <array>
#include <string>
#include <string_view>
#include <variant>

namespace mx::delivery {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};

constexpr std::size_t kLogLineMax = 512;

/// Splits server bytes into lines for the transcript, without trusting their length.
class TranscriptLines {
 public:
  explicit TranscriptLines(Progress& p) : progress_(p) {}
  void add(std::string_view bytes) {
    for (char c : bytes) {
      if (c == '\n') {
        flush();
        continue;
      }
      if (c == '\r') continue;
      if (line_.size() < kLogLineMax) {
        // Terminal control characters from a hostile server never reach the user's terminal.
        line_ += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
      } else {
        truncated_ = true;
      }
    }
  }
  void flush() {
    if (truncated_) line_ += "...";
    progress_.received(line_);
    line_.clear();
    truncated_ = false;
  }

 private:
  Progress& progress_;
  std::string line_;
  bool truncated_ = false;
};

}  // namespace

DriverResult drive_session(Fd socket, smtp::Session& session, tls::Context& tls_context,
                           const tls::HandshakeParams& tls_params, const message::Spool& message,
                           Progress& progress, const Timeouts& timeouts) {
  DriverResult result;
  auto plain = std::make_unique<net::SocketStream>(std::move(socket));
  std::unique_ptr<tls::TlsStream> secure;
  auto stream = [&]() -> net::Stream& {
    if (secure) return *secure;
    return *plain;
  };
  TranscriptLines transcript(progress);
  std::array<char, 16 * 1024> buf{};
  std::string corked;    // commands not yet written: they go out with the next write
  bool waiting = true;  // the next read completes a round trip (the greeting is the first)

  auto flush = [&](Deadline deadline) -> Result<void> {
    if (corked.empty()) return {};
    auto w = stream().write_all(corked, deadline);
    corked.clear();
    waiting = true;
    return w;
  };

  for (bool done = false; !done;) {
    smtp::Action action = session.next();
    std::visit(Overloaded{
                   [&](smtp::Send& s) {
                     for (const auto& line : s.log_lines) progress.sent(line);
                     corked += s.bytes;
                   },
                   [&](smtp::Receive&) {
                     if (auto w = flush(timeouts.for_phase(session.phase())); !w) {
                       session.connection_lost(std::move(w).error());
                       return;
                     }
                     auto n = stream().read_some(buf, timeouts.for_phase(session.phase()));
                     if (!n) {
                       session.connection_lost(std::move(n).error());
                       return;
                     }
                     if (*n == 0) {
                       session.connection_lost(
                           temporary_error(Stage::connect, "the server closed the connection"));
                       return;
                     }
                     if (waiting) {
                       ++result.round_trips;
                       waiting = false;
                     }
                     std::string_view got(buf.data(), *n);
                     transcript.add(got);
                     session.feed(got);
                   },
                   [&](smtp::StartTls&) {
                     if (auto w = flush(timeouts.for_phase(session.phase())); !w) {
                       session.connection_lost(std::move(w).error());
                       return;
                     }
                     auto hs = tls::handshake(plain->release_fd(), tls_context, tls_params,
                                              timeouts.for_tls_handshake());
                     ++result.round_trips;
                     waiting = false;
                     if (!hs) {
                       progress.note("TLS handshake failed: " + hs.error().detail);
                       result.tls_failure = hs.error();
                       session.tls_failed(std::move(hs).error());
                       return;
                     }
                     secure = std::move(*hs);
                     const tls::Info& info = secure->info();
                     progress.note("TLS established: " + info.version + " " + info.cipher +
                                   ", server key SPKI SHA-256 " + info.spki_sha256 +
                                   (info.pkix_valid
                                        ? " (PKIX-valid certificate)"
                                        : " (certificate not verified: " + info.pkix_error + ")"));
                     result.tls = info;
                     // Verified (DANE or PKIX) when verification was asked for: the handshake fails
                     // otherwise.
                     session.tls_started(tls_params.verify != tls::Verify::none);
                   },
                   [&](smtp::SendBody& b) {
                     progress.sent("(message body, " + std::to_string(message.size()) + " octets" +
                                   (b.dot_stuffed ? ", dot-stuffed)" : ")"));
                     // The first body chunk carries the corked commands: one write for the whole
                     // group.
                     auto sink = [&](std::string_view chunk) -> Result<void> {
                       Deadline d = timeouts.for_data_block();
                       if (!corked.empty()) {
                         corked += chunk;
                         return flush(d);
                       }
                       waiting = true;
                       return stream().write_all(chunk, d);
                     };
                     // DATA needs RFC 5321 §4.5.2 transparency; BDAT (RFC 3030) sends the octets
                     // exactly as counted in its size argument.
                     auto w = b.dot_stuffed ? message::write_dot_stuffed(message, sink)
                                            : message.for_each_chunk(sink);
                     if (w) w = flush(timeouts.for_data_block());  // an empty BDAT body
                     if (!w) {
                       session.connection_lost(std::move(w).error());
                       return;
                     }
                     session.body_sent();
                   },
                   [&](smtp::Idle&) { done = true; },
                   [&](smtp::Done&) { done = true; },
               },
               action);
  }
  // QUIT (and anything else corked) goes out; its reply is a courtesy and never changes the
  // outcome.
  if (!corked.empty() && flush(timeouts.for_phase(smtp::Phase::quit)) && session.quit_sent()) {
    Deadline grace = timeouts.for_phase(smtp::Phase::quit);
    for (;;) {
      auto n = stream().read_some(buf, grace);
      if (!n || *n == 0) break;
      std::string_view got(buf.data(), *n);
      transcript.add(got);
      if (got.find('\n') != std::string_view::npos) break;
    }
  }
  if (secure) (void)secure->shutdown(timeouts.for_phase(smtp::Phase::quit));
  return result;
}

}  // namespace mx::delivery
