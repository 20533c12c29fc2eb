// Error-queue draining shared by the TLS context and stream code.
#include "tls/openssl_error.hpp"

#include <openssl/err.h>

namespace mx::tls {

std::string take_openssl_errors() {
  std::string out;
  const char* data = nullptr;
  int flags = 0;
  for (unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags); e != 0;
       e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    if (!out.empty()) out += "; ";
    if (const char* reason = ERR_reason_error_string(e)) {
      out += reason;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      out += buf;
    }
    if ((flags & ERR_TXT_STRING) && data != nullptr && *data != '\0') {
      out += " (";
      out += data;
      out += ")";
    }
  }
  return out;
}

}  // namespace mx::tls
