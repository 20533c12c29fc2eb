// dlopen/dlsym behind the SharedLibrary RAII type.
#include "core/shared_library.hpp"

#include <dlfcn.h>

namespace mx {

void SharedLibrary::Closer::operator()(void* handle) const noexcept {
  if (handle) dlclose(handle);
}

Result<SharedLibrary> SharedLibrary::open(const std::string& soname) {
  SharedLibrary lib;
  lib.soname_ = soname;
  // RTLD_LOCAL: the library's symbols serve only the pointers bound here. RTLD_NODELETE: the
  // code stays mapped after dlclose, as libcurl/OpenSSL may have registered callbacks or
  // thread-exit handlers, and LeakSanitizer can still see memory its globals hold.
  lib.handle_.reset(dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE));
  if (!lib.handle_) {
    const char* why = dlerror();
    return fail(temporary_error(
        Stage::internal, "cannot load " + soname + ": " + (why ? why : "unknown dlopen error")));
  }
  return lib;
}

Error SharedLibrary::unusable() const {
  return temporary_error(Stage::internal, "unusable " + soname_ + ": " + error_);
}

void* SharedLibrary::lookup(const char* name) {
  dlerror();  // clear any earlier error
  void* sym = handle_ ? dlsym(handle_.get(), name) : nullptr;
  if (!sym) {
    const char* why = dlerror();
    error_ = why ? why : soname_ + ": no symbol " + name;
  }
  return sym;
}

}  // namespace mx
