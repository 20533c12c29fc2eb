// Builds the client SSL_CTX: trust anchors, TLS 1.2 floor, and no SSL_MODE_AUTO_RETRY.
#include "tls/context.hpp"

#include <openssl/err.h>
#include <sys/stat.h>

#include "tls/openssl_error.hpp"

namespace mx::tls {

namespace {

Error config_error(std::string detail) {
  return permanent_error(Stage::config, std::move(detail));
}

}  // namespace

Result<Context> Context::create(const ContextOptions& options) {
  // RFC 8996 retires TLS 1.0/1.1; RFC 7672 §8.2 wants nothing weaker for SMTP either.
  if (options.min_version != TLS1_2_VERSION && options.min_version != TLS1_3_VERSION)
    return fail(config_error("unsupported minimum TLS version " +
                             std::to_string(options.min_version) + " (TLS 1.2 or 1.3 only)"));

  ERR_clear_error();
  CtxHandle ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx)
    return fail(temporary_error(Stage::internal, "SSL_CTX_new failed: " + take_openssl_errors()));
  if (SSL_CTX_set_min_proto_version(ctx.get(), options.min_version) != 1)
    return fail(config_error("cannot set the minimum TLS version: " + take_openssl_errors()));
  // TlsStream polls the socket itself; with AUTO_RETRY SSL_read could loop on non-application
  // records (session tickets) instead of returning to the caller's deadline-bound poll.
  SSL_CTX_clear_mode(ctx.get(), SSL_MODE_AUTO_RETRY);

  if (options.ca_file.empty() && options.ca_path.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1)
      return fail(config_error("cannot load the default trust store: " + take_openssl_errors()));
  } else {
    // OpenSSL only looks into a CA directory lazily, so check that it exists now.
    struct stat st {};
    if (!options.ca_path.empty() &&
        (::stat(options.ca_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)))
      return fail(config_error("CA directory " + options.ca_path + " is not a directory"));
    const char* file = options.ca_file.empty() ? nullptr : options.ca_file.c_str();
    const char* path = options.ca_path.empty() ? nullptr : options.ca_path.c_str();
    if (SSL_CTX_load_verify_locations(ctx.get(), file, path) != 1) {
      std::string what = options.ca_file.empty() ? options.ca_path : options.ca_file;
      return fail(
          config_error("cannot load CA certificates from " + what + ": " + take_openssl_errors()));
    }
  }
  // RFC 7671 via OpenSSL's DANE support; it only takes effect on connections that call
  // SSL_dane_enable() (tls_stream.cpp), with SHA2-256 and SHA2-512 as matching types 1 and 2.
  if (SSL_CTX_dane_enable(ctx.get()) <= 0)
    return fail(
        temporary_error(Stage::internal, "cannot enable DANE support: " + take_openssl_errors()));
  // Peer verification is set per connection (tls_stream.cpp): opportunistic and PKIX
  // connections share this context.
  return Context(std::move(ctx));
}

}  // namespace mx::tls
