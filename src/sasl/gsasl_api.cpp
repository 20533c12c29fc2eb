// Loading GNU SASL at run time (see gsasl_api.hpp).
#include "sasl/gsasl_api.hpp"

#include "core/shared_library.hpp"

namespace mx::sasl {

namespace {

struct LoadedGsasl {
  SharedLibrary library;
  GsaslApi api{};
};

Result<LoadedGsasl> load() {
  auto lib = SharedLibrary::open(MX_GSASL_SONAME);
  if (!lib) return fail(std::move(lib).error());
  LoadedGsasl loaded{std::move(*lib), {}};
  SharedLibrary& l = loaded.library;
  GsaslApi& a = loaded.api;
  const bool ok =
      l.bind(a.init, "gsasl_init") && l.bind(a.done, "gsasl_done") &&
      l.bind(a.client_start, "gsasl_client_start") && l.bind(a.finish, "gsasl_finish") &&
      l.bind(a.property_set, "gsasl_property_set") && l.bind(a.step, "gsasl_step") &&
      l.bind(a.free, "gsasl_free") && l.bind(a.strerror, "gsasl_strerror") &&
      l.bind(a.strerror_name, "gsasl_strerror_name") && l.bind(a.saslprep, "gsasl_saslprep") &&
      l.bind(a.nonce, "gsasl_nonce") && l.bind(a.hash_length, "gsasl_hash_length") &&
      l.bind(a.scram_secrets_from_password, "gsasl_scram_secrets_from_password");
  if (!ok) return fail(temporary_error(Stage::internal, "unusable GNU SASL: " + l.error()));
  return loaded;
}

}  // namespace

Result<const GsaslApi*> gsasl_api() {
  static const Result<LoadedGsasl> loaded = load();
  if (!loaded) return fail(loaded.error());
  return &loaded->api;
}

}  // namespace mx::sasl
