// FakeResolver: a scripted mx::dns::Resolver for unit tests. Answers come from a table keyed
// by (name, type); unknown questions get NXDOMAIN. It logs every batch it was asked.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dns/records.hpp"
#include "dns/resolver.hpp"

namespace mx::dns::testing {

class FakeResolver : public Resolver {
 public:
  /// Sets the full answer for (name, type); qname/qtype/canonical_name are filled in if empty.
  void set(std::string_view name, std::uint16_t type, Answer answer) {
    answer.qname = normalize_name(name);
    answer.qtype = type;
    if (answer.canonical_name.empty()) answer.canonical_name = answer.qname;
    table_.insert_or_assign(key(name, type), Entry{std::move(answer), std::nullopt});
  }
  /// Makes (name, type) fail without an answer (a timeout, say).
  void set_error(std::string_view name, std::uint16_t type, Error error) {
    table_.insert_or_assign(key(name, type), Entry{Answer{}, std::move(error)});
  }
  /// Adds one record to (name, type), creating a NOERROR answer with `security` if needed.
  void add(std::string_view name, std::uint16_t type, std::string rdata,
           Security security = Security::insecure) {
    auto it = table_.find(key(name, type));
    if (it == table_.end()) {
      Answer a;
      a.security = security;
      set(name, type, std::move(a));
      it = table_.find(key(name, type));
    }
    it->second.answer.rdata.push_back(std::move(rdata));
  }
  void add_mx(std::string_view domain, std::uint16_t preference, std::string_view exchange,
              Security security = Security::insecure) {
    add(domain, rrtype::MX, mx_rdata(preference, exchange), security);
  }
  void add_a(std::string_view name, const std::string& ip, Security s = Security::insecure) {
    add(name, rrtype::A, ip_rdata(AF_INET, ip), s);
  }
  void add_aaaa(std::string_view name, const std::string& ip, Security s = Security::insecure) {
    add(name, rrtype::AAAA, ip_rdata(AF_INET6, ip), s);
  }
  /// Adds a TLSA record (RFC 6698 §2.1) at `owner` ("_25._tcp.mx.example.net").
  void add_tlsa(std::string_view owner, std::uint8_t usage, std::uint8_t selector,
                std::uint8_t mtype, const std::string& data, Security s = Security::insecure) {
    add(owner, rrtype::TLSA, tlsa_rdata(usage, selector, mtype, data), s);
  }
  /// An empty answer with the given rcode (NOERROR = NODATA).
  void set_rcode(std::string_view name, std::uint16_t type, int rcode,
                 Security security = Security::insecure) {
    Answer a;
    a.rcode = rcode;
    a.security = security;
    set(name, type, std::move(a));
  }
  void set_bogus(std::string_view name, std::uint16_t type, std::string why) {
    Answer a;
    a.rcode = rcode::servfail;
    a.security = Security::bogus;
    a.why_bogus = std::move(why);
    set(name, type, std::move(a));
  }
  /// Security for the answers that unknown names get (NXDOMAIN).
  void set_default_security(Security s) { default_security_ = s; }

  std::vector<Result<Answer>> resolve(std::span<const Question> questions) override {
    batches_.emplace_back(questions.begin(), questions.end());
    std::vector<Result<Answer>> out;
    for (const auto& q : questions) {
      auto it = table_.find(key(q.name, q.type));
      if (it == table_.end()) {
        Answer a;
        a.qname = normalize_name(q.name);
        a.qtype = q.type;
        a.canonical_name = a.qname;
        a.rcode = rcode::nxdomain;
        a.security = default_security_;
        out.emplace_back(std::move(a));
      } else if (it->second.error) {
        out.emplace_back(fail(*it->second.error));
      } else {
        out.emplace_back(it->second.answer);
      }
    }
    return out;
  }

  const std::vector<std::vector<Question>>& batches() const { return batches_; }

  static std::string mx_rdata(std::uint16_t preference, std::string_view exchange) {
    std::string r;
    r += static_cast<char>(preference >> 8);
    r += static_cast<char>(preference & 0xff);
    r += *encode_name(exchange);
    return r;
  }
  static std::string tlsa_rdata(std::uint8_t usage, std::uint8_t selector, std::uint8_t mtype,
                                const std::string& data) {
    std::string r;
    r += static_cast<char>(usage);
    r += static_cast<char>(selector);
    r += static_cast<char>(mtype);
    return r + data;
  }
  static std::string ip_rdata(int family, const std::string& ip) {
    unsigned char buf[16] = {};
    inet_pton(family, ip.c_str(), buf);
    return std::string(reinterpret_cast<char*>(buf), family == AF_INET ? 4 : 16);
  }

 private:
  struct Entry {
    Answer answer;
    std::optional<Error> error;
  };
  static std::pair<std::string, std::uint16_t> key(std::string_view name, std::uint16_t type) {
    return {normalize_name(name), type};
  }
  std::map<std::pair<std::string, std::uint16_t>, Entry> table_;
  std::vector<std::vector<Question>> batches_;
  Security default_security_ = Security::insecure;
};

}  // namespace mx::dns::testing
