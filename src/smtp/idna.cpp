// IDNA conversions through libidn2 (see idna.hpp).
#include "smtp/idna.hpp"

#include <cstdint>
#include <memory>

#include "core/ascii.hpp"
#include "core/shared_library.hpp"
#include "smtp/address.hpp"
#include "smtp/idn2_api.hpp"

namespace mx::smtp {

namespace {

using IdnString = std::unique_ptr<char, FreeThrough<&Idn2Api::free>>;
using IdnBytes = std::unique_ptr<std::uint8_t, FreeThrough<&Idn2Api::free>>;

constexpr std::size_t kMaxLabel = 63;  // RFC 1035 §2.3.4

// Error text must not carry control characters from the input into logs or terminals.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 300)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  return out;
}

Unexpected bad(std::string_view domain, std::string_view why) {
  Error e = permanent_error(Stage::input, "invalid internationalized domain name: \"" +
                                              printable(domain) + "\": " + std::string(why));
  e.reason = Reason::bad_data;
  return fail(std::move(e));
}

bool is_ldh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// Checks the lower-cased ASCII result: LDH labels of 1-63 octets, no hyphen at either end
// (RFC 1123 §2.1), and hyphens in positions 3-4 only for A-labels (RFC 5891 §4.2.3.1).
std::string check_ascii(std::string_view name) {
  if (name.empty()) return "empty name";
  if (name.size() > kMaxDomainText) return "longer than 253 octets";
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = name.find('.', start);
    std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) return "empty label";
    if (label.size() > kMaxLabel) return "label longer than 63 octets";
    for (char c : label) {
      if (!is_ldh(c)) return "label \"" + printable(label) + "\" has a character not allowed";
    }
    if (label.front() == '-' || label.back() == '-') {
      return "label \"" + std::string(label) + "\" begins or ends with a hyphen";
    }
    if (label.size() >= 4 && label.substr(2, 2) == "--" && label.substr(0, 4) != "xn--") {
      return "label \"" + std::string(label) + "\" has hyphens in positions 3 and 4";
    }
    if (dot == std::string_view::npos) return {};
    start = dot + 1;
  }
}

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

bool has_a_label(std::string_view lower) {
  return lower.starts_with("xn--") || lower.find(".xn--") != std::string_view::npos;
}

// Flags for registration-independent lookups: NFC first, then UTS #46 non-transitional
// mapping (so "ß" stays "ß" as IDNA2008 says, and upper case maps to lower case).
constexpr int kLookupFlags = IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL;

}  // namespace

Result<std::string> domain_to_ascii(std::string_view domain) {
  if (!domain.empty() && domain.front() == '[') {
    if (auto ok = validate_domain(domain); !ok) return bad(domain, "bad address literal");
    return std::string(domain);
  }
  if (domain.empty()) return bad(domain, "empty name");
  if (domain.find('\0') != std::string_view::npos) return bad(domain, "contains a NUL octet");
  // Input far beyond the limit cannot become a valid name; do not hand it to libidn2.
  if (domain.size() > 4 * kMaxDomainText) return bad(domain, "longer than 253 octets");

  std::string ascii;
  if (is_ascii(domain)) {
    // UTS #46 maps ASCII only by lower-casing it (other characters are checked below), so an
    // all-ASCII name needs libidn2 only for its A-labels.
    ascii = ascii_lower(domain);
  } else {
    auto loaded = idn2_api();
    if (!loaded) return fail(std::move(loaded).error());
    const Idn2Api& idn = **loaded;
    const std::string input(domain);
    std::uint8_t* raw = nullptr;
    int rc =
        idn.lookup_u8(reinterpret_cast<const std::uint8_t*>(input.c_str()), &raw, kLookupFlags);
    IdnBytes owned(raw, {&idn});
    if (rc != IDN2_OK) return bad(domain, idn.strerror(rc));
    ascii = reinterpret_cast<const char*>(owned.get());
  }

  if (auto why = check_ascii(ascii); !why.empty()) return bad(domain, why);

  // libidn2 passes ASCII labels through; an "xn--" label must be a valid A-label that
  // decodes to a U-label and encodes back to itself (RFC 5891 §5.4).
  if (has_a_label(ascii)) {
    auto loaded = idn2_api();
    if (!loaded) return fail(std::move(loaded).error());
    const Idn2Api& idn = **loaded;
    char* uraw = nullptr;
    int rc = idn.to_unicode_8z8z(ascii.c_str(), &uraw, 0);
    IdnString unicode(uraw, {&idn});
    if (rc != IDN2_OK) return bad(domain, idn.strerror(rc));
    std::uint8_t* back_raw = nullptr;
    rc = idn.lookup_u8(reinterpret_cast<const std::uint8_t*>(unicode.get()), &back_raw,
                       kLookupFlags);
    IdnBytes back(back_raw, {&idn});
    if (rc != IDN2_OK) return bad(domain, idn.strerror(rc));
    if (ascii != reinterpret_cast<const char*>(back.get())) {
      return bad(domain, "A-label does not round-trip");
    }
  }
  return ascii;
}

std::string domain_to_unicode(std::string_view domain) {
  if (domain.empty() || domain.find('\0') != std::string_view::npos) return std::string(domain);
  // Only A-labels change (and libidn2 is loaded only for them).
  if (is_ascii(domain) && !has_a_label(ascii_lower(domain))) return std::string(domain);
  auto loaded = idn2_api();
  if (!loaded) return std::string(domain);
  const std::string input(domain);
  char* raw = nullptr;
  int rc = (*loaded)->to_unicode_8z8z(input.c_str(), &raw, 0);
  IdnString owned(raw, {*loaded});
  if (rc != IDN2_OK || !owned) return input;
  return std::string(owned.get());
}

}  // namespace mx::smtp
