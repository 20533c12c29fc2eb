// GNU SASL's entry points, loaded with dlopen when a submission session first authenticates:
// libgsasl brings Kerberos/GSSAPI libraries that direct delivery never needs.
#pragma once

#include <gsasl.h>

#include "core/result.hpp"

namespace mx::sasl {

struct GsaslApi {
  decltype(&::gsasl_init) init;
  decltype(&::gsasl_done) done;
  decltype(&::gsasl_client_start) client_start;
  decltype(&::gsasl_finish) finish;
  decltype(&::gsasl_property_set) property_set;
  decltype(&::gsasl_step) step;
  decltype(&::gsasl_free) free;
  decltype(&::gsasl_strerror) strerror;
  decltype(&::gsasl_strerror_name) strerror_name;
  decltype(&::gsasl_saslprep) saslprep;
  decltype(&::gsasl_nonce) nonce;
  decltype(&::gsasl_hash_length) hash_length;
  decltype(&::gsasl_scram_secrets_from_password) scram_secrets_from_password;
};

/// libgsasl (MX_GSASL_SONAME, the library the build found), loaded once per process; the
/// error says why it is unusable.
Result<const GsaslApi*> gsasl_api();

}  // namespace mx::sasl
