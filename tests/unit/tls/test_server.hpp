// Test-only loopback server: accepts one connection on 127.0.0.1 in a thread and runs a script
// on it, either raw bytes or an OpenSSL server-side TLS session.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/fd.hpp"
#include "unit/tls/test_pki.hpp"

namespace mx::tls::testing {

class TestServer {
 public:
  /// Gets the accepted socket (blocking, 10 s send/receive timeouts, SIGPIPE blocked).
  using Script = std::function<void(Fd)>;
  explicit TestServer(Script script);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::uint16_t port() const { return port_; }
  /// Waits for the script to finish (the destructor does too).
  void join();

 private:
  Fd listener_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

/// What the TLS server side saw.
struct ServerSide {
  bool accepted = false;
  std::string sni;                      // the server name the client sent, empty when none
  std::string error;                    // why SSL_accept failed
  int app_records_after_handshake = 0;  // application-data records read after the handshake
  std::string client_cert_sha256;       // hex SHA-256 of the client certificate's DER, if any
  std::string client_spki_sha256;       // ... and of its SubjectPublicKeyInfo
  std::string client_cert_subject;      // one-line form
};

struct TlsServerOptions {
  int max_version = 0;               // 0: OpenSSL's default
  std::vector<X509*> chain;          // sent after the server certificate (intermediates, a root)
  bool request_client_cert = false;  // CertificateRequest; any certificate is accepted
};

/// A script that completes a TLS handshake with `server` (certificate + key) and then runs
/// `body`. `out` must outlive the server thread.
TestServer::Script tls_script(const KeyCert& server, ServerSide* out,
                              std::function<void(SSL*)> body, TlsServerOptions options = {});

/// Reads until EOF or error (the client closed), so a script does not end the connection first.
void drain_until_closed(int fd);

}  // namespace mx::tls::testing
