// DNS message encoding and decoding with name decompression; pure functions, no I/O.
#include "dns/wire.hpp"

#include <algorithm>

#include "dns/records.hpp"

namespace mx::dns::wire {
namespace {

constexpr std::uint16_t kTypeNs = 2;
constexpr std::uint16_t kTypeSoa = 6;
constexpr std::uint16_t kTypePtr = 12;
constexpr std::size_t kHeaderSize = 12;
constexpr int kMaxCnameChain = 16;

Error malformed(const std::string& what) {
  return temporary_error(Stage::dns, "malformed DNS response: " + what);
}

void put16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}

class Reader {
 public:
  explicit Reader(std::string_view msg) : msg_(msg) {}
  std::size_t pos() const { return pos_; }
  bool has(std::size_t n) const { return pos_ + n <= msg_.size(); }
  std::uint16_t u16() {
    const auto v = static_cast<std::uint16_t>((byte(pos_) << 8) | byte(pos_ + 1));
    pos_ += 2;
    return v;
  }
  std::uint32_t u32() {
    const std::uint32_t hi = u16();
    return (hi << 16) | u16();
  }
  std::string_view take(std::size_t n) {
    auto s = msg_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  void skip_to(std::size_t p) { pos_ = p; }

  /// Reads a possibly compressed name (RFC 1035 §4.1.4) into uncompressed wire form.
  Result<std::string> name() {
    std::string out;
    std::size_t p = pos_;
    std::size_t resume = 0;
    bool jumped = false;
    int jumps = 0;
    while (true) {
      if (p >= msg_.size()) return fail(malformed("name runs past the end"));
      const unsigned len = byte(p);
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= msg_.size()) return fail(malformed("truncated compression pointer"));
        const std::size_t target = ((len & 0x3F) << 8) | byte(p + 1);
        // Pointers only go backwards to a prior occurrence; a bound on jumps stops loops.
        if (target >= p || ++jumps > 64) return fail(malformed("bad compression pointer"));
        if (!jumped) resume = p + 2;
        jumped = true;
        p = target;
        continue;
      }
      if ((len & 0xC0) != 0) return fail(malformed("unknown label type"));
      if (p + 1 + len > msg_.size()) return fail(malformed("label runs past the end"));
      out.append(msg_.substr(p, 1 + len));
      if (out.size() > 255) return fail(malformed("name longer than 255 octets"));
      p += 1 + len;
      if (len == 0) break;
    }
    pos_ = jumped ? resume : p;
    return out;
  }

 private:
  unsigned byte(std::size_t at) const { return static_cast<unsigned char>(msg_[at]); }
  std::string_view msg_;
  std::size_t pos_ = 0;
};

Result<std::string> text_name(Reader& r) {
  auto w = r.name();
  if (!w) return fail(std::move(w).error());
  auto t = parse_name(*w, NameSyntax::printable);
  if (!t) return fail(malformed(t.error().detail));
  return t;
}

/// RDATA with names decompressed for the RFC 1035 types that may be compressed.
Result<std::string> read_rdata(Reader& r, std::uint16_t type, std::size_t rdlen) {
  const std::size_t end = r.pos() + rdlen;
  std::string out;
  auto name_into = [&]() -> bool {
    auto n = r.name();
    if (!n || r.pos() > end) return false;
    out += *n;
    return true;
  };
  bool ok = true;
  if (type == rrtype::CNAME || type == kTypeNs || type == kTypePtr) {
    ok = name_into();
  } else if (type == rrtype::MX) {
    ok = rdlen >= 2;
    if (ok) {
      out.append(r.take(2));
      ok = name_into();
    }
  } else if (type == kTypeSoa) {
    ok = name_into() && name_into() && end >= r.pos() + 20;
    if (ok) out.append(r.take(20));
  } else {
    out.append(r.take(rdlen));
  }
  if (!ok || r.pos() != end) return fail(malformed("RDATA length does not match its contents"));
  return out;
}

}  // namespace

Result<std::string> build_query(std::uint16_t id, std::string_view name, std::uint16_t type) {
  auto qname = encode_name(name);
  if (!qname) return fail(std::move(qname).error());
  std::string out;
  put16(out, id);
  put16(out, 0x0120);  // RD (RFC 1035 §4.1.1) and AD (RFC 6840 §5.7)
  put16(out, 1);       // QDCOUNT
  put16(out, 0);       // ANCOUNT
  put16(out, 0);       // NSCOUNT
  put16(out, 1);       // ARCOUNT: the OPT record
  out += *qname;
  put16(out, type);
  put16(out, kClassIn);
  // OPT pseudo-RR (RFC 6891 §6.1.2): root owner, CLASS = UDP payload size, TTL = extended
  // rcode/version/flags with DO (RFC 3225 §3), no options.
  out += '\0';
  put16(out, kTypeOpt);
  put16(out, kEdnsUdpSize);
  put16(out, 0);       // extended RCODE and VERSION 0
  put16(out, 0x8000);  // DO
  put16(out, 0);       // RDLEN
  return out;
}

Result<Message> parse_message(std::string_view wire) {
  if (wire.size() < kHeaderSize) return fail(malformed("shorter than a header"));
  Reader r(wire);
  Message m;
  m.id = r.u16();
  const std::uint16_t flags = r.u16();
  m.qr = (flags & 0x8000) != 0;
  m.tc = (flags & 0x0200) != 0;
  m.ad = (flags & 0x0020) != 0;
  m.rcode = flags & 0x000F;
  const std::uint16_t qdcount = r.u16();
  const std::uint16_t ancount = r.u16();
  r.u16();  // NSCOUNT and ARCOUNT: those sections are not needed
  r.u16();
  if (qdcount != 1) return fail(malformed("expected exactly one question"));
  auto qname = text_name(r);
  if (!qname) return fail(std::move(qname).error());
  m.qname = std::move(*qname);
  if (!r.has(4)) return fail(malformed("truncated question"));
  m.qtype = r.u16();
  m.qclass = r.u16();
  if (m.tc) return m;  // a truncated answer section is retried over TCP (RFC 7766 §5)
  for (unsigned i = 0; i < ancount; ++i) {
    ResourceRecord rr;
    auto owner = text_name(r);
    if (!owner) return fail(std::move(owner).error());
    rr.owner = std::move(*owner);
    if (!r.has(10)) return fail(malformed("truncated resource record"));
    rr.type = r.u16();
    rr.klass = r.u16();
    rr.ttl = r.u32();
    const std::uint16_t rdlen = r.u16();
    if (!r.has(rdlen)) return fail(malformed("RDATA runs past the end"));
    auto rdata = read_rdata(r, rr.type, rdlen);
    if (!rdata) return fail(std::move(rdata).error());
    rr.rdata = std::move(*rdata);
    m.answers.push_back(std::move(rr));
  }
  return m;
}

Answer to_answer(const Message& msg, std::string_view qname, std::uint16_t qtype) {
  Answer a;
  a.qname = normalize_name(qname);
  a.qtype = qtype;
  a.rcode = msg.rcode;
  a.security = msg.ad ? Security::secure : Security::insecure;
  a.canonical_name = a.qname;
  if (qtype != rrtype::CNAME) {
    for (int hop = 0; hop < kMaxCnameChain; ++hop) {
      auto it = std::find_if(msg.answers.begin(), msg.answers.end(), [&](const ResourceRecord& rr) {
        return rr.type == rrtype::CNAME && rr.klass == kClassIn && rr.owner == a.canonical_name;
      });
      if (it == msg.answers.end()) break;
      auto target = parse_name(it->rdata, NameSyntax::printable);
      if (!target) break;
      a.canonical_name = std::move(*target);
    }
  }
  bool first = true;
  for (const auto& rr : msg.answers) {
    if (rr.type != qtype || rr.klass != kClassIn || rr.owner != a.canonical_name) continue;
    a.rdata.push_back(rr.rdata);
    a.ttl = first ? rr.ttl : std::min(a.ttl, rr.ttl);
    first = false;
  }
  return a;
}

}  // namespace mx::dns::wire
