// See timeouts.hpp.
#include "delivery/timeouts.hpp"

#include <charconv>
#include <string>
#include <utility>

namespace mx::delivery {
namespace {

constexpr std::pair<std::string_view, smtp::Phase> kPhaseNames[] = {
    {"greeting", smtp::Phase::greeting}, {"ehlo", smtp::Phase::ehlo},
    {"helo", smtp::Phase::helo},         {"starttls", smtp::Phase::starttls},
    {"auth", smtp::Phase::auth},         {"mail", smtp::Phase::mail},
    {"rcpt", smtp::Phase::rcpt},         {"data", smtp::Phase::data},
    {"data_end", smtp::Phase::data_end}, {"quit", smtp::Phase::quit},
};

}  // namespace

Timeouts::Timeouts() {
  for (std::size_t i = 0; i < phase.size(); ++i)
    phase[i] = smtp::default_timeout(static_cast<smtp::Phase>(i));
}

Deadline Timeouts::for_phase(smtp::Phase p) const {
  return Deadline::min(Deadline::after(phase[static_cast<std::size_t>(p)]), overall);
}
Deadline Timeouts::for_data_block() const {
  return Deadline::min(Deadline::after(data_block), overall);
}
Deadline Timeouts::for_connect() const {
  return Deadline::min(Deadline::after(connect), overall);
}
Deadline Timeouts::for_tls_handshake() const {
  return Deadline::min(Deadline::after(tls_handshake), overall);
}

Result<void> Timeouts::set(std::string_view assignment) {
  auto eq = assignment.find('=');
  auto bad = [&](std::string why) {
    return fail(
        permanent_error(Stage::usage, "bad timeout '" + std::string(assignment) + "': " + why));
  };
  if (eq == std::string_view::npos) return bad("expected NAME=SECONDS");
  std::string_view name = assignment.substr(0, eq);
  std::string_view value = assignment.substr(eq + 1);
  double seconds = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || ptr != value.data() + value.size() || !(seconds > 0) || seconds > 86400)
    return bad("SECONDS must be a number between 0 and 86400");
  auto ms = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  if (name == "connect")
    connect = ms;
  else if (name == "tls")
    tls_handshake = ms;
  else if (name == "data_block")
    data_block = ms;
  else {
    for (const auto& [key, p] : kPhaseNames) {
      if (name == key) {
        phase[static_cast<std::size_t>(p)] = ms;
        return {};
      }
    }
    return bad(
        "unknown name (use connect, tls, greeting, ehlo, helo, starttls, mail, rcpt, data, "
        "data_block, data_end or quit)");
  }
  return {};
}

}  // namespace mx::delivery
