// TLS client connections over a non-blocking socket: the handshake (SNI, PKIX evaluation or
// enforcement, DANE authentication) and TlsStream, the encrypted Stream used after STARTTLS.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/deadline.hpp"
#include "core/fd.hpp"
#include "core/result.hpp"
#include "core/unique_handle.hpp"
#include "dns/records.hpp"
#include "net/stream.hpp"
#include "tls/context.hpp"

namespace mx::tls {

/// How the server certificate is treated.
enum class Verify {
  none,  // opportunistic (RFC 7435): encrypt, accept any certificate, still evaluate PKIX
  pkix,  // the handshake fails unless chain and name verify (RFC 6125 §6)
  dane,  // the handshake fails unless a TLSA record matches (RFC 7672 §3, RFC 7671 §5)
};

struct HandshakeParams {
  /// Server Name Indication (RFC 6066 §3); sent when non-empty and not an IP literal.
  /// A trailing dot is dropped.
  std::string sni;
  Verify verify = Verify::none;
  /// DNS names the certificate must match; empty means {sni}. Wildcards match one whole
  /// left-most label only (RFC 6125 §6.4.3, no partial wildcards). A trailing dot is dropped.
  /// Verify::dane: the first is the TLSA base domain; DANE-EE(3) matches ignore all names
  /// (RFC 7672 §3.1.1), DANE-TA(2) chains must match one of them (§3.2.2).
  std::vector<std::string> reference_names;
  /// Verify::dane only: the usable TLSA records (see dane::classify); ignored otherwise.
  std::vector<dns::TlsaRecord> tlsa;
};

/// What the handshake negotiated and what the PKIX evaluation found.
struct Info {
  std::string version;       // "TLSv1.3"
  std::string cipher;        // "TLS_AES_256_GCM_SHA384"
  std::string peer_subject;  // RFC 2253 form, empty without a peer certificate
  std::string peer_issuer;
  std::string spki_sha256;     // hex SHA-256 of the leaf's DER SubjectPublicKeyInfo
  bool pkix_valid = false;     // chain to a trust anchor and a reference name matched
  std::string pkix_error;      // X509_verify_cert_error_string() when not valid
  bool dane_verified = false;  // Verify::dane succeeded
  std::string dane_record;     // the TLSA record that matched, "3 1 1 <hex>"
  int dane_depth = -1;         // chain depth of the certificate it matched (0 = the server's own)
};

namespace detail {
/// What OpenSSL's verify callback records for one connection.
struct VerifyState {
  Verify verify = Verify::none;
  long first_error = X509_V_OK;  // the first PKIX failure, also when it was overridden
};
/// What the socket BIO glue records: the fd and why the last I/O failed.
struct SocketState {
  int fd = -1;
  int last_errno = 0;
  bool eof = false;
};
}  // namespace detail

class TlsStream final : public net::Stream {
 public:
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;
  ~TlsStream() override;

  /// Errors: Stage::tls, temporary. Returns 0 once the server sent close_notify; a close
  /// without close_notify is an error (RFC 8446 §6.1: it may be a truncation attack).
  Result<std::size_t> read_some(std::span<char> buf, Deadline deadline) override;
  /// One SSL_write for the whole buffer: full-size records, one send() per record.
  Result<void> write_all(std::string_view data, Deadline deadline) override;

  const Info& info() const { return info_; }
  int fd() const { return fd_.get(); }

  /// The channel-binding type for SASL -PLUS on this connection: "tls-exporter" on TLS 1.3
  /// (RFC 9266), "tls-unique" on TLS 1.2 (RFC 5929) unless the session was resumed without
  /// extended master secret (RFC 7627 §5.4, triple handshake); nullopt when none is safe.
  std::optional<std::string> channel_binding_type() const;
  /// The binding data of `type` ("tls-exporter" or "tls-unique"). Errors: Stage::tls,
  /// permanent — the type is unknown or not defined for the negotiated version.
  Result<std::string> channel_binding(std::string_view type) const;

  /// Best-effort close_notify (RFC 8446 §6.1); does not wait for the server's.
  Result<void> shutdown(Deadline deadline);

 private:
  friend Result<std::unique_ptr<TlsStream>> handshake(Fd, Context&, const HandshakeParams&,
                                                      Deadline);
  TlsStream(Fd fd, std::string peer_name);

  Result<void> configure(Context& context, const HandshakeParams& params);
  /// SSL_dane_enable with the TLSA base domain, the other names and the records.
  Result<void> configure_dane(const HandshakeParams& params, const std::vector<std::string>& names);
  Result<void> run_handshake(Deadline deadline);
  Result<void> check_dane();
  void collect_info();
  /// Polls as SSL_get_error() asked (WANT_READ/WANT_WRITE): true when ready, false on timeout.
  /// Other SSL errors make the stream broken and come back as an Error with `what` in front.
  Result<bool> wait_or_fail(int ssl_error, Deadline deadline, const std::string& what);
  std::string failure_text(int ssl_error);

  // Order matters: ssl_ (and its BIO) is declared after the fd and states it points into, so
  // it is destroyed first.
  Fd fd_;
  detail::SocketState socket_;
  detail::VerifyState verify_;
  std::string peer_name_;  // for messages: the SNI, first reference name or address
  bool have_reference_names_ = false;
  UniqueHandle<SSL, &SSL_free> ssl_;
  Info info_;
  bool broken_ = false;  // after a fatal error OpenSSL must not be called again
};

/// The same for any SSL, client or server side, once its handshake is done (the test servers
/// use it to compute what the client must send).
std::optional<std::string> channel_binding_type(SSL* ssl);
Result<std::string> channel_binding(SSL* ssl, std::string_view type);

/// Runs the client handshake on a connected socket (made non-blocking if it is not), polling
/// as OpenSSL asks until the deadline. Errors: Stage::tls, temporary —
/// "certificate verification failed for <name>: <reason>" (Verify::pkix) or
/// "TLS handshake with <name> failed: <OpenSSL errors>"; Stage::dane, temporary —
/// "DANE verification of <name> failed: <reason>" (Verify::dane, also when OpenSSL could use
/// none of the records); bad params are Stage::config.
Result<std::unique_ptr<TlsStream>> handshake(Fd socket, Context& context,
                                             const HandshakeParams& params, Deadline deadline);

}  // namespace mx::tls
