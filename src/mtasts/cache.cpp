// The MTA-STS policy cache on disk: a small header and the raw policy, written atomically.
#include "mtasts/cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "core/ascii.hpp"
#include "core/fd.hpp"
#include "mtasts/names.hpp"

namespace mx::mtasts {

namespace {

constexpr std::string_view kMagic = "mxclient-mta-sts-cache 1\n";

Error cache_error(std::string detail) {
  return temporary_error(Stage::config, "MTA-STS cache: " + std::move(detail));
}

std::string errno_text(int err) {
  return std::strerror(err);
}

// mkdir -p with mode 0700 for the directories it creates.
Result<void> make_dirs(const std::string& dir) {
  if (dir.empty()) return fail(cache_error("empty directory name"));
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    const std::string part = dir.substr(0, pos);
    if (part.empty()) continue;
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      return fail(cache_error("cannot create " + part + ": " + errno_text(errno)));
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail(cache_error(dir + " is not a directory"));
  }
  return {};
}

Result<void> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(cache_error(std::string("write failed: ") + errno_text(errno)));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// Reads "<key>: <value>\n" and advances `in`.
std::optional<std::string_view> header_field(std::string_view& in, std::string_view key) {
  if (!in.starts_with(key) || in.substr(key.size()).substr(0, 2) != ": ") return std::nullopt;
  in.remove_prefix(key.size() + 2);
  const std::size_t lf = in.find('\n');
  if (lf == std::string_view::npos) return std::nullopt;
  const std::string_view value = in.substr(0, lf);
  in.remove_prefix(lf + 1);
  return value;
}

std::optional<long long> to_int(std::string_view s) {
  long long v = 0;
  if (s.empty()) return std::nullopt;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<CacheEntry> decode(std::string_view in) {
  if (!in.starts_with(kMagic)) return std::nullopt;
  in.remove_prefix(kMagic.size());
  const auto id = header_field(in, "id");
  const auto fetched = header_field(in, "fetched");
  const auto expires = header_field(in, "expires");
  const auto length = header_field(in, "length");
  if (!id || !fetched || !expires || !length || id->empty()) return std::nullopt;
  const auto f = to_int(*fetched), e = to_int(*expires), n = to_int(*length);
  if (!f || !e || !n || *n < 0 || *e < *f || !in.starts_with("\n")) return std::nullopt;
  in.remove_prefix(1);
  if (static_cast<unsigned long long>(*n) != in.size()) return std::nullopt;
  CacheEntry entry;
  entry.id = std::string(*id);
  entry.fetched_at = WallTime(std::chrono::seconds(*f));
  entry.expires_at = WallTime(std::chrono::seconds(*e));
  entry.policy_text = std::string(in);
  return entry;
}

std::string encode(const CacheEntry& e) {
  std::string out(kMagic);
  out += "id: " + e.id + "\n";
  out += "fetched: " + std::to_string(e.fetched_at.time_since_epoch().count()) + "\n";
  out += "expires: " + std::to_string(e.expires_at.time_since_epoch().count()) + "\n";
  out += "length: " + std::to_string(e.policy_text.size()) + "\n\n";
  out += e.policy_text;
  return out;
}

}  // namespace

Result<std::string> default_cache_dir(const char* xdg_cache_home, const char* home) {
  // XDG Base Directory spec: relative paths in $XDG_CACHE_HOME are invalid and ignored.
  if (xdg_cache_home && xdg_cache_home[0] == '/') {
    return std::string(xdg_cache_home) + "/mxclient/mta-sts";
  }
  if (home && home[0] == '/') return std::string(home) + "/.cache/mxclient/mta-sts";
  return fail(cache_error("neither XDG_CACHE_HOME nor HOME is an absolute path"));
}

Result<std::string> default_cache_dir() {
  return default_cache_dir(std::getenv("XDG_CACHE_HOME"), std::getenv("HOME"));
}

Result<std::string> Cache::path_for(std::string_view domain) const {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  const std::string name = ascii_lower(domain);
  if (!valid_hostname(name)) {
    return fail(cache_error("\"" + std::string(domain) + "\" is not a valid domain name"));
  }
  return dir_ + "/" + name;
}

std::optional<CacheEntry> Cache::load(std::string_view domain, std::string* note) const {
  auto path = path_for(domain);
  if (!path) {
    if (note) *note = path.error().detail;
    return std::nullopt;
  }
  Fd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno != ENOENT && note)
      *note = "MTA-STS cache: cannot open " + *path + ": " + errno_text(errno);
    return std::nullopt;
  }
  std::string data;
  char buf[8192];
  constexpr std::size_t kLimit = 1 << 20;  // far above any policy the fetcher accepts
  while (true) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (note) *note = "MTA-STS cache: cannot read " + *path + ": " + errno_text(errno);
      return std::nullopt;
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > kLimit) break;
  }
  auto entry = data.size() > kLimit ? std::nullopt : decode(data);
  if (!entry && note) *note = "MTA-STS cache: ignoring corrupt file " + *path;
  return entry;
}

Result<void> Cache::store(std::string_view domain, const CacheEntry& entry) const {
  auto path = path_for(domain);
  if (!path) return fail(std::move(path).error());
  if (entry.id.empty() || entry.id.find('\n') != std::string::npos) {
    return fail(cache_error("invalid policy id"));
  }
  if (auto made = make_dirs(dir_); !made) return made;
  // A leading dot: no host name looks like this, so load() can never pick up a temporary file.
  std::string tmp = dir_ + "/.tmp-" + path->substr(dir_.size() + 1) + "-XXXXXX";
  Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));  // mode 0600
  if (!fd.valid()) return fail(cache_error("cannot create " + tmp + ": " + errno_text(errno)));
  auto written = write_all(fd.get(), encode(entry));
  if (written && ::fsync(fd.get()) != 0) {
    written = fail(cache_error("fsync of " + tmp + " failed: " + errno_text(errno)));
  }
  const int close_rc = ::close(fd.release());
  if (written && close_rc != 0) {
    written = fail(cache_error("close of " + tmp + " failed: " + errno_text(errno)));
  }
  if (written && ::rename(tmp.c_str(), path->c_str()) != 0) {
    written = fail(cache_error("cannot rename " + tmp + ": " + errno_text(errno)));
  }
  if (!written) {
    ::unlink(tmp.c_str());
    return written;
  }
  // Make the rename itself durable.
  Fd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());
  return {};
}

}  // namespace mx::mtasts
