// Runs one sans-I/O smtp::Session over a real connection: writes what it asks, reads and feeds
// replies under the RFC 5321 §4.5.3.2 timeout of the current phase, performs STARTTLS, streams the
// body.
#pragma once

#include <memory>
#include <optional>

#include "core/progress.hpp"
#include "delivery/timeouts.hpp"
#include "message/spool.hpp"
#include "message/wire_chunks.hpp"
#include "net/socket.hpp"
#include "smtp/phase.hpp"
#include "smtp/session.hpp"
#include "tls/context.hpp"
#include "tls/tls_stream.hpp"

namespace mx::delivery {

struct DriverResult {
  std::optional<tls::Info> tls;      // set when STARTTLS succeeded
  std::optional<Error> tls_failure;  // set when the TLS handshake failed
  int round_trips = 0;               // times the client waited for the server
};

/// Drives `session` to completion over the connected socket. Writes are corked: everything the
/// session sends before it next waits for the server goes out in one write (RFC 2920 §3.1). The
/// session's outcome() then says what happened; transport failures are reported into the session
/// (connection_lost/tls_failed).
DriverResult drive_session(Fd socket, smtp::Session& session, tls::Context& tls_context,
                           const tls::HandshakeParams& tls_params, const message::Spool& message,
                           Progress& progress, const Timeouts& timeouts);

}  // namespace mx::delivery
