// Loading libcurl at run time (see curl_api.hpp).
#include "mtasts/curl_api.hpp"

#include "core/shared_library.hpp"

namespace mx::mtasts {

Result<const CurlApi*> curl_api() {
  return load_api<CurlApi>(MX_CURL_SONAME, [](SharedLibrary& l, CurlApi& a) -> Result<void> {
    decltype(&::curl_global_init) global_init = nullptr;
    const bool ok =
        l.bind(global_init, "curl_global_init") && l.bind(a.easy_init, "curl_easy_init") &&
        l.bind(a.easy_setopt, "curl_easy_setopt") && l.bind(a.easy_perform, "curl_easy_perform") &&
        l.bind(a.easy_getinfo, "curl_easy_getinfo") &&
        l.bind(a.easy_strerror, "curl_easy_strerror") &&
        l.bind(a.easy_cleanup, "curl_easy_cleanup") &&
        l.bind(a.slist_append, "curl_slist_append") &&
        l.bind(a.slist_free_all, "curl_slist_free_all");
    if (!ok) return fail(l.unusable());
    if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      return fail(temporary_error(Stage::internal, "curl_global_init failed"));
    return {};
  });
}

}  // namespace mx::mtasts
