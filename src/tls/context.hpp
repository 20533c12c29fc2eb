// The client-side TLS configuration shared by all connections of a run: an SSL_CTX with the
// trust store, protocol floor and modes that the non-blocking TlsStream relies on.
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "core/result.hpp"
#include "core/unique_handle.hpp"

namespace mx::tls {

struct ContextOptions {
  /// PEM trust anchors for PKIX; both empty means the system default trust store.
  std::string ca_file;
  std::string ca_path;  // a hashed directory (c_rehash layout)
  /// TLS1_2_VERSION or TLS1_3_VERSION; older protocols are refused.
  int min_version = TLS1_2_VERSION;
  /// A client certificate offered when the server asks (SASL EXTERNAL, RFC 4422 App. A):
  /// a PEM chain, leaf first, and its PEM private key. With only a key file, the key (e.g. a
  /// bare Ed25519 key) gets a minimal self-signed certificate made in memory.
  std::string client_cert_file{};
  std::string client_key_file{};
};

class Context {
 public:
  /// Errors: Stage::config, permanent (unreadable CA file/path, unsupported version).
  static Result<Context> create(const ContextOptions& options);

  SSL_CTX* native() const { return ctx_.get(); }

  /// A client certificate is configured.
  bool has_client_certificate() const { return !client_cert_sha256_.empty(); }
  /// Hex SHA-256 of the client certificate's DER and of its SubjectPublicKeyInfo (the latter
  /// is stable for a bare key whose certificate is remade on every run); empty without one.
  const std::string& client_certificate_sha256() const { return client_cert_sha256_; }
  const std::string& client_spki_sha256() const { return client_spki_sha256_; }

 private:
  using CtxHandle = UniqueHandle<SSL_CTX, &SSL_CTX_free>;
  explicit Context(CtxHandle ctx) : ctx_(std::move(ctx)) {}

  Result<void> load_client_certificate(const ContextOptions& options);

  CtxHandle ctx_;
  std::string client_cert_sha256_;
  std::string client_spki_sha256_;
};

/// A minimal self-signed certificate for `key` (CN=mxclient, valid from an hour ago for a
/// day): enough for a server that authenticates the client by key. Errors: Stage::internal.
Result<UniqueHandle<X509, &X509_free>> self_signed_certificate(EVP_PKEY* key);

}  // namespace mx::tls
