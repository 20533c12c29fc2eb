// SharedLibrary: dlopen/dlsym behind RAII, with errors that name the library and the symbol.
#include "core/shared_library.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

namespace mx {
namespace {

using ::testing::HasSubstr;

TEST(SharedLibrary, BindsATypedFunction) {
  auto lib = SharedLibrary::open("libc.so.6");
  ASSERT_TRUE(lib.has_value()) << lib.error().detail;
  decltype(&::strlen) fn = nullptr;
  ASSERT_TRUE(lib->bind(fn, "strlen")) << lib->error();
  EXPECT_EQ(fn("four"), 4u);
  EXPECT_EQ(lib->soname(), "libc.so.6");
}

TEST(SharedLibrary, MissingLibraryIsATemporaryInternalError) {
  auto lib = SharedLibrary::open("libmx-does-not-exist.so.1");
  ASSERT_FALSE(lib.has_value());
  EXPECT_EQ(lib.error().stage, Stage::internal);
  EXPECT_FALSE(lib.error().permanent());
  EXPECT_THAT(lib.error().detail, HasSubstr("cannot load libmx-does-not-exist.so.1"));
}

TEST(SharedLibrary, MissingSymbolIsReported) {
  auto lib = SharedLibrary::open("libc.so.6");
  ASSERT_TRUE(lib.has_value());
  decltype(&::strlen) fn = &::strlen;
  EXPECT_FALSE(lib->bind(fn, "mx_no_such_symbol"));
  EXPECT_EQ(fn, nullptr);
  EXPECT_THAT(lib->error(), HasSubstr("mx_no_such_symbol"));
}

}  // namespace
}  // namespace mx
