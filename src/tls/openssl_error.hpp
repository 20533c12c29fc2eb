// Turns OpenSSL's thread-local error queue into one line of text for mx::Error details.
#pragma once

#include <string>

namespace mx::tls {

/// Reads and clears the whole error queue: reasons joined with "; ", each followed by the
/// extra data OpenSSL attached (e.g. "(SSL alert number 40)"). Empty when the queue was.
std::string take_openssl_errors();

}  // namespace mx::tls
