// libidn2's entry points, loaded with dlopen for the first domain that needs them (U-labels or
// A-labels): all-ASCII names are converted without it, so most runs never map libidn2 and
// libunistring.
#pragma once

#include <idn2.h>

#include "core/result.hpp"

namespace mx::smtp {

struct Idn2Api {
  decltype(&::idn2_lookup_u8) lookup_u8;
  decltype(&::idn2_to_unicode_8z8z) to_unicode_8z8z;
  decltype(&::idn2_strerror) strerror;
  decltype(&::idn2_free) free;
};

/// libidn2 (MX_IDN2_SONAME, the library the build found), loaded once per process.
Result<const Idn2Api*> idn2_api();

}  // namespace mx::smtp
