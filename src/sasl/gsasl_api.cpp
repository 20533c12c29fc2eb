// Loading GNU SASL at run time (see gsasl_api.hpp).
#include "sasl/gsasl_api.hpp"

#include "core/shared_library.hpp"

namespace mx::sasl {

Result<const GsaslApi*> gsasl_api() {
  return load_api<GsaslApi>(MX_GSASL_SONAME, [](SharedLibrary& l, GsaslApi& a) -> Result<void> {
    const bool ok =
        l.bind(a.init, "gsasl_init") && l.bind(a.done, "gsasl_done") &&
        l.bind(a.client_start, "gsasl_client_start") && l.bind(a.finish, "gsasl_finish") &&
        l.bind(a.property_set, "gsasl_property_set") && l.bind(a.step, "gsasl_step") &&
        l.bind(a.free, "gsasl_free") && l.bind(a.strerror, "gsasl_strerror") &&
        l.bind(a.strerror_name, "gsasl_strerror_name") && l.bind(a.saslprep, "gsasl_saslprep") &&
        l.bind(a.nonce, "gsasl_nonce") && l.bind(a.hash_length, "gsasl_hash_length") &&
        l.bind(a.scram_secrets_from_password, "gsasl_scram_secrets_from_password");
    if (!ok) return fail(l.unusable());
    return {};
  });
}

}  // namespace mx::sasl
