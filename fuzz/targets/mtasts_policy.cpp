// Fuzz target: the MTA-STS policy parser and MX matching (mtasts/policy.hpp). Input: policy
// text, then optionally NUL and an MX host name to match against it.
#include <string>

#include "fuzz_support.hpp"
#include "mtasts/policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = mx::fuzz::as_view(data, size);
  std::string_view host;
  if (const std::size_t nul = in.find('\0'); nul != std::string_view::npos) {
    host = in.substr(nul + 1);
    in = in.substr(0, nul);
  }
  auto p = mx::mtasts::parse_policy(in);
  if (!p) return 0;
  // RFC 8461 §3.2: bounded max_age, at least one mx unless mode is none.
  MX_FUZZ_CHECK(p->max_age <= mx::mtasts::kMaxMaxAge);
  MX_FUZZ_CHECK(p->mode != mx::mtasts::Mode::enforce || !p->mx.empty());
  MX_FUZZ_CHECK(p->mode != mx::mtasts::Mode::testing || !p->mx.empty());
  for (const std::string& pattern : p->mx) {
    MX_FUZZ_CHECK(!pattern.empty());
    for (char c : pattern) MX_FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    if (pattern.starts_with("*.")) {
      // §4.1: the wildcard covers exactly one extra left-most label, never the bare suffix.
      const std::string suffix = pattern.substr(2);
      MX_FUZZ_CHECK(p->matches("mx." + suffix));
      MX_FUZZ_CHECK(p->matches("MX." + suffix + "."));
    } else {
      MX_FUZZ_CHECK(p->matches(pattern));
      MX_FUZZ_CHECK(p->matches(pattern + "."));
    }
  }
  (void)p->matches(host);
  if (p->mx.empty()) MX_FUZZ_CHECK(!p->matches(host));
  return 0;
}
