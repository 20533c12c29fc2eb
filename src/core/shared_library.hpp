// A shared library opened at run time (dlopen) instead of linked: libcurl (MTA-STS policy fetch),
// GNU SASL (submission) and libidn2 (non-ASCII names) drag in ~30 libraries (gnutls, krb5,
// ldap, libunistring...) that every run would otherwise map and relocate, costing ~4.5 MB of RSS
// and CPU for mail that needs none of them.
#pragma once

#include <memory>
#include <string>

#include "core/result.hpp"

namespace mx {

class SharedLibrary {
 public:
  /// Opens `soname` (e.g. "libcurl.so.4") with immediate binding; the error names the library
  /// and what the dynamic loader said.
  static Result<SharedLibrary> open(const std::string& soname);

  /// Sets `slot` to the library's symbol `name`; false (and a message in error()) when missing.
  /// `Fn` is the declared type of the C function, so calls through `slot` stay type-checked.
  template <class Fn>
  bool bind(Fn*& slot, const char* name) {
    slot = reinterpret_cast<Fn*>(lookup(name));
    return slot != nullptr;
  }

  /// What went wrong in the last failed bind(), e.g. "libcurl.so.4: undefined symbol: x".
  const std::string& error() const { return error_; }
  const std::string& soname() const { return soname_; }
  /// The error for a library whose bind() failed: temporary, Stage::internal.
  Error unusable() const;

 private:
  struct Closer {
    void operator()(void* handle) const noexcept;
  };
  void* lookup(const char* name);

  std::unique_ptr<void, Closer> handle_;
  std::string soname_;
  std::string error_;
};

/// A unique_ptr deleter that frees through a loaded library's table: `Member` points to the
/// free function's slot in the table (e.g. &CurlApi::easy_cleanup).
template <auto Member>
struct FreeThrough {
  template <class C, class F>
  static C owner_of(F C::*);
  using Api = decltype(owner_of(Member));
  const Api* api = nullptr;
  template <class T>
  void operator()(T* p) const noexcept {
    if (p) (api->*Member)(p);
  }
};

/// A library's table of entry points `Api`, filled by `bind(SharedLibrary&, Api&)` (which
/// returns Result<void> and may also initialise the library). Loaded on the first call of each
/// call site, thread-safely, and kept until exit; later calls return the same table or error.
template <class Api, class Bind>
Result<const Api*> load_api(const std::string& soname, Bind bind) {
  struct Loaded {
    SharedLibrary library;
    Api api{};
  };
  static const Result<Loaded> loaded = [&]() -> Result<Loaded> {
    auto lib = SharedLibrary::open(soname);
    if (!lib) return fail(std::move(lib).error());
    Loaded l{std::move(*lib), {}};
    if (auto ok = bind(l.library, l.api); !ok) return fail(std::move(ok).error());
    return l;
  }();
  if (!loaded) return fail(loaded.error());
  return &loaded->api;
}

}  // namespace mx
