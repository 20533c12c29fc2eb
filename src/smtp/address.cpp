// Mailbox and domain syntax checks (RFC 5321 §4.1.2, §4.1.3, §4.5.3.1; UTF-8 per RFC 6531).
#include "smtp/address.hpp"

#include <algorithm>

namespace mx::smtp {

namespace {

constexpr std::size_t kMaxLocal = 64;    // RFC 5321 §4.5.3.1.1
constexpr std::size_t kMaxDomain = 255;  // RFC 5321 §4.5.3.1.2
constexpr std::size_t kMaxPath = 256;    // RFC 5321 §4.5.3.1.3, including "<", "@" and ">"
constexpr std::size_t kMaxLabel = 63;    // RFC 1035 §2.3.4

Unexpected bad(std::string detail) {
  Error e = permanent_error(Stage::input, "invalid address: " + detail);
  e.reason = Reason::bad_data;
  return fail(std::move(e));
}

unsigned char byte(std::string_view s, std::size_t i) {
  return static_cast<unsigned char>(s[i]);
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_utf8(char c) {
  return static_cast<unsigned char>(c) >= 0x80;
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629 §4), 0 when malformed.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  unsigned char c = byte(s, i);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c == 0xE0)
    n = 3, lo = 0xA0;  // no overlong forms
  else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
    n = 3;
  else if (c == 0xED)
    n = 3, hi = 0x9F;  // no surrogates
  else if (c == 0xF0)
    n = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3)
    n = 4;
  else if (c == 0xF4)
    n = 4, hi = 0x8F;  // nothing above U+10FFFF
  else
    return 0;
  if (i + n > s.size() || byte(s, i + 1) < lo || byte(s, i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(s, i + k) < 0x80 || byte(s, i + k) > 0xBF) return 0;
  }
  return n;
}

// Rejects what must never reach a command line: CR, LF, NUL, other controls, broken UTF-8.
Result<void> check_octets(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = byte(s, i);
    if (c == '\r') return bad("carriage return");
    if (c == '\n') return bad("line feed");
    if (c == 0) return bad("NUL byte");
    if (c < 0x20 || c == 0x7f) return bad("control character");
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = utf8_length(s, i);
    if (n == 0) return bad("malformed UTF-8");
    i += n;
  }
  return {};
}

// RFC 5321 §4.1.2 atext (RFC 5322 §3.2.3) plus UTF-8 octets (RFC 6531 §3.3).
bool is_atext(char c) {
  static constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";
  return is_alpha(c) || is_digit(c) || is_utf8(c) || specials.find(c) != std::string_view::npos;
}

// RFC 5321 §4.1.2 qtextSMTP: %d32-33 / %d35-91 / %d93-126, plus UTF-8 (RFC 6531 §3.3).
bool is_qtext(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u >= 32 && u <= 126 && c != '"' && c != '\\') || u >= 0x80;
}

bool valid_ipv4(std::string_view s) {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t start = i;
    int value = 0;
    while (i < s.size() && is_digit(s[i]) && i - start < 3) value = value * 10 + (s[i++] - '0');
    if (i == start || value > 255) return false;
    ++parts;
    if (i == s.size()) break;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
  return parts == 4;
}

// Counts 16-bit groups of a colon-separated run; an IPv4 tail counts as two.
bool count_groups(std::string_view s, bool allow_ipv4_tail, int& groups) {
  if (s.empty()) return true;
  std::size_t i = 0;
  while (true) {
    std::size_t colon = s.find(':', i);
    std::string_view piece = s.substr(i, colon == std::string_view::npos ? s.npos : colon - i);
    bool last = colon == std::string_view::npos;
    if (last && allow_ipv4_tail && piece.find('.') != std::string_view::npos) {
      if (!valid_ipv4(piece)) return false;
      groups += 2;
    } else {
      if (piece.empty() || piece.size() > 4 || !std::all_of(piece.begin(), piece.end(), is_hex)) {
        return false;
      }
      groups += 1;
    }
    if (last) return true;
    i = colon + 1;
  }
}

// RFC 5321 §4.1.3 IPv6-addr: 8 groups, or at most 6 besides "::" (IPv4 tail counts as two).
bool valid_ipv6(std::string_view s) {
  int groups = 0;
  std::size_t dc = s.find("::");
  if (dc == std::string_view::npos) return count_groups(s, true, groups) && groups == 8;
  if (s.find("::", dc + 1) != std::string_view::npos) return false;
  return count_groups(s.substr(0, dc), false, groups) &&
         count_groups(s.substr(dc + 2), true, groups) && groups <= 6;
}

Result<void> check_address_literal(std::string_view lit) {
  if (lit.size() < 2 || lit.back() != ']') return bad("unterminated address literal");
  std::string_view inner = lit.substr(1, lit.size() - 2);
  constexpr std::string_view tag = "IPv6:";
  if (inner.size() >= tag.size() &&
      std::equal(tag.begin(), tag.end(), inner.begin(),
                 [](char a, char b) { return (a | 0x20) == (b | 0x20); })) {
    if (!valid_ipv6(inner.substr(tag.size()))) return bad("malformed IPv6 address literal");
    return {};
  }
  // General-address-literal tags other than IPv6 are not registered: refuse them.
  if (inner.find(':') != std::string_view::npos) return bad("unsupported address literal tag");
  if (!valid_ipv4(inner)) return bad("malformed IPv4 address literal");
  return {};
}

// RFC 5321 §4.1.2 Domain: sub-domain *("." sub-domain), Let-dig [Ldh-str]; UTF-8 for U-labels.
Result<void> check_domain(std::string_view d) {
  if (d.empty()) return bad("empty domain");
  if (d.size() > kMaxDomain) return bad("domain longer than 255 octets");
  if (d.front() == '[') return check_address_literal(d);
  std::size_t start = 0;
  while (true) {
    std::size_t dot = d.find('.', start);
    std::string_view label = d.substr(start, dot == std::string_view::npos ? d.npos : dot - start);
    if (label.empty()) return bad("empty label in domain");
    for (char c : label) {
      if (c == ' ') return bad("space in domain");
      if (!is_alpha(c) && !is_digit(c) && c != '-' && !is_utf8(c)) {
        return bad(std::string("invalid character '") + c + "' in domain");
      }
    }
    if (label.front() == '-' || label.back() == '-')
      return bad("domain label starts or ends with '-'");
    bool ascii = std::none_of(label.begin(), label.end(), is_utf8);
    // A U-label's length is checked after conversion to its A-label.
    if (ascii && label.size() > kMaxLabel) return bad("domain label longer than 63 octets");
    if (dot == std::string_view::npos) return {};
    start = dot + 1;
  }
}

}  // namespace

std::string Mailbox::to_string() const {
  return local + "@" + domain;
}

bool Mailbox::local_is_ascii() const {
  return std::none_of(local.begin(), local.end(), is_utf8);
}

bool Mailbox::is_ascii() const {
  return local_is_ascii() && std::none_of(domain.begin(), domain.end(), is_utf8);
}

Result<void> validate_domain(std::string_view domain) {
  if (auto ok = check_octets(domain); !ok) return fail(std::move(ok).error());
  return check_domain(domain);
}

Result<Mailbox> parse_mailbox(std::string_view s) {
  if (auto ok = check_octets(s); !ok) return fail(std::move(ok).error());
  if (!s.empty() && s.front() == '<') {
    if (s.size() < 2 || s.back() != '>') return bad("unbalanced angle brackets");
    s = s.substr(1, s.size() - 2);
  } else if (!s.empty() && s.back() == '>') {
    return bad("unbalanced angle brackets");
  }
  if (s.empty()) return bad("empty address");

  std::size_t at = 0;
  if (s.front() == '"') {
    // RFC 5321 §4.1.2 Quoted-string: DQUOTE *QcontentSMTP DQUOTE.
    std::size_t i = 1;
    while (true) {
      if (i >= s.size()) return bad("unterminated quoted string");
      char c = s[i];
      if (c == '"') break;
      if (c == '\\') {
        // quoted-pairSMTP: backslash followed by %d32-126.
        if (i + 1 >= s.size() || byte(s, i + 1) < 32 || byte(s, i + 1) > 126) {
          return bad("bad quoted pair in local part");
        }
        i += 2;
      } else if (is_qtext(c)) {
        ++i;
      } else {
        return bad("invalid character in quoted local part");
      }
    }
    if (i == 1) return bad("empty local part");
    at = i + 1;
    if (at >= s.size() || s[at] != '@') return bad("missing '@' after quoted local part");
  } else {
    // RFC 5321 §4.1.2 Dot-string: Atom *("." Atom).
    std::size_t i = 0;
    std::size_t atom_start = 0;
    while (true) {
      if (i >= s.size()) return bad("missing '@'");
      char c = s[i];
      if (c == '@' || c == '.') {
        if (i == 0 && c == '@') return bad("empty local part");
        if (i == atom_start) return bad("misplaced '.' in local part");
        if (c == '@') break;
        atom_start = i + 1;
      } else if (c == ' ') {
        return bad("space outside quotes");
      } else if (!is_atext(c)) {
        return bad(std::string("invalid character '") + c + "' in local part");
      }
      ++i;
    }
    at = i;
  }

  Mailbox mb{std::string(s.substr(0, at)), std::string(s.substr(at + 1))};
  if (mb.domain.find(' ') != std::string::npos) return bad("space outside quotes");
  if (auto ok = check_domain(mb.domain); !ok) return fail(std::move(ok).error());
  if (mb.local.size() > kMaxLocal) return bad("local part longer than 64 octets");
  if (mb.local.size() + mb.domain.size() + 3 > kMaxPath) return bad("path longer than 256 octets");
  return mb;
}

}  // namespace mx::smtp
