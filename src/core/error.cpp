// Human-readable rendering of mx::Error.
#include "core/error.hpp"

namespace mx {

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::usage:
      return "usage";
    case Stage::config:
      return "configuration";
    case Stage::input:
      return "input";
    case Stage::dns:
      return "dns";
    case Stage::connect:
      return "connect";
    case Stage::tls:
      return "tls";
    case Stage::dane:
      return "dane";
    case Stage::smtp:
      return "smtp";
    case Stage::internal:
      return "internal";
  }
  return "unknown";
}

std::string Error::describe() const {
  std::string out = stage_name(stage);
  out += ": ";
  out += detail;
  if (smtp_code != 0 || !host.empty()) {
    out += " (";
    if (!host.empty()) out += host;
    if (!command.empty()) out += (host.empty() ? "" : ", ") + std::string("after ") + command;
    if (smtp_code != 0) {
      out += (host.empty() && command.empty() ? "" : ": ");
      out += std::to_string(smtp_code);
      if (!enhanced.empty()) out += " " + enhanced;
      if (!server_text.empty()) out += " " + server_text;
    }
    out += ")";
  }
  if (maybe_delivered) out += " [the message may have been delivered]";
  return out;
}

Error temporary_error(Stage stage, std::string detail) {
  Error e;
  e.stage = stage;
  e.permanence = Permanence::temporary;
  e.detail = std::move(detail);
  return e;
}

Error permanent_error(Stage stage, std::string detail) {
  Error e;
  e.stage = stage;
  e.permanence = Permanence::permanent;
  e.detail = std::move(detail);
  return e;
}

}  // namespace mx
