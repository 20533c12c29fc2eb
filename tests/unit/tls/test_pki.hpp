// Test-only PKI built with the OpenSSL API at run time: CAs, CA-signed and self-signed server
// certificates (EC P-256), expired ones, PEM temp files, DER encodings and digests for TLSA data.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "core/unique_handle.hpp"

namespace mx::tls::testing {

using PkeyPtr = UniqueHandle<EVP_PKEY, &EVP_PKEY_free>;
using X509Ptr = UniqueHandle<X509, &X509_free>;

struct KeyCert {
  PkeyPtr key;
  X509Ptr cert;
};

/// A self-signed CA certificate (basicConstraints CA:TRUE, keyCertSign).
KeyCert make_ca(const std::string& common_name);
/// A server certificate for `dns_names` (subjectAltName), signed by `issuer`.
KeyCert make_leaf(const KeyCert& issuer, const std::string& common_name,
                  const std::vector<std::string>& dns_names);
/// A self-signed server certificate for `dns_names`.
KeyCert make_self_signed(const std::string& common_name, const std::vector<std::string>& dns_names);
/// Like make_leaf / make_self_signed, but valid only from 30 to 20 days ago.
KeyCert make_expired_leaf(const KeyCert& issuer, const std::string& common_name,
                          const std::vector<std::string>& dns_names);
KeyCert make_expired_self_signed(const std::string& common_name,
                                 const std::vector<std::string>& dns_names);

/// DER of the whole certificate and of its SubjectPublicKeyInfo (TLSA selectors 0 and 1).
std::string cert_der(X509* cert);
std::string spki_der(X509* cert);
/// Raw (binary) digests, as TLSA matching types 1 and 2 carry them.
std::string sha256(const std::string& data);
std::string sha512(const std::string& data);
std::string to_hex(const std::string& data);

std::string to_pem(X509* cert);

/// Hex SHA-256 over i2d_PUBKEY(key): the SPKI digest computed from the key, not the cert.
std::string spki_sha256_of_key(EVP_PKEY* key);

/// A file under /tmp removed when this goes out of scope.
class TempFile {
 public:
  explicit TempFile(const std::string& content);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace mx::tls::testing
