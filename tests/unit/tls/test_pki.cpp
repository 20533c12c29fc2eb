// Run-time generation of the test CAs and certificates used by the TLS tests.
#include "unit/tls/test_pki.hpp"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace mx::tls::testing {

namespace {

using ExtPtr = UniqueHandle<X509_EXTENSION, &X509_EXTENSION_free>;
using BioPtr = UniqueHandle<BIO, &BIO_free>;

std::atomic<long> next_serial{1};

// Setup failures are bugs in the test itself; stop loudly.
[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "test PKI: %s\n", what.c_str());
  std::abort();
}

PkeyPtr new_key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) die("key generation failed");
  return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) die("cannot add extension " + value);
}

// Builds a certificate for `key`; issuer == nullptr means self-signed.
X509Ptr build(EVP_PKEY* key, const std::string& cn, const KeyCert* issuer, bool ca,
              const std::vector<std::string>& dns_names, bool expired = false) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), next_serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), expired ? -30 * 86400 : -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), expired ? -20 * 86400 : 7 * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("mxclient tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer ? issuer->cert.get() : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert));
  add_ext(cert.get(), issuer_cert, NID_subject_key_identifier, "hash");
  if (issuer) add_ext(cert.get(), issuer_cert, NID_authority_key_identifier, "keyid:always");
  if (ca) {
    add_ext(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), issuer_cert, NID_ext_key_usage, "serverAuth");
  }
  if (!dns_names.empty()) {
    std::string san;
    for (const auto& n : dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
    add_ext(cert.get(), issuer_cert, NID_subject_alt_name, san);
  }
  EVP_PKEY* signer = issuer ? issuer->key.get() : key;
  if (X509_sign(cert.get(), signer, EVP_sha256()) == 0) die("sign failed");
  return cert;
}

}  // namespace

KeyCert make_ca(const std::string& common_name) {
  KeyCert kc{new_key(), nullptr};
  kc.cert = build(kc.key.get(), common_name, nullptr, true, {});
  return kc;
}

KeyCert make_leaf(const KeyCert& issuer, const std::string& common_name,
                  const std::vector<std::string>& dns_names) {
  KeyCert kc{new_key(), nullptr};
  kc.cert = build(kc.key.get(), common_name, &issuer, false, dns_names);
  return kc;
}

KeyCert make_self_signed(const std::string& common_name,
                         const std::vector<std::string>& dns_names) {
  KeyCert kc{new_key(), nullptr};
  kc.cert = build(kc.key.get(), common_name, nullptr, false, dns_names);
  return kc;
}

KeyCert make_expired_leaf(const KeyCert& issuer, const std::string& common_name,
                          const std::vector<std::string>& dns_names) {
  KeyCert kc{new_key(), nullptr};
  kc.cert = build(kc.key.get(), common_name, &issuer, false, dns_names, true);
  return kc;
}

KeyCert make_expired_self_signed(const std::string& common_name,
                                 const std::vector<std::string>& dns_names) {
  KeyCert kc{new_key(), nullptr};
  kc.cert = build(kc.key.get(), common_name, nullptr, false, dns_names, true);
  return kc;
}

std::string cert_der(X509* cert) {
  unsigned char* buf = nullptr;
  int len = i2d_X509(cert, &buf);
  if (len <= 0) die("i2d_X509 failed");
  std::string out(reinterpret_cast<char*>(buf), static_cast<std::size_t>(len));
  OPENSSL_free(buf);
  return out;
}

std::string spki_der(X509* cert) {
  unsigned char* buf = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &buf);
  if (len <= 0) die("i2d_X509_PUBKEY failed");
  std::string out(reinterpret_cast<char*>(buf), static_cast<std::size_t>(len));
  OPENSSL_free(buf);
  return out;
}

namespace {
std::string digest(const std::string& data, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) die("digest failed");
  return std::string(reinterpret_cast<char*>(out), len);
}
}  // namespace

std::string sha256(const std::string& data) {
  return digest(data, EVP_sha256());
}

std::string sha512(const std::string& data) {
  return digest(data, EVP_sha512());
}

std::string to_hex(const std::string& data) {
  std::string hex;
  char buf[3];
  for (unsigned char c : data) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    hex += buf;
  }
  return hex;
}

std::string to_pem(X509* cert) {
  BioPtr mem(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(mem.get(), cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(mem.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string spki_sha256_of_key(EVP_PKEY* key) {
  int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) return {};
  std::vector<unsigned char> der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  i2d_PUBKEY(key, &p);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(der.data(), der.size(), md, &md_len, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < md_len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    hex += buf;
  }
  return hex;
}

TempFile::TempFile(const std::string& content) {
  char tmpl[] = "/tmp/mx-tls-test-XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd < 0) die("mkstemp failed");
  path_ = tmpl;
  std::size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

TempFile::~TempFile() {
  ::unlink(path_.c_str());
}

}  // namespace mx::tls::testing
