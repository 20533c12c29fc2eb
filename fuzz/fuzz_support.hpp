// Helpers shared by the fuzz targets: invariant checks that abort in every build type (so the
// plain-g++ regression replayers catch them too) and deterministic input splitting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace mx::fuzz {

[[noreturn]] inline void check_failed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", file, line, cond);
  std::abort();
}

#define MX_FUZZ_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::mx::fuzz::check_failed(#cond, __FILE__, __LINE__))

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Cuts `data` into chunks whose sizes follow a small PRNG seeded by `seed`: mostly short
/// chunks (1-8 octets, so boundaries land inside line ends and names), sometimes long ones.
inline std::vector<std::string_view> split(std::string_view data, std::uint32_t seed) {
  std::vector<std::string_view> chunks;
  std::uint32_t x = seed * 2654435761u + 1;
  while (!data.empty()) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    std::size_t n = (x & 0x30) == 0 ? (x >> 8) % 512 + 1 : (x >> 8) % 8 + 1;
    if (n > data.size()) n = data.size();
    chunks.push_back(data.substr(0, n));
    data.remove_prefix(n);
  }
  return chunks;
}

/// Takes the first octet of `in` (0 when empty) as a parameter for the target.
inline std::uint8_t take_byte(std::string_view& in) {
  if (in.empty()) return 0;
  auto b = static_cast<std::uint8_t>(in.front());
  in.remove_prefix(1);
  return b;
}

}  // namespace mx::fuzz
