// libcurl-based MTA-STS policy fetcher (RFC 8461 §3.3).
#include "mtasts/fetcher.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <thread>

#include "core/ascii.hpp"
#include "core/shared_library.hpp"
#include "mtasts/curl_api.hpp"
#include "mtasts/names.hpp"

namespace mx::mtasts {

namespace {

// Owned through the loaded library's own free functions.
using CurlPtr = std::unique_ptr<CURL, FreeThrough<&CurlApi::easy_cleanup>>;
using SlistPtr = std::unique_ptr<curl_slist, FreeThrough<&CurlApi::slist_free_all>>;

// Per-transfer state the callbacks see.
struct Transfer {
  std::string body;
  std::size_t max_body = 0;
  bool too_big = false;
};

// Returning less than offered makes libcurl abort with CURLE_WRITE_ERROR.
std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (n > t->max_body - t->body.size()) {
    t->too_big = true;
    return 0;
  }
  t->body.append(data, n);
  return n;
}

// Carries one connection between libcurl and a socket the open_socket hook made. libcurl
// 7.88 ignores CURL_SOCKOPT_ALREADY_CONNECTED (curl issue #10626, fixed in 8.0), so a
// pre-connected descriptor cannot be handed over through CURLOPT_OPENSOCKETFUNCTION; libcurl
// connects to this relay's abstract unix socket instead, which also keeps it from resolving.
class Relay {
 public:
  static Result<std::unique_ptr<Relay>> start(Fd upstream) {
    static std::atomic<unsigned> counter{0};
    auto relay = std::unique_ptr<Relay>(new Relay());
    relay->upstream_ = std::move(upstream);
    relay->name_ = "mxclient-mtasts-" + std::to_string(::getpid()) + "-" +
                   std::to_string(counter.fetch_add(1)) + "-" +
                   std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    relay->listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    // Abstract namespace: a leading NUL, no file to clean up.
    std::memcpy(sun.sun_path + 1, relay->name_.data(), relay->name_.size());
    const auto len =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + relay->name_.size());
    int pipefd[2];
    if (!relay->listener_.valid() ||
        ::bind(relay->listener_.get(), reinterpret_cast<sockaddr*>(&sun), len) != 0 ||
        ::listen(relay->listener_.get(), 1) != 0 || ::pipe2(pipefd, O_CLOEXEC) != 0) {
      return fail(temporary_error(
          Stage::internal, std::string("cannot set up the socket relay: ") + std::strerror(errno)));
    }
    relay->stop_read_.reset(pipefd[0]);
    relay->stop_write_.reset(pipefd[1]);
    relay->thread_ = std::thread([r = relay.get()] { r->run(); });
    return relay;
  }
  ~Relay() {
    if (thread_.joinable()) {
      const char c = 0;
      (void)!::write(stop_write_.get(), &c, 1);
      thread_.join();
    }
  }
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;
  const std::string& name() const { return name_; }

 private:
  Relay() = default;

  void run() {
    Fd client;
    while (!client.valid()) {
      pollfd p[2] = {{listener_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (p[1].revents) return;
      Fd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      ucred cred{};
      socklen_t len = sizeof cred;
      // Only this process may use the tunnel; another local user guessing the name may not.
      if (c.valid() && ::getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
          cred.pid == ::getpid()) {
        client = std::move(c);
      }
    }
    listener_.reset();
    char buf[16384];
    while (true) {
      pollfd p[3] = {
          {client.get(), POLLIN, 0}, {upstream_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
      if (::poll(p, 3, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (p[2].revents) return;
      for (int i = 0; i < 2; ++i) {
        if (!p[i].revents) continue;
        const int from = p[i].fd;
        const int to = i == 0 ? upstream_.get() : client.get();
        const ssize_t n = ::recv(from, buf, sizeof buf, 0);
        if (n <= 0 || !send_all(to, buf, static_cast<std::size_t>(n))) return;
      }
    }
  }

  static bool send_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
      const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      data += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }

  std::string name_;
  Fd listener_;
  Fd upstream_;
  Fd stop_read_;
  Fd stop_write_;
  std::thread thread_;
};

bool append(const CurlApi& api, SlistPtr& list, const std::string& item) {
  curl_slist* head = api.slist_append(list.get(), item.c_str());
  if (!head) return false;
  (void)list.release();  // `head` is the same list, now one item longer
  list.reset(head);
  return true;
}

// "text/plain" with optional parameters, case-insensitive (RFC 8461 §3.3 media type check).
bool is_text_plain(const char* content_type) {
  if (!content_type) return false;
  std::string_view ct(content_type);
  const std::size_t semi = ct.find(';');
  ct = ct.substr(0, semi);
  while (!ct.empty() && (ct.back() == ' ' || ct.back() == '\t')) ct.remove_suffix(1);
  return ascii_lower(ct) == "text/plain";
}

bool is_tls_failure(CURLcode rc) {
  switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string policy_url(std::string_view domain, std::uint16_t port) {
  std::string url = "https://mta-sts." + std::string(domain);
  if (port != 443) url += ":" + std::to_string(port);
  return url + "/.well-known/mta-sts.txt";
}

CurlFetcher::CurlFetcher(FetchOptions options) : options_(std::move(options)) {}

Result<std::string> CurlFetcher::fetch(std::string_view domain_in,
                                       std::span<const std::string> addresses) {
  const std::string domain = ascii_lower(domain_in);
  const std::string host = "mta-sts." + domain;
  const std::string url = policy_url(domain, options_.port);
  const std::string prefix = "MTA-STS policy fetch from " + url + " failed: ";
  auto failure = [&](Stage stage, std::string why, Reason reason = Reason::generic) {
    Error e = temporary_error(stage, prefix + why);
    e.reason = reason;
    e.host = host;
    return fail(std::move(e));
  };
  if (!valid_hostname(host)) return failure(Stage::input, "invalid domain name");

  // Pin every address so that libcurl never asks the system resolver (RFC 8461 §3.3 leaves
  // resolution to the sender; ours validates and is the only one allowed to run).
  if (addresses.empty()) return failure(Stage::dns, "no address for " + host);
  std::string pinned;
  for (const auto& a : addresses) {
    unsigned char buf[16];
    std::string item;
    if (inet_pton(AF_INET, a.c_str(), buf) == 1) {
      item = a;
    } else if (inet_pton(AF_INET6, a.c_str(), buf) == 1) {
      item = "[" + a + "]";
    } else {
      return failure(Stage::input, "\"" + a + "\" is not an IP address");
    }
    pinned += (pinned.empty() ? "" : ",") + item;
  }

  auto loaded = curl_api();
  if (!loaded) return failure(Stage::internal, loaded.error().detail);
  const CurlApi& api = **loaded;
  CurlPtr curl(api.easy_init(), {&api});
  if (!curl) return failure(Stage::internal, "curl_easy_init failed");
  SlistPtr resolve(nullptr, {&api});
  if (!append(api, resolve, host + ":" + std::to_string(options_.port) + ":" + pinned)) {
    return failure(Stage::internal, "out of memory");
  }

  // With a hook, the hook makes the connection (to the first address it can reach) and
  // libcurl talks through the relay; without one, libcurl connects to the pinned addresses.
  std::unique_ptr<Relay> relay;
  if (options_.open_socket) {
    std::string why;
    for (const auto& a : addresses) {
      SocketRequest request;
      request.family = a.find(':') == std::string::npos ? AF_INET : AF_INET6;
      request.address = a;
      request.port = options_.port;
      auto fd = options_.open_socket(request);
      if (!fd) {
        why += (why.empty() ? "" : "; ") + fd.error().detail;
        continue;
      }
      auto started = Relay::start(std::move(*fd));
      if (!started) return failure(Stage::internal, started.error().detail);
      relay = std::move(*started);
      break;
    }
    if (!relay) return failure(Stage::connect, why);
  }

  Transfer transfer;
  transfer.max_body = options_.max_body;
  char errbuf[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  bool ok = true;
  auto set = [&](CURLoption opt, auto value) {
    ok = ok && api.easy_setopt(c, opt, value) == CURLE_OK;
  };
  set(CURLOPT_URL, url.c_str());
  set(CURLOPT_RESOLVE, resolve.get());
  set(CURLOPT_PROTOCOLS_STR, "https");
  set(CURLOPT_REDIR_PROTOCOLS_STR, "https");
  set(CURLOPT_FOLLOWLOCATION, 0L);  // RFC 8461 §3.3: 3xx MUST NOT be followed
  set(CURLOPT_PROXY, "");           // ignore http_proxy/https_proxy/all_proxy
  set(CURLOPT_NETRC, static_cast<long>(CURL_NETRC_IGNORED));
  set(CURLOPT_SSL_VERIFYPEER, 1L);
  set(CURLOPT_SSL_VERIFYHOST, 2L);
  set(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!options_.ca_file.empty()) set(CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.ca_path.empty()) set(CURLOPT_CAPATH, options_.ca_path.c_str());
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_USERAGENT, "mxclient");
  set(CURLOPT_WRITEFUNCTION, on_body);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&transfer));
  set(CURLOPT_ERRORBUFFER, errbuf);
  if (relay) set(CURLOPT_ABSTRACT_UNIX_SOCKET, relay->name().c_str());
  if (!ok) return failure(Stage::internal, "cannot configure libcurl");

  const CURLcode rc = api.easy_perform(c);
  if (rc != CURLE_OK) {
    if (transfer.too_big) {
      return failure(Stage::connect,
                     "body larger than " + std::to_string(options_.max_body) + " octets",
                     Reason::protocol);
    }
    const std::string why = errbuf[0] ? std::string(errbuf) : std::string(api.easy_strerror(rc));
    if (rc == CURLE_OPERATION_TIMEDOUT) return failure(Stage::connect, "timed out: " + why);
    if (is_tls_failure(rc)) return failure(Stage::tls, why);
    return failure(Stage::connect, why);
  }
  long status = 0;
  api.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 300 && status < 400) {
    char* location = nullptr;
    api.easy_getinfo(c, CURLINFO_REDIRECT_URL, &location);
    return failure(Stage::connect,
                   "HTTP " + std::to_string(status) + " redirect" +
                       (location ? std::string(" to ") + location : std::string()) +
                       " not followed (RFC 8461 §3.3)",
                   Reason::protocol);
  }
  if (status != 200) {
    return failure(Stage::connect, "HTTP " + std::to_string(status), Reason::protocol);
  }
  char* content_type = nullptr;
  api.easy_getinfo(c, CURLINFO_CONTENT_TYPE, &content_type);
  if (!is_text_plain(content_type)) {
    return failure(Stage::connect,
                   std::string("media type is ") + (content_type ? content_type : "missing") +
                       ", not text/plain",
                   Reason::protocol);
  }
  return std::move(transfer.body);
}

}  // namespace mx::mtasts
