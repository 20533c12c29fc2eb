// A tiny authoritative-looking DNS server for tests: UDP and TCP on a loopback address in a
// background thread, answering from a table of records. Never used on 127.0.53.x (testbed).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/fd.hpp"
#include "dns/records.hpp"
#include "dns/resolver.hpp"

namespace mx::dns::testing {

/// What the server saw of one query.
struct SeenQuery {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  std::string qname;  // lower case, no trailing dot
  std::uint16_t qtype = 0;
  bool has_opt = false;
  bool do_bit = false;
  std::string question;  // the raw question section (name, type, class)
  bool tcp = false;
};

inline void put16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}

inline std::optional<SeenQuery> parse_query(const std::string& q) {
  if (q.size() < 12) return std::nullopt;
  auto u16 = [&](std::size_t at) {
    return static_cast<std::uint16_t>((static_cast<unsigned char>(q[at]) << 8) |
                                      static_cast<unsigned char>(q[at + 1]));
  };
  SeenQuery s;
  s.id = u16(0);
  s.flags = u16(2);
  std::size_t pos = 12;
  auto name = read_name(q, pos, NameSyntax::printable);
  if (!name || pos + 4 > q.size()) return std::nullopt;
  s.qname = *name;
  s.qtype = u16(pos);
  pos += 4;
  s.question = q.substr(12, pos - 12);
  if (u16(10) >= 1 && pos + 11 <= q.size() && q[pos] == 0 && u16(pos + 1) == 41) {
    s.has_opt = true;
    s.do_bit = (u16(pos + 7) & 0x8000) != 0;
  }
  return s;
}

struct FakeRr {
  std::string owner;
  std::uint16_t type = 0;
  std::string rdata;  // uncompressed
  std::uint32_t ttl = 300;
};

/// Builds a response: header flags QR|RA, RD copied, plus AD/TC/rcode as given. Owner names
/// equal to the question name are written as a compression pointer to offset 12.
inline std::string build_response(const SeenQuery& q, int rcode, bool ad, bool tc,
                                  const std::vector<FakeRr>& answers, bool aa = false) {
  std::string out;
  put16(out, q.id);
  std::uint16_t flags = 0x8080 | (q.flags & 0x0100) | static_cast<std::uint16_t>(rcode & 0xf);
  if (ad) flags |= 0x0020;
  if (tc) flags |= 0x0200;
  if (aa) flags |= 0x0400;
  put16(out, flags);
  put16(out, 1);
  put16(out, tc ? 0 : static_cast<std::uint16_t>(answers.size()));
  put16(out, 0);
  put16(out, 0);
  out += q.question;
  if (tc) return out;
  for (const auto& rr : answers) {
    if (same_name(rr.owner, q.qname)) {
      out += "\xc0\x0c";
    } else {
      out += *encode_name(rr.owner);
    }
    put16(out, rr.type);
    put16(out, 1);
    put16(out, static_cast<std::uint16_t>(rr.ttl >> 16));
    put16(out, static_cast<std::uint16_t>(rr.ttl & 0xffff));
    put16(out, static_cast<std::uint16_t>(rr.rdata.size()));
    out += rr.rdata;
  }
  return out;
}

/// A zone-like table: records by (name, type), CNAMEs followed, unknown names NXDOMAIN.
class FakeZone {
 public:
  void add(std::string name, std::uint16_t type, std::string rdata, std::uint32_t ttl = 300) {
    rrs_.push_back({normalize_name(name), type, std::move(rdata), ttl});
  }
  void add_a(std::string name, const std::string& ip) {
    unsigned char b[4];
    inet_pton(AF_INET, ip.c_str(), b);
    add(std::move(name), rrtype::A, std::string(reinterpret_cast<char*>(b), 4));
  }
  void add_cname(std::string name, const std::string& target) {
    add(std::move(name), rrtype::CNAME, *encode_name(target));
  }
  void add_mx(std::string name, std::uint16_t pref, const std::string& exchange) {
    std::string r;
    put16(r, pref);
    r += *encode_name(exchange);
    add(std::move(name), rrtype::MX, r);
  }

  /// rcode and answer section for a question.
  std::pair<int, std::vector<FakeRr>> lookup(const std::string& qname, std::uint16_t qtype) const {
    std::vector<FakeRr> out;
    std::string name = qname;
    for (int hop = 0; hop < 8; ++hop) {
      bool exists = false;
      const FakeRr* cname = nullptr;
      for (const auto& rr : rrs_) {
        if (rr.owner != name) continue;
        exists = true;
        if (rr.type == qtype) out.push_back(rr);
        if (rr.type == rrtype::CNAME) cname = &rr;
      }
      if (!exists && !has_descendant(name)) return {rcode::nxdomain, out};
      if (cname && qtype != rrtype::CNAME) {
        out.push_back(*cname);
        name = *parse_name(cname->rdata, NameSyntax::printable);
        continue;
      }
      return {rcode::noerror, out};
    }
    return {rcode::servfail, {}};
  }

 private:
  bool has_descendant(const std::string& name) const {  // an empty non-terminal exists
    for (const auto& rr : rrs_) {
      if (name.empty() || rr.owner.ends_with("." + name)) return true;
    }
    return false;
  }
  std::vector<FakeRr> rrs_;
};

class FakeDnsServer {
 public:
  /// Returns the response to send, or nullopt to drop the query.
  using Handler = std::function<std::optional<std::string>(const SeenQuery&)>;

  /// Binds UDP and TCP on ip:port (port 0: the same ephemeral port for both, retrying if TCP
  /// finds it taken). Throws std::runtime_error when it cannot bind.
  FakeDnsServer(const std::string& ip, Handler handler, std::uint16_t port = 0)
      : handler_(std::move(handler)) {
    for (int attempt = 0; attempt < (port == 0 ? 20 : 1) && port_ == 0; ++attempt) {
      Fd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = htons(port);
      inet_pton(AF_INET, ip.c_str(), &sin.sin_addr);
      if (::bind(udp.get(), reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) continue;
      socklen_t len = sizeof(sin);
      ::getsockname(udp.get(), reinterpret_cast<sockaddr*>(&sin), &len);
      Fd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      int one = 1;
      ::setsockopt(tcp.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (::bind(tcp.get(), reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) continue;
      if (::listen(tcp.get(), 8) != 0) continue;
      port_ = ntohs(sin.sin_port);
      udp_ = std::move(udp);
      tcp_ = std::move(tcp);
    }
    if (port_ == 0) throw std::runtime_error("cannot bind the fake DNS server on " + ip);
    ip_ = ip;
    int p[2];
    if (::pipe(p) != 0) throw std::runtime_error("pipe");
    stop_r_.reset(p[0]);
    stop_w_.reset(p[1]);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeDnsServer() {
    (void)!::write(stop_w_.get(), "x", 1);
    thread_.join();
  }
  FakeDnsServer(const FakeDnsServer&) = delete;
  FakeDnsServer& operator=(const FakeDnsServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const { return ip_ + "@" + std::to_string(port_); }
  std::vector<SeenQuery> seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  void run() {
    while (true) {
      pollfd fds[3] = {
          {udp_.get(), POLLIN, 0}, {tcp_.get(), POLLIN, 0}, {stop_r_.get(), POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0) continue;
      if (fds[2].revents) return;
      if (fds[0].revents & POLLIN) serve_udp();
      if (fds[1].revents & POLLIN) serve_tcp();
    }
  }
  std::optional<std::string> answer(const std::string& query, bool tcp) {
    auto q = parse_query(query);
    if (!q) return std::nullopt;
    q->tcp = tcp;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(*q);
    }
    return handler_(*q);
  }
  void serve_udp() {
    char buf[4096];
    sockaddr_storage from{};
    socklen_t len = sizeof(from);
    const ssize_t n =
        ::recvfrom(udp_.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0) return;
    auto reply = answer(std::string(buf, static_cast<std::size_t>(n)), false);
    if (reply) {
      ::sendto(udp_.get(), reply->data(), reply->size(), 0, reinterpret_cast<sockaddr*>(&from),
               len);
    }
  }
  void serve_tcp() {
    Fd conn(::accept4(tcp_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) return;
    timeval tv{2, 0};
    ::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    auto read_exact = [&](std::size_t n) -> std::optional<std::string> {
      std::string s(n, '\0');
      std::size_t got = 0;
      while (got < n) {
        const ssize_t r = ::recv(conn.get(), s.data() + got, n - got, 0);
        if (r <= 0) return std::nullopt;
        got += static_cast<std::size_t>(r);
      }
      return s;
    };
    auto hdr = read_exact(2);
    if (!hdr) return;
    const std::size_t len =
        (static_cast<unsigned char>((*hdr)[0]) << 8) | static_cast<unsigned char>((*hdr)[1]);
    auto body = read_exact(len);
    if (!body) return;
    auto reply = answer(*body, true);
    if (!reply) return;
    std::string out;
    put16(out, static_cast<std::uint16_t>(reply->size()));
    out += *reply;
    (void)!::send(conn.get(), out.data(), out.size(), MSG_NOSIGNAL);
  }

  Handler handler_;
  std::string ip_;
  std::uint16_t port_ = 0;
  Fd udp_, tcp_, stop_r_, stop_w_;
  mutable std::mutex mu_;
  std::vector<SeenQuery> seen_;
  std::thread thread_;
};

}  // namespace mx::dns::testing
