// TrustAdResolver: thin UDP/TCP I/O around the pure codec in dns/wire.hpp.
#include "dns/trust_ad_resolver.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "core/deadline.hpp"
#include "core/fd.hpp"
#include "dns/config_file.hpp"
#include "dns/records.hpp"
#include "dns/wire.hpp"

namespace mx::dns {
namespace {

std::string describe(const Question& q) {
  return normalize_name(q.name) + " " + type_name(q.type);
}

Error lookup_error(const Question& q, const std::string& why) {
  return temporary_error(Stage::dns, "DNS lookup of " + describe(q) + " failed: " + why);
}

/// Waits until fd is ready for `events`; false on timeout or error.
bool wait_for(int fd, short events, const Deadline& deadline) {
  while (true) {
    pollfd pfd{fd, events, 0};
    const int n = ::poll(&pfd, 1, deadline.poll_timeout_ms());
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

/// One query over TCP with the two-octet length prefix (RFC 1035 §4.2.2, RFC 7766).
Result<std::string> tcp_exchange(const ServerAddress& server, const std::string& query,
                                 const Deadline& deadline) {
  auto io_error = [](const std::string& what) {
    return fail(temporary_error(Stage::dns, what + ": " + std::strerror(errno)));
  };
  Fd fd(::socket(server.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return io_error("socket");
  sockaddr_storage addr{};
  const socklen_t len = server.to_sockaddr(addr);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    if (errno != EINPROGRESS) return io_error("TCP connect to " + server.to_string());
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      return fail(
          temporary_error(Stage::dns, "TCP connect to " + server.to_string() + " timed out"));
    }
    int so_error = 0;
    socklen_t so_len = sizeof(so_error);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &so_len);
    if (so_error != 0) {
      errno = so_error;
      return io_error("TCP connect to " + server.to_string());
    }
  }
  std::string out;
  out += static_cast<char>(query.size() >> 8);
  out += static_cast<char>(query.size() & 0xff);
  out += query;
  std::size_t sent = 0;
  while (sent < out.size()) {
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      return fail(temporary_error(Stage::dns, "TCP send timed out"));
    }
    const ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return io_error("TCP send");
    sent += static_cast<std::size_t>(n);
  }
  std::string in;
  std::size_t want = 2;
  bool have_length = false;
  std::array<char, 4096> buf{};
  while (in.size() < want) {
    if (!wait_for(fd.get(), POLLIN, deadline)) {
      return fail(temporary_error(Stage::dns, "TCP answer timed out"));
    }
    const ssize_t n = ::recv(fd.get(), buf.data(), std::min(buf.size(), want - in.size()), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return io_error("TCP receive");
    if (n == 0) return fail(temporary_error(Stage::dns, "the resolver closed the TCP connection"));
    in.append(buf.data(), static_cast<std::size_t>(n));
    if (!have_length && in.size() == 2) {
      want = 2 + ((static_cast<unsigned char>(in[0]) << 8) | static_cast<unsigned char>(in[1]));
      have_length = true;
    }
  }
  return in.substr(2);
}

/// True when msg is the response to `query_id` for q (RFC 5452 §9.1: ID and question).
bool matches(const wire::Message& msg, std::uint16_t query_id, const Question& q) {
  return msg.qr && msg.id == query_id && msg.qname == normalize_name(q.name) &&
         msg.qtype == q.type && msg.qclass == wire::kClassIn;
}

}  // namespace

TrustAdResolver::TrustAdResolver(ServerAddress server, const TrustAdOptions& options)
    : server_(std::move(server)),
      timeout_(options.timeout),
      retransmit_(options.retransmit),
      rng_(std::random_device{}()) {}

Result<std::unique_ptr<TrustAdResolver>> TrustAdResolver::create(const TrustAdOptions& options) {
  std::string text;
  if (options.nameserver) {
    text = *options.nameserver;
  } else {
    auto conf = read_config_file(options.resolv_conf, "resolver configuration");
    if (!conf) return fail(std::move(conf).error());
    auto first = first_nameserver(*conf);
    if (!first) {
      return fail(permanent_error(Stage::config, options.resolv_conf + " names no nameserver"));
    }
    text = *first;
  }
  auto server = parse_server_address(text);
  if (!server) return fail(std::move(server).error());
  if (!server->loopback()) {
    return fail(permanent_error(Stage::config, "the resolver " + text +
                                                   " is not on loopback; refusing to trust its "
                                                   "AD bit"));
  }
  if (options.timeout.count() <= 0 || options.retransmit.count() <= 0) {
    return fail(permanent_error(Stage::config, "DNS timeouts must be positive"));
  }
  return std::unique_ptr<TrustAdResolver>(new TrustAdResolver(std::move(*server), options));
}

std::vector<Result<Answer>> TrustAdResolver::resolve(std::span<const Question> questions) {
  const Deadline deadline = Deadline::after(timeout_);
  struct Pending {
    std::string query;
    std::uint16_t id = 0;
    bool truncated = false;  // retry over TCP
  };
  std::vector<std::optional<Result<Answer>>> results(questions.size());
  std::unordered_map<std::uint16_t, std::size_t> by_id;  // outstanding UDP queries
  std::vector<Pending> pending(questions.size());

  for (std::size_t i = 0; i < questions.size(); ++i) {
    std::uint16_t id = 0;
    do {
      id = static_cast<std::uint16_t>(rng_());
    } while (by_id.contains(id));
    auto query = wire::build_query(id, questions[i].name, questions[i].type);
    if (!query || normalize_name(questions[i].name).empty()) {
      results[i] = fail(lookup_error(questions[i], "invalid domain name"));
      continue;
    }
    pending[i] = Pending{std::move(*query), id, false};
    by_id[id] = i;
  }

  std::string broken;  // why the UDP phase stopped early
  Fd udp(::socket(server_.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_storage addr{};
  const socklen_t addr_len = server_.to_sockaddr(addr);
  if (!udp.valid() ||
      ::connect(udp.get(), reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0) {
    broken = std::string("cannot open a UDP socket to ") + server_.to_string() + ": " +
             std::strerror(errno);
    by_id.clear();
  }

  auto send_all = [&] {
    for (const auto& [id, i] : by_id) {
      // A failed send (e.g. ECONNREFUSED left by an earlier ICMP error) is retried later.
      (void)::send(udp.get(), pending[i].query.data(), pending[i].query.size(), 0);
    }
  };
  send_all();
  auto next_send = Clock::now() + retransmit_;
  std::array<char, 65536> buf{};
  while (!by_id.empty() && !deadline.expired()) {
    const Deadline wake = Deadline::min(deadline, Deadline(next_send));
    if (wait_for(udp.get(), POLLIN, wake)) {
      while (true) {
        const ssize_t n = ::recv(udp.get(), buf.data(), buf.size(), 0);
        if (n < 0) break;  // EAGAIN, or an ICMP error: keep waiting and retransmitting
        auto msg = wire::parse_message(std::string_view(buf.data(), static_cast<std::size_t>(n)));
        if (!msg) continue;  // garbage is not an answer
        const auto it = by_id.find(msg->id);
        if (it == by_id.end()) continue;
        const std::size_t i = it->second;
        if (!matches(*msg, pending[i].id, questions[i])) continue;
        by_id.erase(it);
        if (msg->tc) {
          pending[i].truncated = true;  // RFC 7766 §5: truncated over UDP, ask again over TCP
        } else {
          results[i] = wire::to_answer(*msg, questions[i].name, questions[i].type);
        }
      }
    }
    if (Clock::now() >= next_send) {
      send_all();
      next_send = Clock::now() + retransmit_;
    }
  }

  for (std::size_t i = 0; i < questions.size(); ++i) {
    if (results[i] || !pending[i].truncated) continue;
    auto reply = tcp_exchange(server_, pending[i].query, deadline);
    if (!reply) {
      results[i] = fail(lookup_error(questions[i], reply.error().detail));
      continue;
    }
    auto msg = wire::parse_message(*reply);
    if (!msg) {
      results[i] = fail(lookup_error(questions[i], msg.error().detail));
    } else if (!matches(*msg, pending[i].id, questions[i]) || msg->tc) {
      results[i] = fail(lookup_error(questions[i], "the TCP answer does not match the question"));
    } else {
      results[i] = wire::to_answer(*msg, questions[i].name, questions[i].type);
    }
  }

  std::vector<Result<Answer>> out;
  out.reserve(questions.size());
  for (std::size_t i = 0; i < questions.size(); ++i) {
    if (!results[i]) {
      results[i] = fail(broken.empty()
                            ? temporary_error(Stage::dns, "DNS lookup of " +
                                                              describe(questions[i]) + " timed out")
                            : lookup_error(questions[i], broken));
    }
    out.push_back(std::move(*results[i]));
  }
  return out;
}

}  // namespace mx::dns
