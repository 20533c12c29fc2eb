// Fuzz target: RFC 5321 mailbox parsing. Whatever is accepted must re-parse to itself and must
// be safe to put on an SMTP command line.
#include <string>

#include "fuzz_support.hpp"
#include "smtp/address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = mx::fuzz::as_view(data, size);
  auto m = mx::smtp::parse_mailbox(in);
  auto d = mx::smtp::validate_domain(in);
  (void)d;
  if (!m) {
    MX_FUZZ_CHECK(m.error().stage == mx::Stage::input);
    MX_FUZZ_CHECK(m.error().reason == mx::Reason::bad_data);
    return 0;
  }
  const std::string text = m->to_string();
  for (char c : text) MX_FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
  MX_FUZZ_CHECK(!m->local.empty());
  MX_FUZZ_CHECK(mx::smtp::validate_domain(m->domain).has_value());
  MX_FUZZ_CHECK(text.size() <= 254);  // RFC 5321 §4.5.3.1.3: the path is at most 256 octets

  auto again = mx::smtp::parse_mailbox(text);
  MX_FUZZ_CHECK(again.has_value());
  MX_FUZZ_CHECK(again->local == m->local && again->domain == m->domain);
  auto angled = mx::smtp::parse_mailbox("<" + text + ">");
  MX_FUZZ_CHECK(angled.has_value() && angled->to_string() == text);

  bool ascii = true;
  for (char c : text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  MX_FUZZ_CHECK(m->is_ascii() == ascii);
  if (m->local_is_ascii() == false) MX_FUZZ_CHECK(!ascii);
  return 0;
}
