// StreamProgress: the human transcript written by the CLI.
#include "core/progress.hpp"

namespace mx {

void StreamProgress::note(std::string_view text) {
  if (out_) *out_ << "*** " << text << '\n' << std::flush;
}
void StreamProgress::sent(std::string_view line) {
  if (out_) *out_ << ">>> " << line << '\n' << std::flush;
}
void StreamProgress::received(std::string_view line) {
  if (out_) *out_ << "<<< " << line << '\n' << std::flush;
}
void StreamProgress::warn(std::string_view text) {
  if (err_) *err_ << "mxclient: warning: " << text << '\n' << std::flush;
}

}  // namespace mx
