// Mechanism properties, the mechanism choice, and strict base64 for SMTP AUTH exchanges.
#include "sasl/mechanisms.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace mx::sasl {

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool contains(const std::vector<std::string>& list, std::string_view name) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& m) { return upper(m) == upper(name); });
}

std::string join(const std::vector<std::string>& list) {
  if (list.empty()) return "none";
  std::string out;
  for (const auto& m : list) {
    if (!out.empty()) out += ' ';
    out += m;
  }
  return out;
}

Error config_error(std::string detail) {
  return permanent_error(Stage::config, std::move(detail));
}

// Whether `mech` may be used at all with what we have.
std::optional<std::string> unusable_reason(const std::string& mech, const Selection& sel) {
  if (mech == "EXTERNAL") {
    if (!sel.have_client_certificate) return "AUTH EXTERNAL needs a client certificate";
    return std::nullopt;
  }
  if (!sel.have_password) return "AUTH " + mech + " needs a password";
  if (is_plus(mech) && !sel.have_channel_binding)
    return "AUTH " + mech + " needs TLS channel binding, which this connection does not provide";
  return std::nullopt;
}

}  // namespace

const std::vector<std::string>& supported_mechanisms() {
  static const std::vector<std::string> kAll = {
      "SCRAM-SHA-256-PLUS",
      "SCRAM-SHA-1-PLUS",
      "SCRAM-SHA-256",
      "SCRAM-SHA-1",
      "CRAM-MD5",
      "PLAIN",
      "LOGIN",
      "EXTERNAL",
  };
  return kAll;
}

bool is_supported(std::string_view mechanism) {
  return contains(supported_mechanisms(), mechanism);
}

bool is_plus(std::string_view mechanism) {
  std::string m = upper(mechanism);
  return is_scram(m) && m.size() > 5 && m.ends_with("-PLUS");
}

bool is_scram(std::string_view mechanism) {
  return upper(mechanism).starts_with("SCRAM-SHA-");
}

bool needs_password(std::string_view mechanism) {
  return upper(mechanism) != "EXTERNAL";
}

bool has_initial_response(std::string_view mechanism) {
  // LOGIN and CRAM-MD5 start with a server challenge; the others are client-first.
  std::string m = upper(mechanism);
  return m != "LOGIN" && m != "CRAM-MD5";
}

Result<std::string> choose_mechanism(const std::vector<std::string>& offered,
                                     const Selection& selection) {
  if (selection.mechanism) {
    std::string mech = upper(*selection.mechanism);
    if (!is_supported(mech)) return fail(config_error("unsupported SASL mechanism " + mech));
    if (auto why = unusable_reason(mech, selection)) return fail(config_error(*why));
    if (!contains(offered, mech))
      return fail(config_error("the server does not offer AUTH " + mech +
                               " (it offers: " + join(offered) + ")"));
    return mech;
  }
  for (const auto& m : selection.allowed) {
    if (!is_supported(m)) return fail(config_error("unsupported SASL mechanism " + upper(m)));
  }
  if (!selection.have_password && !selection.have_client_certificate)
    return fail(config_error("SASL authentication needs a password or a client certificate"));

  std::vector<std::string> order;
  // EXTERNAL proves possession of the certificate key and sends no secret: preferred whenever
  // it is eligible at all.
  bool external_requested = contains(selection.allowed, "EXTERNAL") || !selection.have_password;
  if (selection.have_client_certificate && external_requested) order.push_back("EXTERNAL");
  for (const auto& m : supported_mechanisms()) {
    if (m == "EXTERNAL") continue;
    if (!selection.allowed.empty() && !contains(selection.allowed, m)) continue;
    if (unusable_reason(m, selection)) continue;
    order.push_back(m);
  }
  for (const auto& m : order) {
    if (contains(offered, m)) return m;
  }
  return fail(config_error("no usable SASL mechanism: we can use " + join(order) +
                           ", the server offers " + join(offered)));
}

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int value_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string base64_encode(std::string_view raw) {
  std::string out;
  out.reserve((raw.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(raw[k]); };
  for (; i + 3 <= raw.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  std::size_t rest = raw.size() - i;
  if (rest == 1) {
    unsigned v = byte(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    std::array<int, 4> v{};
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + static_cast<std::size_t>(k)];
      if (c == '=' && last && k >= 2) {
        ++pad;
        v[static_cast<std::size_t>(k)] = 0;
        continue;
      }
      if (pad != 0) return std::nullopt;  // data after padding
      v[static_cast<std::size_t>(k)] = value_of(c);
      if (v[static_cast<std::size_t>(k)] < 0) return std::nullopt;
    }
    unsigned n = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                 (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    // RFC 4648 §3.5: the bits below the padding must be zero (canonical encoding).
    if ((pad == 1 && (n & 0xff) != 0) || (pad == 2 && (n & 0xffff) != 0)) return std::nullopt;
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

}  // namespace mx::sasl
