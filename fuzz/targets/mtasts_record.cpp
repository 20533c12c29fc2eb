// Fuzz target: the `_mta-sts` TXT record (mtasts/record.hpp). The first octet picks the parser:
// one record's text, one TXT RDATA, or a whole RRset to select from.
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "mtasts/names.hpp"
#include "mtasts/record.hpp"

namespace {

// An accepted record has an id of 1-32 alphanumerics (RFC 8461 §3.1).
void check_record(const mx::mtasts::StsRecord& r) {
  MX_FUZZ_CHECK(!r.id.empty() && r.id.size() <= 32);
  for (char c : r.id) MX_FUZZ_CHECK(mx::mtasts::is_alnum(c));
  for (const auto& [name, value] : r.extensions) {
    MX_FUZZ_CHECK(mx::mtasts::valid_extension_name(name));
    (void)value;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = mx::fuzz::as_view(data, size);
  switch (mx::fuzz::take_byte(in) % 3) {
    case 0: {
      auto r = mx::mtasts::parse_record(in);
      if (r) {
        MX_FUZZ_CHECK(mx::mtasts::looks_like_sts_record(in));
        check_record(*r);
      }
      break;
    }
    case 1: {
      auto text = mx::mtasts::txt_rdata_text(in);
      // Each character-string costs one length octet, so the text is strictly shorter.
      if (text) MX_FUZZ_CHECK(text->size() < in.size() || in.empty());
      break;
    }
    case 2: {
      // An RRset: RDATAs separated by NUL octets, each decoded as a TXT RDATA first.
      std::vector<std::string> texts;
      while (!in.empty()) {
        const std::size_t cut = in.find('\0');
        const std::string_view part = in.substr(0, cut);
        if (auto t = mx::mtasts::txt_rdata_text(part)) texts.push_back(*t);
        in.remove_prefix(cut == std::string_view::npos ? in.size() : cut + 1);
      }
      auto r = mx::mtasts::select_record(texts);
      if (r) check_record(*r);
      break;
    }
  }
  return 0;
}
