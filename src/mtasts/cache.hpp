// On-disk MTA-STS policy cache (RFC 8461 §5.1: a cached, unexpired policy keeps applying when
// discovery fails, which is what resists downgrades). One file per policy domain.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mx::mtasts {

/// Wall-clock seconds (policy lifetimes survive reboots, so not the monotonic clock).
using WallTime = std::chrono::sys_seconds;

struct CacheEntry {
  std::string id;           // the TXT record id the policy was fetched for
  WallTime fetched_at{};    // when it was fetched
  WallTime expires_at{};    // fetched_at + max_age
  std::string policy_text;  // the policy body exactly as served
};

/// $XDG_CACHE_HOME/mxclient/mta-sts when that is an absolute path, else
/// $HOME/.cache/mxclient/mta-sts; null arguments mean unset.
Result<std::string> default_cache_dir(const char* xdg_cache_home, const char* home);
/// The same from the process environment.
Result<std::string> default_cache_dir();

class Cache {
 public:
  explicit Cache(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }

  /// The entry for `domain`, or nullopt when there is none or it cannot be used; then `note`
  /// (when given) says why if that was anything but absence (corrupt file, bad name, I/O).
  std::optional<CacheEntry> load(std::string_view domain, std::string* note = nullptr) const;

  /// Writes the entry atomically: a temporary file in the same directory, fsync, rename, fsync
  /// of the directory. Creates the directory (0700, with parents) when missing.
  Result<void> store(std::string_view domain, const CacheEntry& entry) const;

  /// The file for `domain`: the lower-cased name after checking it is a host name, so that no
  /// name can step outside the directory.
  Result<std::string> path_for(std::string_view domain) const;

 private:
  std::string dir_;
};

}  // namespace mx::mtasts
