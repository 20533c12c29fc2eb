// Owning smart pointers for C library handles: a unique_ptr whose deleter is the library's
// own free function, so no handle from OpenSSL, libunbound or libcurl is ever held raw.
#pragma once

#include <memory>

namespace mx {

template <auto FreeFn>
struct FreeWith {
  template <class T>
  void operator()(T* p) const noexcept {
    if (p) FreeFn(p);
  }
};

template <class T, auto FreeFn>
using UniqueHandle = std::unique_ptr<T, FreeWith<FreeFn>>;

}  // namespace mx
