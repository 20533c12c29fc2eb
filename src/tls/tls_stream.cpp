// The TLS client: a MSG_NOSIGNAL socket BIO, the verify callback that records the PKIX or DANE
// verdict, OpenSSL's DANE setup, the poll-driven handshake, and TlsStream's read/write/shutdown.
#include "tls/tls_stream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "net/socket.hpp"
#include "tls/openssl_error.hpp"

namespace mx::tls {

namespace {

using detail::SocketState;
using detail::VerifyState;

// --- Socket BIO ------------------------------------------------------------------------------
// OpenSSL's own socket BIO writes with write(), which raises SIGPIPE when the server has gone;
// this one uses send(MSG_NOSIGNAL) and remembers errno and EOF for error messages.

SocketState* state_of(BIO* b) {
  return static_cast<SocketState*>(BIO_get_data(b));
}

int bio_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  SocketState* st = state_of(b);
  for (;;) {
    ssize_t n = ::send(st->fd, data, static_cast<std::size_t>(len), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      BIO_set_retry_write(b);
    } else {
      st->last_errno = errno;
    }
    return -1;
  }
}

int bio_read(BIO* b, char* out, int len) {
  BIO_clear_retry_flags(b);
  SocketState* st = state_of(b);
  for (;;) {
    ssize_t n = ::recv(st->fd, out, static_cast<std::size_t>(len), 0);
    if (n > 0) return static_cast<int>(n);
    if (n == 0) {
      st->eof = true;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      BIO_set_retry_read(b);
    } else {
      st->last_errno = errno;
    }
    return -1;
  }
}

int bio_puts(BIO* b, const char* s) {
  return bio_write(b, s, static_cast<int>(std::strlen(s)));
}

long bio_ctrl(BIO* b, int cmd, long /*num*/, void* /*ptr*/) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;           // nothing is buffered here
    case BIO_CTRL_EOF: {  // lets OpenSSL 3 report "unexpected eof while reading"
      SocketState* st = state_of(b);
      return st != nullptr && st->eof ? 1 : 0;
    }
    default:
      return 0;
  }
}

int bio_create(BIO* b) {
  BIO_set_data(b, nullptr);
  BIO_set_init(b, 0);
  return 1;
}

int bio_destroy(BIO* /*b*/) {
  return 1;
}  // the fd belongs to TlsStream

const BIO_METHOD* socket_bio_method() {
  static const UniqueHandle<BIO_METHOD, &BIO_meth_free> method = [] {
    int index = BIO_get_new_index();
    UniqueHandle<BIO_METHOD, &BIO_meth_free> m(
        index == -1 ? nullptr : BIO_meth_new(index | BIO_TYPE_SOURCE_SINK, "mx socket"));
    if (m &&
        (BIO_meth_set_write(m.get(), bio_write) != 1 || BIO_meth_set_read(m.get(), bio_read) != 1 ||
         BIO_meth_set_puts(m.get(), bio_puts) != 1 || BIO_meth_set_ctrl(m.get(), bio_ctrl) != 1 ||
         BIO_meth_set_create(m.get(), bio_create) != 1 ||
         BIO_meth_set_destroy(m.get(), bio_destroy) != 1))
      m.reset();
    return m;
  }();
  return method.get();
}

// --- Verification ----------------------------------------------------------------------------

int verify_state_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Records the first verification failure; Verify::pkix and Verify::dane let it abort the
// handshake, Verify::none only notes it.
int verify_callback(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* st = ssl ? static_cast<VerifyState*>(SSL_get_ex_data(ssl, verify_state_index())) : nullptr;
  if (st == nullptr) return preverify_ok;
  if (preverify_ok != 1 && st->first_error == X509_V_OK)
    st->first_error = X509_STORE_CTX_get_error(store);
  return st->verify == Verify::none ? 1 : preverify_ok;
}

// RFC 6066 §3: the SNI host name carries no trailing dot; certificates never have one either.
std::string without_trailing_dot(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  return name;
}

std::string name_text(const X509_NAME* name) {
  UniqueHandle<BIO, &BIO_free> mem(BIO_new(BIO_s_mem()));
  if (!mem || X509_NAME_print_ex(mem.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(mem.get(), &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

std::string hex(const unsigned char* data, std::size_t len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (std::size_t i = 0; i < len; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xf];
  }
  return out;
}

std::string spki_sha256_hex(X509* cert) {
  X509_PUBKEY* spki = X509_get_X509_PUBKEY(cert);
  int len = i2d_X509_PUBKEY(spki, nullptr);
  if (len <= 0) return {};
  std::vector<unsigned char> der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  if (i2d_X509_PUBKEY(spki, &p) != len) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(der.data(), der.size(), md, &md_len, EVP_sha256(), nullptr) != 1) return {};
  return hex(md, md_len);
}

std::string peer_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "the server";
  char buf[64] = {};
  std::uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
    port = ntohs(sin->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
    port = ntohs(sin6->sin6_port);
  } else {
    return "the server";
  }
  return net::Endpoint{buf, port}.to_string();
}

Error tls_error(std::string detail) {
  return temporary_error(Stage::tls, std::move(detail));
}

Error dane_error(const std::string& name, const std::string& reason) {
  return temporary_error(Stage::dane, "DANE verification of " + name + " failed: " + reason);
}

}  // namespace

// --- TlsStream -------------------------------------------------------------------------------

TlsStream::TlsStream(Fd fd, std::string peer_name)
    : fd_(std::move(fd)), peer_name_(std::move(peer_name)) {
  socket_.fd = fd_.get();
}

TlsStream::~TlsStream() = default;

Result<void> TlsStream::configure(Context& context, const HandshakeParams& params) {
  ERR_clear_error();
  ssl_.reset(SSL_new(context.native()));
  const BIO_METHOD* method = socket_bio_method();
  if (!ssl_ || method == nullptr || verify_state_index() < 0)
    return fail(temporary_error(Stage::internal,
                                "cannot set up a TLS connection: " + take_openssl_errors()));
  BIO* bio = BIO_new(method);
  if (bio == nullptr)
    return fail(temporary_error(Stage::internal, "BIO_new failed: " + take_openssl_errors()));
  BIO_set_data(bio, &socket_);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_.get(), bio, bio);  // the SSL now owns the BIO (one reference for both ends)

  std::string sni = without_trailing_dot(params.sni);
  // RFC 6066 §3: literal IPv4/IPv6 addresses are not permitted in SNI.
  if (!sni.empty() && !net::is_ip_literal(sni) &&
      SSL_set_tlsext_host_name(ssl_.get(), sni.c_str()) != 1)
    return fail(permanent_error(
        Stage::config, "invalid TLS server name \"" + params.sni + "\": " + take_openssl_errors()));

  std::vector<std::string> names;
  for (const auto& n : params.reference_names) names.push_back(without_trailing_dot(n));
  if (names.empty() && !sni.empty() && !net::is_ip_literal(sni)) names.push_back(sni);
  // RFC 6125 §6.4.3: "*" only as the whole left-most label; OpenSSL also never lets it span
  // labels or match a public suffix.
  SSL_set_hostflags(ssl_.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  for (const auto& n : names) {
    if (n.empty())
      return fail(permanent_error(Stage::config, "invalid certificate reference name \"\""));
  }
  if (params.verify == Verify::dane) {
    if (auto r = configure_dane(params, names); !r) return r;
  } else {
    for (std::size_t i = 0; i < names.size(); ++i) {
      int ok = i == 0 ? SSL_set1_host(ssl_.get(), names[i].c_str())
                      : SSL_add1_host(ssl_.get(), names[i].c_str());
      if (ok != 1)
        return fail(permanent_error(Stage::config,
                                    "invalid certificate reference name \"" + names[i] + "\""));
    }
  }
  have_reference_names_ = !names.empty();
  if (params.verify == Verify::pkix && names.empty())
    return fail(permanent_error(Stage::config, "PKIX verification needs a server name"));

  verify_.verify = params.verify;
  SSL_set_ex_data(ssl_.get(), verify_state_index(), &verify_);
  SSL_set_verify(ssl_.get(), SSL_VERIFY_PEER, verify_callback);
  return {};
}

Result<void> TlsStream::configure_dane(const HandshakeParams& params,
                                       const std::vector<std::string>& names) {
  if (names.empty())
    return fail(permanent_error(Stage::config, "DANE verification needs a TLSA base domain"));
  if (params.tlsa.empty())
    return fail(permanent_error(Stage::config, "DANE verification needs TLSA records"));
  // The TLSA base domain is the primary reference identifier (RFC 7671 §5.2.2, RFC 7672 §3.2.2)
  // and, when the caller set none, the SNI (RFC 7672 §8.1).
  if (SSL_dane_enable(ssl_.get(), names.front().c_str()) <= 0)
    return fail(permanent_error(Stage::config, "invalid TLSA base domain \"" + names.front() +
                                                   "\": " + take_openssl_errors()));
  // RFC 7672 §3.1.1: a DANE-EE(3) match authenticates the key alone; names and validity dates
  // of such a certificate are ignored. DANE-TA(2) chains still get the name checks.
  SSL_dane_set_flags(ssl_.get(), DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  for (std::size_t i = 1; i < names.size(); ++i) {
    if (SSL_add1_host(ssl_.get(), names[i].c_str()) != 1)
      return fail(permanent_error(Stage::config,
                                  "invalid certificate reference name \"" + names[i] + "\""));
  }
  std::size_t added = 0;
  for (const auto& r : params.tlsa) {
    // RFC 7672 §3.1.3: PKIX-TA(0)/PKIX-EE(1) are unusable for SMTP, even if a caller passes them.
    if (r.usage != 2 && r.usage != 3) continue;
    const auto* data = reinterpret_cast<const unsigned char*>(r.data.data());
    int ok = SSL_dane_tlsa_add(ssl_.get(), r.usage, r.selector, r.mtype, data, r.data.size());
    if (ok < 0)
      return fail(
          temporary_error(Stage::internal, "cannot add a TLSA record: " + take_openssl_errors()));
    if (ok == 0) {
      ERR_clear_error();  // RFC 7671 §4: an unusable record is skipped, the others still count
      continue;
    }
    ++added;
  }
  // With no record accepted OpenSSL would fall back to PKIX: fail closed instead.
  if (added == 0) return fail(dane_error(peer_name_, "none of the TLSA records is usable"));
  return {};
}

std::string TlsStream::failure_text(int ssl_error) {
  std::string text = take_openssl_errors();
  if (!text.empty()) return text;
  if (ssl_error == SSL_ERROR_SYSCALL) {
    if (socket_.last_errno != 0) return std::strerror(socket_.last_errno);
    if (socket_.eof) return "connection closed by the server";
  }
  return "SSL error " + std::to_string(ssl_error);
}

Result<bool> TlsStream::wait_or_fail(int ssl_error, Deadline deadline, const std::string& what) {
  if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) {
    auto io = ssl_error == SSL_ERROR_WANT_READ ? net::Io::read : net::Io::write;
    return net::wait_ready(fd_.get(), io, deadline);
  }
  // SSL_ERROR_SYSCALL and SSL_ERROR_SSL are fatal: no further OpenSSL I/O on this SSL.
  broken_ = true;
  return fail(tls_error(what + failure_text(ssl_error)));
}

Result<void> TlsStream::run_handshake(Deadline deadline) {
  SSL_set_connect_state(ssl_.get());
  const std::string what = "TLS handshake with " + peer_name_ + " failed: ";
  for (;;) {
    ERR_clear_error();
    socket_.last_errno = 0;
    int r = SSL_do_handshake(ssl_.get());
    if (r == 1) return {};
    int err = SSL_get_error(ssl_.get(), r);
    if (verify_.verify != Verify::none && verify_.first_error != X509_V_OK) {
      broken_ = true;
      ERR_clear_error();
      const char* reason = X509_verify_cert_error_string(verify_.first_error);
      if (verify_.verify == Verify::dane) return fail(dane_error(peer_name_, reason));
      return fail(tls_error("certificate verification failed for " + peer_name_ + ": " + reason));
    }
    auto ready = wait_or_fail(err, deadline, what);
    if (!ready) return fail(std::move(ready).error());
    if (!*ready) {
      broken_ = true;
      return fail(tls_error(what + "timed out"));
    }
  }
}

Result<void> TlsStream::check_dane() {
  // Belt and braces: the verify callback already aborted on a failure, but a handshake must
  // never pass as DANE-authenticated unless OpenSSL names the record that matched.
  long result = SSL_get_verify_result(ssl_.get());
  if (result != X509_V_OK) {
    broken_ = true;
    return fail(dane_error(peer_name_, X509_verify_cert_error_string(result)));
  }
  if (SSL_get0_dane_authority(ssl_.get(), nullptr, nullptr) < 0) {
    broken_ = true;
    return fail(dane_error(peer_name_, "no TLSA record matched"));
  }
  return {};
}

void TlsStream::collect_info() {
  info_.version = SSL_get_version(ssl_.get());
  info_.cipher = SSL_get_cipher_name(ssl_.get());
  X509* cert = SSL_get0_peer_certificate(ssl_.get());
  if (cert == nullptr) {
    info_.pkix_error = "the server sent no certificate";
    return;
  }
  info_.peer_subject = name_text(X509_get_subject_name(cert));
  info_.peer_issuer = name_text(X509_get_issuer_name(cert));
  info_.spki_sha256 = spki_sha256_hex(cert);
  if (verify_.verify == Verify::dane) {
    std::uint8_t usage = 0, selector = 0, mtype = 0;
    const unsigned char* data = nullptr;
    std::size_t len = 0;
    info_.dane_depth = SSL_get0_dane_authority(ssl_.get(), nullptr, nullptr);
    info_.dane_verified = info_.dane_depth >= 0;
    if (SSL_get0_dane_tlsa(ssl_.get(), &usage, &selector, &mtype, &data, &len) >= 0)
      info_.dane_record = std::to_string(usage) + " " + std::to_string(selector) + " " +
                          std::to_string(mtype) + " " + hex(data, len);
    // The chain was checked against the TLSA records, not against the PKIX trust store.
    info_.pkix_error = "not evaluated: DANE authentication";
    return;
  }
  long result =
      verify_.first_error != X509_V_OK ? verify_.first_error : SSL_get_verify_result(ssl_.get());
  if (result != X509_V_OK) {
    info_.pkix_error = X509_verify_cert_error_string(result);
  } else if (!have_reference_names_) {
    // A valid chain proves nothing without a name to bind it to (RFC 6125 §6).
    info_.pkix_error = "no server name to check the certificate against";
  } else {
    info_.pkix_valid = true;
  }
}

Result<std::size_t> TlsStream::read_some(std::span<char> buf, Deadline deadline) {
  if (broken_) return fail(tls_error("TLS connection to " + peer_name_ + " is no longer usable"));
  if (buf.empty()) return fail(temporary_error(Stage::internal, "read_some with an empty buffer"));
  const std::string what = "TLS read from " + peer_name_ + " failed: ";
  for (;;) {
    ERR_clear_error();
    socket_.last_errno = 0;
    std::size_t n = 0;
    int r = SSL_read_ex(ssl_.get(), buf.data(), buf.size(), &n);
    if (r == 1) return n;
    int err = SSL_get_error(ssl_.get(), r);
    if (err == SSL_ERROR_ZERO_RETURN) return std::size_t{0};  // close_notify received
    auto ready = wait_or_fail(err, deadline, what);
    if (!ready) return fail(std::move(ready).error());
    if (!*ready) return fail(tls_error("timed out waiting for the server"));
  }
}

Result<void> TlsStream::write_all(std::string_view data, Deadline deadline) {
  if (broken_) return fail(tls_error("TLS connection to " + peer_name_ + " is no longer usable"));
  if (data.empty()) return {};
  const std::string what = "TLS write to " + peer_name_ + " failed: ";
  for (;;) {
    ERR_clear_error();
    socket_.last_errno = 0;
    // Without SSL_MODE_ENABLE_PARTIAL_WRITE this writes everything as full-size records; after
    // WANT_READ/WANT_WRITE it must be repeated with the same arguments.
    std::size_t written = 0;
    int r = SSL_write_ex(ssl_.get(), data.data(), data.size(), &written);
    if (r == 1) return {};
    int err = SSL_get_error(ssl_.get(), r);
    auto ready = wait_or_fail(err, deadline, what);
    if (!ready) return fail(std::move(ready).error());
    if (!*ready) {
      // A record may be half sent; another write with other data would be a "bad write retry".
      broken_ = true;
      return fail(tls_error("timed out waiting for the server"));
    }
  }
}

Result<void> TlsStream::shutdown(Deadline deadline) {
  if (broken_)
    return fail(tls_error("no close_notify sent to " + peer_name_ + ": the connection failed"));
  const std::string what = "TLS shutdown with " + peer_name_ + " failed: ";
  for (;;) {
    ERR_clear_error();
    socket_.last_errno = 0;
    // 0: our close_notify is out; 1: the server's arrived too. We do not wait for it.
    int r = SSL_shutdown(ssl_.get());
    if (r >= 0) return {};
    int err = SSL_get_error(ssl_.get(), r);
    auto ready = wait_or_fail(err, deadline, what);
    if (!ready) return fail(std::move(ready).error());
    if (!*ready) {
      broken_ = true;
      return fail(tls_error(what + "timed out"));
    }
  }
}

// --- Channel binding -------------------------------------------------------------------------

std::optional<std::string> channel_binding_type(SSL* ssl) {
  int version = SSL_version(ssl);
  if (version == TLS1_3_VERSION) return "tls-exporter";
  // RFC 7627 §5.4: a resumed TLS 1.2 session without extended master secret allows the triple
  // handshake attack, which defeats tls-unique.
  if (version == TLS1_2_VERSION && (!SSL_session_reused(ssl) || SSL_get_extms_support(ssl) == 1))
    return "tls-unique";
  return std::nullopt;
}

Result<std::string> channel_binding(SSL* ssl, std::string_view type) {
  int version = SSL_version(ssl);
  auto refuse = [&](const std::string& why) {
    return fail(
        permanent_error(Stage::tls, "no " + std::string(type) + " channel binding: " + why));
  };
  if (type == "tls-exporter") {
    // RFC 9266 §4.2: with TLS 1.2 only when the extended master secret was negotiated.
    if (version != TLS1_3_VERSION &&
        !(version == TLS1_2_VERSION && SSL_get_extms_support(ssl) == 1))
      return refuse("needs TLS 1.3 or TLS 1.2 with extended master secret");
    // RFC 9266 §2: label "EXPORTER-Channel-Binding", no context, 32 bytes.
    static constexpr char kLabel[] = "EXPORTER-Channel-Binding";
    unsigned char out[32];
    if (SSL_export_keying_material(ssl, out, sizeof out, kLabel, sizeof kLabel - 1, nullptr, 0,
                                   0) != 1)
      return fail(temporary_error(Stage::internal,
                                  "SSL_export_keying_material failed: " + take_openssl_errors()));
    return std::string(reinterpret_cast<char*>(out), sizeof out);
  }
  if (type == "tls-unique") {
    // RFC 8446 §C.5 and RFC 9266 §3: tls-unique is not defined for TLS 1.3.
    if (version != TLS1_2_VERSION) return refuse("only defined for TLS 1.2");
    // RFC 5929 §3.1: the first Finished message of the latest handshake: the client's in a full
    // handshake, the server's when the session was resumed.
    bool client_first = !SSL_session_reused(ssl);
    bool ours = (SSL_is_server(ssl) == 0) == client_first;
    unsigned char buf[EVP_MAX_MD_SIZE];
    std::size_t n =
        ours ? SSL_get_finished(ssl, buf, sizeof buf) : SSL_get_peer_finished(ssl, buf, sizeof buf);
    if (n == 0 || n > sizeof buf) return refuse("no Finished message");
    return std::string(reinterpret_cast<char*>(buf), n);
  }
  return refuse("unknown type");
}

std::optional<std::string> TlsStream::channel_binding_type() const {
  if (broken_ || !ssl_) return std::nullopt;
  return tls::channel_binding_type(ssl_.get());
}

Result<std::string> TlsStream::channel_binding(std::string_view type) const {
  if (broken_ || !ssl_)
    return fail(permanent_error(Stage::tls, "no channel binding: the TLS connection failed"));
  return tls::channel_binding(ssl_.get(), type);
}

Result<std::unique_ptr<TlsStream>> handshake(Fd socket, Context& context,
                                             const HandshakeParams& params, Deadline deadline) {
  if (!socket.valid())
    return fail(temporary_error(Stage::internal, "TLS handshake without a socket"));
  if (!net::set_nonblocking(socket.get()))
    return fail(temporary_error(Stage::internal, "cannot make the socket non-blocking"));
  std::string name = without_trailing_dot(params.sni);
  if (name.empty() && !params.reference_names.empty())
    name = without_trailing_dot(params.reference_names.front());
  if (name.empty()) name = peer_address(socket.get());

  // The constructor is private to keep handshake() the only way in, so make_unique cannot be used.
  std::unique_ptr<TlsStream> stream(new TlsStream(std::move(socket), std::move(name)));
  if (auto r = stream->configure(context, params); !r) return fail(std::move(r).error());
  if (auto r = stream->run_handshake(deadline); !r) return fail(std::move(r).error());
  if (params.verify == Verify::dane) {
    if (auto r = stream->check_dane(); !r) return fail(std::move(r).error());
  }
  stream->collect_info();
  return stream;
}

}  // namespace mx::tls
