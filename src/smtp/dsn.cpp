// DSN parameter values (RFC 3461 §4, RFC 6533 §3): validation and xtext encodings.
#include "smtp/dsn.hpp"

#include <cstdint>
#include <optional>

#include "smtp/session.hpp"

namespace mx::smtp {

namespace {

constexpr char kHex[] = "0123456789ABCDEF";
constexpr std::size_t kMaxEnvid = 100;  // RFC 3461 §4.4
constexpr std::size_t kMaxOrcpt = 500;  // RFC 3461 §4.2

Unexpected bad(std::string detail) {
  Error e = permanent_error(Stage::input, std::move(detail));
  e.reason = Reason::bad_data;
  return fail(std::move(e));
}

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

// Decodes one UTF-8 sequence at s[i] (RFC 3629 §4: no overlongs, surrogates or > U+10FFFF).
std::optional<std::uint32_t> decode_utf8(std::string_view s, std::size_t& i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (b0 < 0x80) {
    ++i;
    return b0;
  } else if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
    cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    cp = b0 & 0x0f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return std::nullopt;
  }
  if (i + len > s.size()) return std::nullopt;
  for (std::size_t k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b & 0x3f);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return std::nullopt;
  i += len;
  return cp;
}

// RFC 6533 §3 QCHAR: printable ASCII except "+", "=" and "\".
bool is_qchar(std::uint32_t c) {
  return c >= 0x21 && c <= 0x7e && c != '+' && c != '=' && c != '\\';
}

std::string hex_point(std::uint32_t cp) {
  std::string digits;
  do {
    digits.insert(digits.begin(), kHex[cp & 0xf]);
    cp >>= 4;
  } while (cp != 0);
  return "\\x{" + digits + "}";
}

}  // namespace

std::string xtext_encode(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    auto u = static_cast<unsigned char>(c);
    if (u >= '!' && u <= '~' && c != '+' && c != '=') {
      out += c;
    } else {
      out += '+';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

Result<std::string> encode_envid(std::string_view envid) {
  if (envid.empty()) return bad("ENVID is empty");
  for (char c : envid) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return bad("ENVID must be printable US-ASCII");
  }
  std::string x = xtext_encode(envid);
  if (x.size() > kMaxEnvid) return bad("ENVID longer than 100 characters encoded");
  return x;
}

Result<std::string> encode_ret(std::string_view ret) {
  std::string up(ret);
  for (char& c : up)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (up != "FULL" && up != "HDRS") return bad("RET must be FULL or HDRS");
  return up;
}

std::string notify_value(const Notify& n) {
  if (!n.success && !n.failure && !n.delay) return "NEVER";
  std::string out;
  auto add = [&](bool on, const char* word) {
    if (!on) return;
    if (!out.empty()) out += ',';
    out += word;
  };
  add(n.success, "SUCCESS");
  add(n.failure, "FAILURE");
  add(n.delay, "DELAY");
  return out;
}

Result<std::string> encode_orcpt(std::string_view orcpt) {
  if (orcpt.empty()) return bad("ORCPT is empty");
  bool ascii = true;
  for (std::size_t i = 0; i < orcpt.size();) {
    auto cp = decode_utf8(orcpt, i);
    if (!cp) return bad("ORCPT is not valid UTF-8");
    if (*cp < 0x80 && is_control(static_cast<unsigned char>(*cp)))
      return bad("ORCPT contains control characters");
    if (*cp >= 0x80) ascii = false;
  }
  std::string out;
  if (ascii) {
    out = "rfc822;" + xtext_encode(orcpt);
  } else {
    out = "utf-8;";
    for (std::size_t i = 0; i < orcpt.size();) {
      std::uint32_t cp = *decode_utf8(orcpt, i);  // validated above
      if (is_qchar(cp))
        out += static_cast<char>(cp);
      else
        out += hex_point(cp);
    }
  }
  if (out.size() > kMaxOrcpt) return bad("ORCPT longer than 500 characters encoded");
  return out;
}

}  // namespace mx::smtp
