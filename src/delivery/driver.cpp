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
      if (line_.size() < kLogLineMax)
        line_ += c;
      else
        truncated_ = true;
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
                           Progress& progress) {
  DriverResult result;
  std::unique_ptr<net::SocketStream> plain = std::make_unique<net::SocketStream>(std::move(socket));
  std::unique_ptr<tls::TlsStream> secure;
  auto stream = [&]() -> net::Stream& {
    if (secure) return *secure;
    return *plain;
  };
  auto deadline = [&] { return Deadline::after(smtp::default_timeout(session.phase())); };
  TranscriptLines transcript(progress);
  std::array<char, 16 * 1024> buf{};
  bool waiting = false;  // counts a round trip on the first read after a write

  for (;;) {
    smtp::Action action = session.next();
    bool done = std::visit(
        Overloaded{
            [&](smtp::Send& s) {
              for (const auto& line : s.log_lines) progress.sent(line);
              if (auto w = stream().write_all(s.bytes, deadline()); !w) {
                session.connection_lost(std::move(w).error());
                return false;
              }
              waiting = true;
              return false;
            },
            [&](smtp::Receive&) {
              auto n = stream().read_some(buf, deadline());
              if (!n) {
                session.connection_lost(std::move(n).error());
                return false;
              }
              if (*n == 0) {
                session.connection_lost(
                    temporary_error(Stage::connect, "the server closed the connection"));
                return false;
              }
              if (waiting) {
                ++result.round_trips;
                waiting = false;
              }
              std::string_view got(buf.data(), *n);
              transcript.add(got);
              session.feed(got);
              return false;
            },
            [&](smtp::StartTls&) {
              Fd fd = plain->release_fd();
              auto hs = tls::handshake(std::move(fd), tls_context, tls_params, deadline());
              ++result.round_trips;
              if (!hs) {
                progress.note("TLS handshake failed: " + hs.error().detail);
                session.tls_failed(std::move(hs).error());
                return false;
              }
              secure = std::move(*hs);
              const tls::Info& info = secure->info();
              progress.note("TLS established: " + info.version + " " + info.cipher +
                            ", server key SPKI SHA-256 " + info.spki_sha256 +
                            (info.pkix_valid
                                 ? " (PKIX-valid certificate)"
                                 : " (certificate not verified: " + info.pkix_error + ")"));
              result.tls = info;
              session.tls_started();
              return false;
            },
            [&](smtp::SendBody&) {
              progress.sent("(message body, " + std::to_string(message.size()) + " octets)");
              auto w = message::write_dot_stuffed(message, [&](std::string_view chunk) {
                return stream().write_all(
                    chunk, Deadline::after(smtp::kDataBlockTimeout));
              });
              if (!w) {
                session.connection_lost(std::move(w).error());
                return false;
              }
              waiting = true;
              session.body_sent();
              return false;
            },
            [&](smtp::Done&) { return true; },
        },
        action);
    if (done) break;
  }
  // The QUIT reply is a courtesy: give it a short grace and never let it change the outcome.
  if (session.quit_sent()) {
    auto grace = Deadline::after(smtp::default_timeout(smtp::Phase::quit));
    while (!grace.expired()) {
      auto n = stream().read_some(buf, grace);
      if (!n || *n == 0) break;
      transcript.add(std::string_view(buf.data(), *n));
      if (std::string_view(buf.data(), *n).find('\n') != std::string_view::npos) break;
    }
  }
  return result;
}

}  // namespace mx::delivery
