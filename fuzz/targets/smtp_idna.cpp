// Fuzz target: IDNA conversion. An accepted domain is lower-case LDH ASCII, converts to itself
// again, and survives a trip through the display form.
#include <string>

#include "fuzz_support.hpp"
#include "smtp/idna.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = mx::fuzz::as_view(data, size);
  const std::string shown = mx::smtp::domain_to_unicode(in);
  auto ascii = mx::smtp::domain_to_ascii(in);
  if (!ascii) {
    MX_FUZZ_CHECK(ascii.error().stage == mx::Stage::input);
    MX_FUZZ_CHECK(ascii.error().reason == mx::Reason::bad_data);
    return 0;
  }
  if (!in.empty() && in.front() == '[') {
    MX_FUZZ_CHECK(*ascii == in);
    return 0;
  }
  MX_FUZZ_CHECK(!ascii->empty() && ascii->size() <= mx::smtp::kMaxDomainText);
  for (char c : *ascii) {
    MX_FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
  }
  auto again = mx::smtp::domain_to_ascii(*ascii);
  MX_FUZZ_CHECK(again.has_value() && *again == *ascii);
  auto via_unicode = mx::smtp::domain_to_ascii(mx::smtp::domain_to_unicode(*ascii));
  MX_FUZZ_CHECK(via_unicode.has_value() && *via_unicode == *ascii);
  (void)shown;
  return 0;
}
