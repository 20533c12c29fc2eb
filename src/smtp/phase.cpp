// Phase names and the RFC 5321 §4.5.3.2 timeouts a driver applies while waiting in each phase.
#include "smtp/phase.hpp"

namespace mx::smtp {

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::greeting:
      return "greeting";
    case Phase::ehlo:
      return "EHLO";
    case Phase::helo:
      return "HELO";
    case Phase::starttls:
      return "STARTTLS";
    case Phase::auth:
      return "AUTH";
    case Phase::mail:
      return "MAIL";
    case Phase::rcpt:
      return "RCPT";
    case Phase::data:
      return "DATA";
    case Phase::data_end:
      return "end of data";
    case Phase::quit:
      return "QUIT";
    case Phase::idle:
      return "idle";
    case Phase::done:
      return "done";
  }
  return "unknown";
}

std::chrono::seconds default_timeout(Phase phase) {
  using std::chrono::minutes;
  using std::chrono::seconds;
  switch (phase) {
    case Phase::greeting:
      return minutes(5);  // §4.5.3.2.1
    case Phase::ehlo:     // not listed; same as MAIL
    case Phase::helo:
    case Phase::starttls:
    case Phase::auth:
    case Phase::mail:
      return minutes(5);  // §4.5.3.2.2
    case Phase::rcpt:
      return minutes(5);  // §4.5.3.2.3
    case Phase::data:
      return minutes(2);  // §4.5.3.2.4 DATA initiation
    case Phase::data_end:
      return minutes(10);  // §4.5.3.2.6 DATA termination
    case Phase::quit:
      return seconds(5);  // grace only: the outcome is known
    case Phase::idle:
    case Phase::done:
      return seconds(0);
  }
  return minutes(5);
}

}  // namespace mx::smtp
