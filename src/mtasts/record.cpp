// Parsing of the MTA-STS TXT record (RFC 8461 §3.1).
#include "mtasts/record.hpp"

#include "mtasts/names.hpp"

namespace mx::mtasts {

namespace {

constexpr std::string_view kVersion = "v=STSv1";

Error bad_record(std::string detail) {
  Error e = temporary_error(Stage::dns, "MTA-STS TXT record: " + std::move(detail));
  e.reason = Reason::protocol;
  return e;
}

bool valid_ext_name(std::string_view n) {
  return valid_extension_name(n);
}
// sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): no '=', ';', space or controls.
bool ext_value_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x21 && u <= 0x7e && c != ';' && c != '=';
}
// sts-id = %s"id=" 1*32(ALPHA / DIGIT)
bool valid_id(std::string_view v) {
  if (v.empty() || v.size() > 32) return false;
  for (char c : v) {
    if (!is_alnum(c)) return false;
  }
  return true;
}

}  // namespace

Result<std::string> txt_rdata_text(std::string_view rdata) {
  std::string out;
  std::size_t i = 0;
  while (i < rdata.size()) {
    const auto len = static_cast<unsigned char>(rdata[i]);
    if (len > rdata.size() - i - 1) return fail(bad_record("truncated TXT character-string"));
    out.append(rdata.substr(i + 1, len));
    i += 1 + len;
  }
  return out;
}

bool looks_like_sts_record(std::string_view text) {
  if (!text.starts_with(kVersion)) return false;
  return text.size() == kVersion.size() || text[kVersion.size()] == ';' ||
         is_wsp(text[kVersion.size()]);
}

Result<StsRecord> parse_record(std::string_view text) {
  // sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
  if (!looks_like_sts_record(text)) return fail(bad_record("does not start with \"v=STSv1\""));
  std::string_view rest = text.substr(kVersion.size());
  StsRecord rec;
  bool have_id = false;
  int fields = 0;
  while (!rest.empty()) {
    // sts-field-delim = *WSP ";" *WSP
    while (!rest.empty() && is_wsp(rest.front())) rest.remove_prefix(1);
    if (rest.empty() || rest.front() != ';') return fail(bad_record("expected ';' between fields"));
    rest.remove_prefix(1);
    while (!rest.empty() && is_wsp(rest.front())) rest.remove_prefix(1);
    if (rest.empty()) break;  // the optional trailing delimiter
    std::size_t end = 0;
    while (end < rest.size() && rest[end] != ';' && !is_wsp(rest[end])) ++end;
    const std::string_view field = rest.substr(0, end);
    rest.remove_prefix(end);
    const std::size_t eq = field.find('=');
    if (eq == std::string_view::npos) {
      return fail(bad_record("field \"" + std::string(field) + "\" has no '='"));
    }
    const std::string_view name = field.substr(0, eq);
    const std::string_view value = field.substr(eq + 1);
    ++fields;
    if (name == "id") {  // %s"id": case-sensitive
      if (!valid_id(value)) {
        return fail(bad_record("id \"" + std::string(value) + "\" is not 1-32 letters and digits"));
      }
      if (!have_id) rec.id = std::string(value);
      have_id = true;
      continue;
    }
    if (!valid_ext_name(name)) {
      return fail(bad_record("invalid field name \"" + std::string(name) + "\""));
    }
    if (value.empty()) return fail(bad_record("empty value for \"" + std::string(name) + "\""));
    for (char c : value) {
      if (!ext_value_char(c)) {
        return fail(bad_record("invalid character in the value of \"" + std::string(name) + "\""));
      }
    }
    rec.extensions.emplace_back(name, value);
  }
  if (fields == 0 || !have_id) return fail(bad_record("no id field"));
  return rec;
}

Result<StsRecord> select_record(std::span<const std::string> rdatas) {
  std::vector<std::string> candidates;
  for (const auto& rdata : rdatas) {
    auto text = txt_rdata_text(rdata);
    if (!text) return fail(std::move(text).error());
    if (looks_like_sts_record(*text)) candidates.push_back(std::move(*text));
  }
  if (candidates.empty()) return fail(bad_record("no \"v=STSv1\" record"));
  if (candidates.size() > 1) {
    return fail(bad_record(std::to_string(candidates.size()) +
                           " \"v=STSv1\" records where exactly one is allowed"));
  }
  return parse_record(candidates.front());
}

}  // namespace mx::mtasts
