// read_config_file: POSIX reads into a string, never throwing.
#include "dns/config_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/fd.hpp"

namespace mx::dns {

Result<std::string> read_config_file(const std::string& path, std::string_view what) {
  constexpr off_t kMaxSize = 1 << 20;
  auto error = [&](const std::string& why) {
    return fail(permanent_error(Stage::config,
                                "cannot read " + std::string(what) + " " + path + ": " + why));
  };
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return error(std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return error(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return error("not a regular file");
  if (st.st_size > kMaxSize) return error("larger than 1 MiB");
  std::string text;
  char buf[8192];
  while (true) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return error(std::strerror(errno));
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > static_cast<std::size_t>(kMaxSize)) return error("larger than 1 MiB");
  }
  return text;
}

}  // namespace mx::dns
