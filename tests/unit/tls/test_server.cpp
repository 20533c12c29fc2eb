// The scripted loopback server used by the TLS tests.
#include "unit/tls/test_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>

#include "core/unique_handle.hpp"

namespace mx::tls::testing {

TestServer::TestServer(Script script) {
  listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&sin), len) != 0 ||
      ::listen(listener_.get(), 4) != 0 ||
      ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
    std::perror("test server");
    std::abort();
  }
  port_ = ntohs(sin.sin_port);
  thread_ = std::thread([this, script = std::move(script)] {
    // A client that hangs up must not kill the test binary through the server's writes; the
    // signal is blocked for this thread only, so client-side SIGPIPE tests still bite.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return;
    Fd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd.valid()) return;
    timeval tv{10, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    script(std::move(fd));
  });
}

TestServer::~TestServer() {
  join();
}

void TestServer::join() {
  if (thread_.joinable()) thread_.join();
}

void drain_until_closed(int fd) {
  char buf[4096];
  while (::recv(fd, buf, sizeof buf, 0) > 0) {
  }
}

namespace {

// Counts application-data record headers (TLS 1.3 hides every type behind 23, but after the
// handshake only the client's data records arrive).
void count_records(int write_p, int /*version*/, int content_type, const void* buf, std::size_t len,
                   SSL* /*ssl*/, void* arg) {
  auto* counter = static_cast<int*>(arg);
  if (write_p == 0 && content_type == SSL3_RT_HEADER && len >= 1 &&
      static_cast<const unsigned char*>(buf)[0] == SSL3_RT_APPLICATION_DATA)
    ++*counter;
}

int accept_any(int /*preverify_ok*/, X509_STORE_CTX* /*store*/) {
  return 1;
}

std::string digest_hex(const std::string& der) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(der.data(), der.size(), md, &len, EVP_sha256(), nullptr);
  return to_hex(std::string(reinterpret_cast<char*>(md), len));
}

}  // namespace

TestServer::Script tls_script(const KeyCert& server, ServerSide* out,
                              std::function<void(SSL*)> body, TlsServerOptions options) {
  X509* cert = server.cert.get();
  EVP_PKEY* key = server.key.get();
  return [cert, key, out, body = std::move(body), options](Fd fd) {
    UniqueHandle<SSL_CTX, &SSL_CTX_free> ctx(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_use_certificate(ctx.get(), cert);
    SSL_CTX_use_PrivateKey(ctx.get(), key);
    if (options.max_version != 0) SSL_CTX_set_max_proto_version(ctx.get(), options.max_version);
    for (X509* extra : options.chain) SSL_CTX_add1_chain_cert(ctx.get(), extra);
    if (options.request_client_cert) SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, accept_any);
    UniqueHandle<SSL, &SSL_free> ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd.get());
    int counter = 0;
    if (SSL_accept(ssl.get()) != 1) {
      char buf[256];
      ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
      out->error = buf;
      ERR_clear_error();
      drain_until_closed(fd.get());
      return;
    }
    out->accepted = true;
    if (const char* sni = SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name)) out->sni = sni;
    if (X509* peer = SSL_get0_peer_certificate(ssl.get())) {
      out->client_cert_sha256 = digest_hex(cert_der(peer));
      out->client_spki_sha256 = digest_hex(spki_der(peer));
      char line[256];
      X509_NAME_oneline(X509_get_subject_name(peer), line, sizeof line);
      out->client_cert_subject = line;
    }
    SSL_set_msg_callback(ssl.get(), count_records);
    SSL_set_msg_callback_arg(ssl.get(), &counter);
    body(ssl.get());
    out->app_records_after_handshake = counter;
    ERR_clear_error();
  };
}

}  // namespace mx::tls::testing
