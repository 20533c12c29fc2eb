// Builds the client SSL_CTX: trust anchors, TLS 1.2 floor, and no SSL_MODE_AUTO_RETRY.
#include "tls/context.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdlib>

#include <cstdio>
#include <vector>

#include "tls/openssl_error.hpp"

namespace mx::tls {

namespace {

/// Whether two paths name the same file (symbolic links followed).
bool same_file(const char* a, const char* b) {
  struct stat sa {
  }, sb{};
  return ::stat(a, &sa) == 0 && ::stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

Error config_error(std::string detail) {
  return permanent_error(Stage::config, std::move(detail));
}

using FileHandle = UniqueHandle<std::FILE, &std::fclose>;
using PkeyHandle = UniqueHandle<EVP_PKEY, &EVP_PKEY_free>;
using X509Handle = UniqueHandle<X509, &X509_free>;

std::string hex(const unsigned char* data, std::size_t len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < len; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xf];
  }
  return out;
}

// Hex SHA-256 of an i2d_* encoding.
template <class T, class Encode>
std::string sha256_of(T* object, Encode encode) {
  int len = encode(object, nullptr);
  if (len <= 0) return {};
  std::vector<unsigned char> der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  if (encode(object, &p) != len) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(der.data(), der.size(), md, &md_len, EVP_sha256(), nullptr) != 1) return {};
  return hex(md, md_len);
}

}  // namespace

Result<UniqueHandle<X509, &X509_free>> self_signed_certificate(EVP_PKEY* key) {
  auto internal = [](const char* what) {
    return fail(temporary_error(Stage::internal, std::string("cannot make a client certificate: ") +
                                                     what + ": " + take_openssl_errors()));
  };
  X509Handle cert(X509_new());
  if (!cert) return internal("X509_new");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return internal("RAND_bytes");
  serial[0] &= 0x7f;  // RFC 5280 §4.1.2.2: a positive integer
  UniqueHandle<BIGNUM, &BN_free> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  // The server learns nothing from the certificate but the key; keep the name neutral.
  bool ok = bn && X509_set_version(cert.get(), 2) == 1 &&
            BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) != nullptr &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24L * 3600) != nullptr &&
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>("mxclient"), -1, -1,
                                       0) == 1 &&
            X509_set_issuer_name(cert.get(), name) == 1 && X509_set_pubkey(cert.get(), key) == 1;
  if (!ok) return internal("building the certificate");
  // Ed25519/Ed448 sign the message itself (RFC 8410 §6): no separate digest.
  int id = EVP_PKEY_get_id(key);
  const EVP_MD* md = id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ? nullptr : EVP_sha256();
  if (X509_sign(cert.get(), key, md) <= 0) return internal("signing");
  return cert;
}

Result<void> Context::load_client_certificate(const ContextOptions& options) {
  if (options.client_cert_file.empty() && options.client_key_file.empty()) return {};
  if (options.client_key_file.empty())
    return fail(config_error("a client certificate needs its private key file"));
  SSL_CTX* ctx = ctx_.get();
  FileHandle kf(std::fopen(options.client_key_file.c_str(), "r"));
  if (!kf) return fail(config_error("cannot open client key file " + options.client_key_file));
  PkeyHandle key(PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr));
  if (!key)
    return fail(config_error("cannot read a PEM private key from " + options.client_key_file +
                             ": " + take_openssl_errors()));
  if (options.client_cert_file.empty()) {
    auto cert = self_signed_certificate(key.get());
    if (!cert) return fail(std::move(cert).error());
    if (SSL_CTX_use_certificate(ctx, cert->get()) != 1)
      return fail(config_error("cannot use the client certificate: " + take_openssl_errors()));
  } else if (SSL_CTX_use_certificate_chain_file(ctx, options.client_cert_file.c_str()) != 1) {
    return fail(config_error("cannot load the client certificate from " + options.client_cert_file +
                             ": " + take_openssl_errors()));
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
    return fail(config_error("the client key in " + options.client_key_file +
                             " does not match the certificate: " + take_openssl_errors()));
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  client_cert_sha256_ = sha256_of(leaf, i2d_X509);
  client_spki_sha256_ = sha256_of(X509_get_X509_PUBKEY(leaf), i2d_X509_PUBKEY);
  return {};
}

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
    // The system's hashed CA directory is consulted lazily, per issuer: parsing the whole
    // bundle file up front costs ~70% of a delivery's CPU and most connections (DANE,
    // opportunistic) never need it. The bundle is loaded only when there is no such
    // directory, or when SSL_CERT_FILE names a file other than the system bundle.
    struct stat dir {};
    const char* env_dir = std::getenv(X509_get_default_cert_dir_env());
    const char* default_dir = env_dir ? env_dir : X509_get_default_cert_dir();
    const char* env_file = std::getenv(X509_get_default_cert_file_env());
    bool lazy = (env_file == nullptr || same_file(env_file, X509_get_default_cert_file())) &&
                ::stat(default_dir, &dir) == 0 && S_ISDIR(dir.st_mode);
    int ok = lazy ? SSL_CTX_set_default_verify_dir(ctx.get())
                  : SSL_CTX_set_default_verify_paths(ctx.get());
    if (ok != 1)
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
  Context context(std::move(ctx));
  if (auto r = context.load_client_certificate(options); !r) return fail(std::move(r).error());
  return context;
}

}  // namespace mx::tls
