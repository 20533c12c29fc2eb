// Header section parsing, address-list grammar and Bcc removal (see headers.hpp).
#include "message/headers.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "core/ascii.hpp"

namespace mx::message {

namespace {

bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}

// RFC 5322 §3.6.8: ftext is printable US-ASCII except ':'.
bool is_ftext(char c) {
  auto u = static_cast<unsigned char>(c);
  return u >= 33 && u <= 126 && c != ':';
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && ascii_iequals(s.substr(0, prefix.size()), prefix);
}

bool is_bcc_name(std::string_view name) {
  return ascii_iequals(name, "bcc") || ascii_iequals(name, "resent-bcc");
}

// Shows input in error details without letting control characters reach a terminal.
std::string shown(std::string_view s) {
  constexpr std::size_t kMax = 80;
  std::string out;
  for (char c : s.substr(0, kMax)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > kMax) out += "...";
  return out;
}

enum class LineKind { empty, continuation, field, other };

// Classifies one line (line end removed). For a field, `name_end` is where the name ends
// (before any space) and `colon` the position of the colon.
LineKind classify(std::string_view line, std::size_t& name_end, std::size_t& colon) {
  if (line.empty()) return LineKind::empty;
  if (is_wsp(line[0])) return LineKind::continuation;
  std::size_t i = 0;
  while (i < line.size() && is_ftext(line[i])) ++i;
  if (i == 0) return LineKind::other;
  name_end = i;
  // RFC 5322 §4.5.3 (obs-optional): spaces may precede the colon.
  while (i < line.size() && is_wsp(line[i])) ++i;
  if (i == line.size() || line[i] != ':') return LineKind::other;
  colon = i;
  return LineKind::field;
}

// ---- address-list lexer -------------------------------------------------------------------

// RFC 5322 §3.2.3 atext, plus any non-ASCII octet (RFC 6532 §3.2).
bool is_atext(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

enum class Tok { atom, quoted, literal, special, end };

struct Token {
  Tok kind = Tok::end;
  std::string_view text;  // raw: quotes and brackets included
  char special() const { return kind == Tok::special ? text[0] : '\0'; }
  bool is(char c) const { return special() == c; }
  bool word() const { return kind == Tok::atom || kind == Tok::quoted; }
};

// Splits a field body into tokens, dropping whitespace and (nested) comments (RFC 5322 §3.2.2).
// Returns "" on success, else the reason.
std::string tokenize(std::string_view s, std::vector<Token>& out) {
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (is_wsp(c) || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '(') {
      int depth = 0;
      for (;;) {
        if (i == s.size()) return "unterminated comment";
        if (s[i] == '\\') {
          if (++i == s.size()) return "unterminated comment";
        } else if (s[i] == '(') {
          ++depth;
        } else if (s[i] == ')') {
          if (--depth == 0) break;
        }
        ++i;
      }
      ++i;
    } else if (c == '"' || c == '[') {
      const char close = c == '"' ? '"' : ']';
      std::size_t start = i++;
      for (;;) {
        if (i == s.size()) {
          return c == '"' ? "unterminated quoted string" : "unterminated domain literal";
        }
        if (s[i] == '\\') {
          if (++i == s.size()) continue;  // reported as unterminated above
        } else if (s[i] == close) {
          break;
        } else if (c == '[' && s[i] == '[') {
          return "'[' inside a domain literal";
        }
        // Line ends were removed by unfolding; control characters have no place in an address
        // that is going to reach an SMTP command line.
        if (auto u = static_cast<unsigned char>(s[i]); (u < 0x20 && s[i] != '\t') || u == 0x7f) {
          return "control character in " +
                 std::string(c == '"' ? "a quoted string" : "a domain literal");
        }
        ++i;
      }
      ++i;
      out.push_back({c == '"' ? Tok::quoted : Tok::literal, s.substr(start, i - start)});
    } else if (std::string_view("<>@,:;.").find(c) != std::string_view::npos) {
      out.push_back({Tok::special, s.substr(i, 1)});
      ++i;
    } else if (is_atext(c)) {
      std::size_t start = i;
      while (i < s.size() && is_atext(s[i])) ++i;
      out.push_back({Tok::atom, s.substr(start, i - start)});
    } else {
      return "unexpected character '" + shown(s.substr(i, 1)) + "'";
    }
  }
  out.push_back({Tok::end, {}});
  return {};
}

// ---- address-list parser (RFC 5322 §3.4, obsolete syntax §4.4) -----------------------------

class AddressParser {
 public:
  explicit AddressParser(std::vector<Token> toks) : toks_(std::move(toks)) {}

  // address-list / obs-addr-list: empty elements between commas are allowed.
  std::string parse_list(std::vector<std::string>& out) {
    while (peek().kind != Tok::end) {
      if (peek().is(',')) {
        ++pos_;
        continue;
      }
      if (auto e = parse_address(true, out); !e.empty()) return e;
      if (!peek().is(',') && peek().kind != Tok::end) return unexpected();
    }
    return {};
  }

 private:
  const Token& peek() const { return toks_[pos_]; }

  std::string unexpected() const {
    const Token& t = peek();
    if (t.kind == Tok::end) return "unexpected end";
    return "unexpected \"" + shown(t.text) + "\"";
  }

  // Collects a run of words and dots: a display name or a local part, decided by what follows.
  std::vector<Token> phrase() {
    std::vector<Token> words;
    while (peek().word() || peek().is('.')) words.push_back(toks_[pos_++]);
    return words;
  }

  static std::string joined(const std::vector<Token>& words) {
    std::string s;
    for (const auto& w : words) {
      if (!s.empty() && !w.is('.') && s.back() != '.') s += ' ';
      s += w.text;
    }
    return s;
  }

  // local-part = word *("." word) (dot-atom and obs-local-part both fit this).
  static std::string local_part(const std::vector<Token>& words, std::string& local) {
    if (words.empty()) return "missing local part";
    for (std::size_t i = 0; i < words.size(); ++i) {
      bool want_word = i % 2 == 0;
      if (want_word != words[i].word()) return "bad local part \"" + shown(joined(words)) + "\"";
      local += words[i].text;
    }
    if (!words.back().word()) return "bad local part \"" + shown(joined(words)) + "\"";
    return {};
  }

  // domain = dot-atom / domain-literal / obs-domain.
  std::string domain(std::string& out) {
    if (peek().kind == Tok::literal) {
      out = std::string(toks_[pos_++].text);
      return {};
    }
    for (;;) {
      if (peek().kind != Tok::atom) return "bad domain after \"" + shown(out) + "@\"";
      out += toks_[pos_++].text;
      if (!peek().is('.')) return {};
      ++pos_;
      out += '.';
    }
  }

  std::string addr_spec(const std::vector<Token>& words, std::vector<std::string>& out) {
    std::string local;
    if (auto e = local_part(words, local); !e.empty()) return e;
    ++pos_;  // '@'
    std::string dom;
    if (auto e = domain(dom); !e.empty()) return e;
    out.push_back(local + "@" + dom);
    return {};
  }

  // angle-addr / obs-angle-addr, after the "<".
  std::string angle(std::vector<std::string>& out) {
    if (peek().is('>')) return "empty address \"<>\"";
    if (peek().is('@')) {
      // obs-route: "@a.example,@b.example:" before the address; the route is ignored.
      while (peek().is('@') || peek().is(',')) {
        if (toks_[pos_++].is(',')) continue;
        std::string ignored;
        if (auto e = domain(ignored); !e.empty()) return e;
      }
      if (!peek().is(':')) return "bad route in angle address: " + unexpected();
      ++pos_;
    }
    std::vector<Token> words = phrase();
    if (!peek().is('@')) {
      return words.empty() ? unexpected()
                           : "address \"" + shown(joined(words)) + "\" has no domain";
    }
    if (auto e = addr_spec(words, out); !e.empty()) return e;
    if (!peek().is('>')) return "missing '>': " + unexpected();
    ++pos_;
    return {};
  }

  std::string parse_address(bool allow_group, std::vector<std::string>& out) {
    std::vector<Token> words = phrase();
    if (peek().is('<')) {
      ++pos_;
      return angle(out);  // any display name is dropped
    }
    if (peek().is('@')) return addr_spec(words, out);
    if (peek().is(':') && allow_group) {
      if (words.empty()) return "group without a name";
      ++pos_;
      // group-list: mailboxes, empty elements allowed (obs-group-list), then ";". A missing
      // final ";" at the very end is tolerated.
      for (;;) {
        if (peek().is(';')) {
          ++pos_;
          return {};
        }
        if (peek().kind == Tok::end) return {};
        if (peek().is(',')) {
          ++pos_;
          continue;
        }
        if (auto e = parse_address(false, out); !e.empty()) return e;
        if (!peek().is(',') && !peek().is(';') && peek().kind != Tok::end) return unexpected();
      }
    }
    if (peek().is(':')) return "group inside a group";
    if (words.empty()) return unexpected();
    return "address \"" + shown(joined(words)) + "\" has no domain";
  }

  std::vector<Token> toks_;
  std::size_t pos_ = 0;
};

Unexpected bad_list(std::string_view what, std::string_view why) {
  Error e =
      permanent_error(Stage::input, "cannot parse " + std::string(what) + ": " + std::string(why));
  e.reason = Reason::bad_data;
  return fail(std::move(e));
}

}  // namespace

std::vector<HeaderField> parse_header_fields(std::string_view message) {
  std::vector<HeaderField> fields;
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t nl = message.find('\n', pos);
    std::size_t next = nl == std::string_view::npos ? message.size() : nl + 1;
    std::string_view line = message.substr(pos, next - pos);
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = next;

    std::size_t name_end = 0, colon = 0;
    switch (classify(line, name_end, colon)) {
      case LineKind::field:
        fields.push_back(
            {std::string(line.substr(0, name_end)), std::string(line.substr(colon + 1))});
        break;
      case LineKind::continuation:
        // RFC 5322 §2.2.3: unfolding removes the CRLF and keeps the white space after it.
        if (fields.empty()) return fields;
        fields.back().value += line;
        break;
      case LineKind::empty:
      case LineKind::other:
        return fields;
    }
  }
  return fields;
}

Result<std::vector<std::string>> parse_address_list(std::string_view value, std::string_view what) {
  std::vector<Token> toks;
  if (auto e = tokenize(value, toks); !e.empty()) return bad_list(what, e);
  std::vector<std::string> out;
  AddressParser parser(std::move(toks));
  if (auto e = parser.parse_list(out); !e.empty()) return bad_list(what, e);
  return out;
}

Result<std::vector<std::string>> extract_recipients(std::string_view message) {
  const std::vector<HeaderField> fields = parse_header_fields(message);
  const bool resent = std::any_of(fields.begin(), fields.end(), [](const HeaderField& f) {
    return istarts_with(f.name, "resent-");
  });
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& f : fields) {
    std::string_view name = f.name;
    if (resent) {
      if (!istarts_with(name, "resent-")) continue;
      name.remove_prefix(7);
    }
    if (!ascii_iequals(name, "to") && !ascii_iequals(name, "cc") && !ascii_iequals(name, "bcc"))
      continue;
    auto list = parse_address_list(f.value, "the " + shown(f.name) + " header");
    if (!list) return fail(std::move(list).error());
    for (auto& addr : *list) {
      // Domains are case-insensitive (RFC 5321 §2.4); local parts are not.
      std::string key = addr;
      std::size_t at = key.rfind('@');
      std::transform(key.begin() + static_cast<std::ptrdiff_t>(at), key.end(),
                     key.begin() + static_cast<std::ptrdiff_t>(at),
                     [](char c) { return ascii_lower(c); });
      if (seen.insert(std::move(key)).second) out.push_back(std::move(addr));
    }
  }
  return out;
}

void BccStripper::decide_name(std::string& out) {
  std::size_t name_end = 0, colon = 0;
  std::string_view line = held_;
  LineKind kind = classify(line, name_end, colon);
  if (kind == LineKind::field) {
    have_field_ = true;
    dropping_ = is_bcc_name(line.substr(0, name_end));
    if (!dropping_) out += held_;
    state_ = dropping_ ? State::drop_line : State::keep_line;
  } else {
    out += held_;
    state_ = State::body;
  }
  held_.clear();
}

void BccStripper::feed(std::string_view in, std::string& out) {
  std::size_t i = 0;
  while (i < in.size()) {
    switch (state_) {
      case State::body:
        out.append(in.substr(i));
        return;
      case State::keep_line:
      case State::drop_line: {
        std::size_t nl = in.find('\n', i);
        std::size_t end = nl == std::string_view::npos ? in.size() : nl + 1;
        if (state_ == State::keep_line) out.append(in.substr(i, end - i));
        i = end;
        if (nl != std::string_view::npos) state_ = State::line_start;
        break;
      }
      case State::line_start: {
        char c = in[i];
        if (is_wsp(c)) {
          // A continuation line belongs to the field before it (RFC 5322 §2.2.3).
          if (!have_field_) {
            state_ = State::body;
          } else {
            state_ = dropping_ ? State::drop_line : State::keep_line;
          }
          break;
        }
        state_ = State::name;
        break;
      }
      case State::name: {
        // Hold the line back until its colon (or anything that is not a field name) shows
        // whether it starts a Bcc field: classify()'s rule, applied one octet at a time.
        char c = in[i++];
        held_ += c;
        if (held_.size() == 1) {
          in_wsp_ = false;
          if (c == '\r') break;                // "\r\n" (end of header) or no field: see next
          if (!is_ftext(c)) decide_name(out);  // "\n", control or non-ASCII octet
          break;
        }
        if (held_[0] == '\r') {
          // "\r\n" is the empty line that ends the header section; "\r" + other is no field.
          out += held_;
          held_.clear();
          state_ = State::body;
          break;
        }
        if (!in_wsp_ && is_ftext(c)) break;  // still inside the name
        if (is_wsp(c)) {
          in_wsp_ = true;  // spaces before a colon that may still come
          break;
        }
        decide_name(out);  // ':' makes a field, anything else ends the header section
        break;
      }
    }
  }
}

void BccStripper::finish(std::string& out) {
  out += held_;
  held_.clear();
  state_ = State::line_start;
  have_field_ = false;
  dropping_ = false;
}

}  // namespace mx::message
