// Fuzz target: the EHLO capability parser on arbitrary reply lines ("\n" separates lines).
#include <algorithm>
#include <string>

#include "fuzz_support.hpp"
#include "smtp/capabilities.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = mx::fuzz::as_view(data, size);
  mx::smtp::Reply reply;
  reply.code = 250;
  while (true) {
    std::size_t nl = in.find('\n');
    reply.lines.emplace_back(in.substr(0, nl));
    if (nl == std::string_view::npos) break;
    in.remove_prefix(nl + 1);
  }
  const mx::smtp::Capabilities caps = mx::smtp::parse_capabilities(reply);

  MX_FUZZ_CHECK(caps.greeting == reply.lines.front());
  MX_FUZZ_CHECK(caps.raw.size() + 1 == reply.lines.size());
  for (const auto& ext : caps.extensions) {
    MX_FUZZ_CHECK(!ext.keyword.empty());
    MX_FUZZ_CHECK(caps.find(ext.keyword) != nullptr);
    MX_FUZZ_CHECK(caps.has(ext.keyword));
    for (char c : ext.keyword) MX_FUZZ_CHECK(!(c >= 'a' && c <= 'z'));
  }
  for (std::size_t i = 0; i < caps.auth.size(); ++i) {
    MX_FUZZ_CHECK(!caps.auth[i].empty());
    for (char c : caps.auth[i]) MX_FUZZ_CHECK(!(c >= 'a' && c <= 'z'));
    MX_FUZZ_CHECK(std::count(caps.auth.begin(), caps.auth.end(), caps.auth[i]) == 1);
  }
  if (caps.starttls) MX_FUZZ_CHECK(caps.has("starttls"));
  if (caps.smtputf8) MX_FUZZ_CHECK(caps.has("SMTPUTF8"));
  return 0;
}
