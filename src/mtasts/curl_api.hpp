// libcurl's entry points, loaded with dlopen on the first MTA-STS policy fetch: most deliveries
// (DANE, no MTA-STS record, a cached policy) never fetch and so never map libcurl's dependencies.
#pragma once

#include <curl/curl.h>

#include "core/result.hpp"

namespace mx::mtasts {

struct CurlApi {
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_perform) easy_perform;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
};

/// libcurl (MX_CURL_SONAME, the library the build found), loaded and globally initialised once
/// per process; the error says why it is unusable.
Result<const CurlApi*> curl_api();

}  // namespace mx::mtasts
