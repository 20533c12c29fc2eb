// Loading libidn2 at run time (see idn2_api.hpp).
#include "smtp/idn2_api.hpp"

#include "core/shared_library.hpp"

namespace mx::smtp {

Result<const Idn2Api*> idn2_api() {
  return load_api<Idn2Api>(MX_IDN2_SONAME, [](SharedLibrary& l, Idn2Api& a) -> Result<void> {
    const bool ok = l.bind(a.lookup_u8, "idn2_lookup_u8") &&
                    l.bind(a.to_unicode_8z8z, "idn2_to_unicode_8z8z") &&
                    l.bind(a.strerror, "idn2_strerror") && l.bind(a.free, "idn2_free");
    if (!ok) return fail(l.unusable());
    return {};
  });
}

}  // namespace mx::smtp
