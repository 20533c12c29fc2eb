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
  // "(host, after COMMAND: 550 5.1.1 text)"; a code without a reply (RFC 7505's 5.1.10,
  // RFC 8689's 5.7.30) is shown on its own.
  std::string reply;
  if (smtp_code != 0) reply = std::to_string(smtp_code);
  if (!enhanced.empty()) reply += (reply.empty() ? "" : " ") + enhanced;
  if (smtp_code != 0 && !server_text.empty()) reply += " " + server_text;
  std::string where = host;
  if (!command.empty()) where += (where.empty() ? "" : ", ") + std::string("after ") + command;
  if (!where.empty() || !reply.empty()) {
    out += " (" + where;
    if (!reply.empty()) out += (where.empty() ? "" : ": ") + reply;
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
