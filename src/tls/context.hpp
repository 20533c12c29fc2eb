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
};

class Context {
 public:
  /// Errors: Stage::config, permanent (unreadable CA file/path, unsupported version).
  static Result<Context> create(const ContextOptions& options);

  SSL_CTX* native() const { return ctx_.get(); }

 private:
  using CtxHandle = UniqueHandle<SSL_CTX, &SSL_CTX_free>;
  explicit Context(CtxHandle ctx) : ctx_(std::move(ctx)) {}

  CtxHandle ctx_;
};

}  // namespace mx::tls
