// mx_sasl_server: a loopback ESMTP server for integration tests of SMTP AUTH. It offers
// STARTTLS (requesting a client certificate), AUTH via GNU SASL's server side with channel
// binding from the live TLS connection, and stores each accepted message in a directory.
//
//   mx_sasl_server --listen 127.0.0.1:2525 --cert srv.pem --key srv.key --out-dir DIR
//       [--user alice --password pw] [--mechs "SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS PLAIN"]
//       [--expect-cert-sha256 HEX] [--tamper-binding] [--max-connections N]
//
// DIR/msg-N.eml holds message N (dot-unstuffed), DIR/msg-N.env the session facts
// ("mech=", "authid=", "authzid=", "binding=", "client-cert-sha256=", "client-spki-sha256=",
// "mail=", "rcpt=" lines).
#include <arpa/inet.h>
#include <gsasl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/fd.hpp"
#include "core/unique_handle.hpp"
#include "sasl/mechanisms.hpp"
#include "tls/tls_stream.hpp"

namespace {

using mx::Fd;
using mx::UniqueHandle;

struct Config {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string cert, key, out_dir = ".";
  std::string user = "alice", password = "secret";
  std::vector<std::string> mechs = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "PLAIN", "EXTERNAL"};
  std::string expect_cert_sha256;  // matches the certificate's or its SPKI's SHA-256
  bool tamper_binding = false;     // compute a wrong binding: SCRAM-*-PLUS must then fail
  int max_connections = 0;         // 0: serve forever
};

std::string hex_sha256(const std::string& der) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(der.data(), der.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

template <class T, class Encode>
std::string der_of(T* obj, Encode encode) {
  int len = encode(obj, nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  encode(obj, &p);
  return der;
}

// One client connection: line I/O over the socket or, after STARTTLS, over TLS.
class Conn {
 public:
  Conn(Fd fd, const Config& cfg, SSL_CTX* tls) : fd_(std::move(fd)), cfg_(cfg), tls_ctx_(tls) {}
  void serve();

 private:
  bool read_line(std::string* line);
  bool read_exact(std::size_t n, std::string* out);
  void write(const std::string& s);
  void reply(const std::string& s) { write(s + "\r\n"); }
  bool start_tls();
  void auth(const std::string& args);
  void store(const std::string& body);
  static int callback(Gsasl* ctx, Gsasl_session* s, Gsasl_property p);

  Fd fd_;
  const Config& cfg_;
  SSL_CTX* tls_ctx_;
  UniqueHandle<SSL, &SSL_free> ssl_;
  std::string buf_;
  bool authenticated_ = false;
  std::string mech_, authid_, authzid_, binding_type_, client_cert_sha256_, client_spki_sha256_;
  std::string mail_;
  std::vector<std::string> rcpts_;
  std::string bdat_body_;
};

bool Conn::read_line(std::string* line) {
  for (;;) {
    auto pos = buf_.find("\r\n");
    if (pos != std::string::npos) {
      *line = buf_.substr(0, pos);
      buf_.erase(0, pos + 2);
      return true;
    }
    if (buf_.size() > 65536) return false;
    char tmp[4096];
    long n = ssl_ ? SSL_read(ssl_.get(), tmp, sizeof tmp) : ::recv(fd_.get(), tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
  }
}

bool Conn::read_exact(std::size_t n, std::string* out) {
  while (buf_.size() < n) {
    char tmp[16384];
    long got = ssl_ ? SSL_read(ssl_.get(), tmp, sizeof tmp) : ::recv(fd_.get(), tmp, sizeof tmp, 0);
    if (got <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(got));
  }
  *out = buf_.substr(0, n);
  buf_.erase(0, n);
  return true;
}

void Conn::write(const std::string& s) {
  if (ssl_)
    SSL_write(ssl_.get(), s.data(), static_cast<int>(s.size()));
  else
    (void)::send(fd_.get(), s.data(), s.size(), MSG_NOSIGNAL);
}

bool Conn::start_tls() {
  if (!buf_.empty()) return false;  // pipelined plaintext after STARTTLS: refuse (RFC 3207 §5)
  ssl_.reset(SSL_new(tls_ctx_));
  SSL_set_fd(ssl_.get(), fd_.get());
  if (SSL_accept(ssl_.get()) != 1) {
    ERR_print_errors_fp(stderr);
    return false;
  }
  if (X509* peer = SSL_get0_peer_certificate(ssl_.get())) {
    client_cert_sha256_ = hex_sha256(der_of(peer, i2d_X509));
    client_spki_sha256_ = hex_sha256(der_of(X509_get_X509_PUBKEY(peer), i2d_X509_PUBKEY));
  }
  return true;
}

int Conn::callback(Gsasl* ctx, Gsasl_session* s, Gsasl_property p) {
  auto* self = static_cast<Conn*>(gsasl_callback_hook_get(ctx));
  switch (p) {
    case GSASL_PASSWORD: {
      const char* id = gsasl_property_fast(s, GSASL_AUTHID);
      if (id == nullptr || self->cfg_.user != id) return GSASL_NO_PASSWORD;
      gsasl_property_set(s, p, self->cfg_.password.c_str());
      return GSASL_OK;
    }
    case GSASL_VALIDATE_SIMPLE: {  // PLAIN
      const char* id = gsasl_property_fast(s, GSASL_AUTHID);
      const char* pw = gsasl_property_fast(s, GSASL_PASSWORD);
      bool ok = id && pw && self->cfg_.user == id && self->cfg_.password == pw;
      return ok ? GSASL_OK : GSASL_AUTHENTICATION_ERROR;
    }
    case GSASL_VALIDATE_EXTERNAL: {  // RFC 4422 App. A: the identity is the TLS client cert
      if (self->client_cert_sha256_.empty()) return GSASL_AUTHENTICATION_ERROR;
      const std::string& want = self->cfg_.expect_cert_sha256;
      if (!want.empty() && want != self->client_cert_sha256_ && want != self->client_spki_sha256_)
        return GSASL_AUTHENTICATION_ERROR;
      const char* z = gsasl_property_fast(s, GSASL_AUTHZID);
      if (z != nullptr && *z != '\0' && self->cfg_.user != z) return GSASL_AUTHENTICATION_ERROR;
      return GSASL_OK;
    }
    case GSASL_CB_TLS_EXPORTER:
    case GSASL_CB_TLS_UNIQUE: {
      if (!self->ssl_) return GSASL_NO_CALLBACK;
      std::string type = p == GSASL_CB_TLS_EXPORTER ? "tls-exporter" : "tls-unique";
      auto cb = mx::tls::channel_binding(self->ssl_.get(), type);
      if (!cb) return GSASL_NO_CALLBACK;
      std::string data = *cb;
      if (self->cfg_.tamper_binding) data[0] = static_cast<char>(data[0] ^ 1);
      self->binding_type_ = type;
      gsasl_property_set(s, p, mx::sasl::base64_encode(data).c_str());
      return GSASL_OK;
    }
    default:
      return GSASL_NO_CALLBACK;
  }
}

void Conn::auth(const std::string& args) {
  if (authenticated_) return reply("503 5.5.1 Already authenticated");
  if (!ssl_) return reply("538 5.7.11 Encryption required for requested authentication mechanism");
  std::string mech = args.substr(0, args.find(' '));
  for (char& c : mech) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  bool offered = false;
  for (const auto& m : cfg_.mechs) offered = offered || m == mech;
  if (!offered) return reply("504 5.5.4 Unrecognized authentication type");
  Gsasl* raw = nullptr;
  gsasl_init(&raw);
  UniqueHandle<Gsasl, &gsasl_done> ctx(raw);
  gsasl_callback_set(ctx.get(), &Conn::callback);
  gsasl_callback_hook_set(ctx.get(), this);
  Gsasl_session* rs = nullptr;
  if (gsasl_server_start(ctx.get(), mech.c_str(), &rs) != GSASL_OK)
    return reply("504 5.5.4 Unrecognized authentication type");
  UniqueHandle<Gsasl_session, &gsasl_finish> session(rs);
  std::string input;
  auto sp = args.find(' ');
  bool have_ir = sp != std::string::npos;
  if (have_ir) {
    std::string ir = args.substr(sp + 1);
    auto dec = ir == "=" ? std::optional<std::string>("") : mx::sasl::base64_decode(ir);
    if (!dec) return reply("501 5.5.2 Cannot decode response");
    input = *dec;
  }
  for (;;) {
    char* out = nullptr;
    std::size_t n = 0;
    int rc = gsasl_step(session.get(), input.data(), input.size(), &out, &n);
    UniqueHandle<char, &gsasl_free> owned(out);
    if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
      std::cerr << "AUTH " << mech << " failed: " << gsasl_strerror_name(rc) << "\n";
      return reply("535 5.7.8 Authentication credentials invalid");
    }
    if (rc == GSASL_OK && n == 0) break;
    // RFC 4954 §4: server data, including SCRAM's server-final, goes in a 334 challenge.
    reply("334 " + mx::sasl::base64_encode(std::string(out ? out : "", n)));
    std::string line;
    if (!read_line(&line)) return;
    if (line == "*") return reply("501 5.7.0 Authentication cancelled");
    auto dec = mx::sasl::base64_decode(line);
    if (!dec) return reply("501 5.5.2 Cannot decode response");
    if (rc == GSASL_OK) {
      if (!dec->empty()) return reply("535 5.7.8 Unexpected data after success");
      break;
    }
    input = *dec;
  }
  const char* id = gsasl_property_fast(session.get(), GSASL_AUTHID);
  const char* z = gsasl_property_fast(session.get(), GSASL_AUTHZID);
  authid_ = id ? id : "";
  authzid_ = z ? z : "";
  mech_ = mech;
  authenticated_ = true;
  reply("235 2.7.0 Authentication successful");
}

void Conn::store(const std::string& body) {
  static int counter = 0;
  ++counter;
  std::string base = cfg_.out_dir + "/msg-" + std::to_string(counter);
  std::ofstream(base + ".eml", std::ios::binary) << body;
  std::ofstream env(base + ".env");
  env << "mech=" << mech_ << "\nauthid=" << authid_ << "\nauthzid=" << authzid_
      << "\nbinding=" << binding_type_ << "\nclient-cert-sha256=" << client_cert_sha256_
      << "\nclient-spki-sha256=" << client_spki_sha256_ << "\nmail=" << mail_ << "\n";
  for (const auto& r : rcpts_) env << "rcpt=" << r << "\n";
}

void Conn::serve() {
  reply("220 sasl-server.test ESMTP mx_sasl_server");
  std::string line;
  while (read_line(&line)) {
    std::string verb = line.substr(0, line.find(' '));
    for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string args = line.size() > verb.size() ? line.substr(verb.size() + 1) : "";
    if (verb == "EHLO") {
      std::string r = "250-sasl-server.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-CHUNKING\r\n";
      r += "250-ENHANCEDSTATUSCODES\r\n";
      if (!ssl_) r += "250-STARTTLS\r\n";
      if (ssl_) {
        r += "250-AUTH";
        for (const auto& m : cfg_.mechs) r += " " + m;
        r += "\r\n";
      }
      write(r + "250 SIZE 10485760\r\n");
    } else if (verb == "HELO") {
      reply("250 sasl-server.test");
    } else if (verb == "STARTTLS") {
      if (ssl_) {
        reply("503 5.5.1 TLS already active");
        continue;
      }
      reply("220 2.0.0 Ready to start TLS");
      if (!start_tls()) return;
    } else if (verb == "AUTH") {
      auth(args);
    } else if (verb == "MAIL") {
      if (!authenticated_) {
        reply("530 5.7.0 Authentication required");
        continue;
      }
      mail_ = args;
      rcpts_.clear();
      bdat_body_.clear();
      reply("250 2.1.0 Ok");
    } else if (verb == "RCPT") {
      if (mail_.empty()) {
        reply("503 5.5.1 MAIL first");
        continue;
      }
      rcpts_.push_back(args);
      reply("250 2.1.5 Ok");
    } else if (verb == "DATA") {
      if (rcpts_.empty()) {
        reply("503 5.5.1 RCPT first");
        continue;
      }
      reply("354 End data with <CR><LF>.<CR><LF>");
      std::string body, l;
      bool ended = false;
      while (!ended && read_line(&l)) {
        ended = l == ".";
        if (!ended) body += (l.starts_with(".") ? l.substr(1) : l) + "\r\n";
      }
      if (!ended) return;  // lost before the final dot: never accepted, so not stored
      store(body);
      mail_.clear();
      reply("250 2.0.0 Ok: queued");
    } else if (verb == "BDAT") {
      std::istringstream in(args);
      std::size_t n = 0;
      std::string last;
      in >> n >> last;
      std::string chunk;
      if (!read_exact(n, &chunk)) return;
      if (rcpts_.empty()) {  // no transaction: the chunk is consumed and dropped
        bdat_body_.clear();
        reply("503 5.5.1 RCPT first");
        continue;
      }
      bdat_body_ += chunk;
      if (last == "LAST") {
        store(bdat_body_);
        bdat_body_.clear();
        mail_.clear();
        reply("250 2.0.0 Ok: queued");
      } else {
        reply("250 2.0.0 chunk received");
      }
    } else if (verb == "RSET") {
      mail_.clear();
      rcpts_.clear();
      bdat_body_.clear();
      reply("250 2.0.0 Ok");
    } else if (verb == "NOOP") {
      reply("250 2.0.0 Ok");
    } else if (verb == "QUIT") {
      reply("221 2.0.0 Bye");
      if (ssl_) SSL_shutdown(ssl_.get());
      return;
    } else {
      reply("500 5.5.2 Unknown command");
    }
  }
}

int accept_any(int, X509_STORE_CTX*) {
  return 1;
}

int usage() {
  std::cerr << "usage: mx_sasl_server --listen ADDR:PORT --cert PEM --key PEM --out-dir DIR\n"
               "  [--user U] [--password P] [--mechs \"M1 M2\"] [--expect-cert-sha256 HEX]\n"
               "  [--tamper-binding] [--max-connections N]\n";
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto value = [&]() -> std::string { return i + 1 < args.size() ? args[++i] : ""; };
    const std::string& a = args[i];
    if (a == "--listen") {
      std::string v = value();
      auto colon = v.rfind(':');
      if (colon == std::string::npos) return usage();
      cfg.host = v.substr(0, colon);
      cfg.port = std::atoi(v.c_str() + colon + 1);
    } else if (a == "--cert") {
      cfg.cert = value();
    } else if (a == "--key") {
      cfg.key = value();
    } else if (a == "--out-dir") {
      cfg.out_dir = value();
    } else if (a == "--user") {
      cfg.user = value();
    } else if (a == "--password") {
      cfg.password = value();
    } else if (a == "--mechs") {
      std::istringstream in(value());
      cfg.mechs.clear();
      for (std::string m; in >> m;) cfg.mechs.push_back(m);
    } else if (a == "--expect-cert-sha256") {
      cfg.expect_cert_sha256 = value();
    } else if (a == "--tamper-binding") {
      cfg.tamper_binding = true;
    } else if (a == "--max-connections") {
      cfg.max_connections = std::atoi(value().c_str());
    } else {
      return usage();
    }
  }
  if (cfg.port <= 0 || cfg.cert.empty() || cfg.key.empty()) return usage();
  ::signal(SIGPIPE, SIG_IGN);

  UniqueHandle<SSL_CTX, &SSL_CTX_free> tls(SSL_CTX_new(TLS_server_method()));
  if (SSL_CTX_use_certificate_chain_file(tls.get(), cfg.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(tls.get(), cfg.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  // Ask for a client certificate (EXTERNAL); any is accepted here and judged by fingerprint.
  SSL_CTX_set_verify(tls.get(), SSL_VERIFY_PEER, accept_any);

  // Loopback only: this server exists for tests.
  bool v6 = cfg.host.find(':') != std::string::npos;
  Fd listener(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<std::uint16_t>(cfg.port));
    if (inet_pton(AF_INET6, cfg.host.c_str(), &sin6->sin6_addr) != 1 ||
        !IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
      return usage();
    len = sizeof *sin6;
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<std::uint16_t>(cfg.port));
    if (inet_pton(AF_INET, cfg.host.c_str(), &sin->sin_addr) != 1 ||
        (ntohl(sin->sin_addr.s_addr) >> 24) != 127)
      return usage();
    len = sizeof *sin;
  }
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::listen(listener.get(), 16) != 0) {
    std::perror("mx_sasl_server: listen");
    return 1;
  }
  std::cerr << "mx_sasl_server listening on " << cfg.host << ":" << cfg.port << "\n";
  for (int served = 0; cfg.max_connections == 0 || served < cfg.max_connections; ++served) {
    Fd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd.valid()) continue;
    timeval tv{30, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    Conn(std::move(fd), cfg, tls.get()).serve();
    ERR_clear_error();
  }
  return 0;
}
