// Spool: reading, normalizing and re-reading the message (see spool.hpp).
#include "message/spool.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <system_error>
#include <vector>

#include "message/headers.hpp"

namespace mx::message {
namespace {

Error input_io(std::string what, int err) {
  Error e =
      permanent_error(Stage::input, std::move(what) + ": " + std::generic_category().message(err));
  e.reason = Reason::input_io;
  return e;
}

std::string spool_dir(const SpoolOptions& opts) {
  if (!opts.tmp_dir.empty()) return opts.tmp_dir;
  const char* env = std::getenv("TMPDIR");
  if (env != nullptr && *env != '\0') return env;
  return "/tmp";
}

Result<void> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(input_io("cannot write the spool file", errno));
    }
    if (n == 0) return fail(input_io("cannot write the spool file", ENOSPC));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// Waits until a non-blocking fd has data, so a caller-supplied O_NONBLOCK stdin still works.
void wait_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
}

}  // namespace

Result<void> Spool::move_to_file(const SpoolOptions& opts) {
  std::string path = spool_dir(opts) + "/mxclient-spool.XXXXXX";
  std::vector<char> templ(path.begin(), path.end());
  templ.push_back('\0');
  Fd fd(::mkostemp(templ.data(), O_CLOEXEC));
  if (!fd.valid()) return fail(input_io("cannot create a spool file in " + spool_dir(opts), errno));
  // Unlinked at once: nothing is left behind however the process ends.
  if (::unlink(templ.data()) != 0) {
    return fail(input_io("cannot unlink the spool file " + std::string(templ.data()), errno));
  }
  if (auto w = write_all(fd.get(), memory_); !w) return w;
  file_ = std::move(fd);
  std::string().swap(memory_);  // give the memory back, not just clear it
  return {};
}

Result<void> Spool::append(std::string_view data, const SpoolOptions& opts) {
  if (!file_.valid() && memory_.size() + data.size() > opts.memory_limit) {
    if (auto m = move_to_file(opts); !m) return m;
  }
  if (file_.valid()) return write_all(file_.get(), data);
  memory_.append(data);
  return {};
}

Result<Spool> Spool::read_from(int fd, SpoolOptions opts) {
  Spool spool;
  Normalizer norm;
  std::optional<BccStripper> bcc;
  if (opts.strip_bcc) bcc.emplace();
  std::vector<char> buf(kChunk);
  std::string out;
  std::string filtered;
  std::uint64_t stored = 0;
  out.reserve(2 * kChunk + 2);  // LF -> CRLF at most doubles a chunk
  // Normalized bytes, through the Bcc filter when asked, into memory or the file.
  auto store = [&](const std::string& normalized) -> Result<void> {
    const std::string* data = &normalized;
    if (bcc) {
      filtered.clear();
      bcc->feed(normalized, filtered);
      data = &filtered;
    }
    stored += data->size();
    return spool.append(*data, opts);
  };
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait_readable(fd);
        continue;
      }
      return fail(input_io("cannot read the message", errno));
    }
    if (n == 0) break;
    out.clear();
    norm.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)), out);
    if (auto a = store(out); !a) return fail(std::move(a).error());
  }
  out.clear();
  norm.finish(out);
  if (auto a = store(out); !a) return fail(std::move(a).error());
  if (bcc) {
    filtered.clear();
    bcc->finish(filtered);
    stored += filtered.size();
    if (auto a = spool.append(filtered, opts); !a) return fail(std::move(a).error());
  }
  spool.stats_ = norm.stats();
  spool.stats_.size = stored;
  return spool;
}

Spool Spool::from_string(std::string_view raw) {
  Spool spool;
  Normalizer norm;
  norm.feed(raw, spool.memory_);
  norm.finish(spool.memory_);
  spool.stats_ = norm.stats();
  return spool;
}

Result<void> Spool::for_each_chunk(
    const std::function<Result<void>(std::string_view)>& sink) const {
  if (!file_.valid()) {
    std::string_view rest = memory_;
    while (!rest.empty()) {
      const std::size_t n = std::min(rest.size(), kChunk);
      if (auto r = sink(rest.substr(0, n)); !r) return r;
      rest.remove_prefix(n);
    }
    return {};
  }
  // pread leaves the file offset alone, so a const Spool can be replayed for every MX.
  std::vector<char> buf(kChunk);
  std::uint64_t off = 0;
  while (off < stats_.size) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, stats_.size - off));
    const ssize_t n = ::pread(file_.get(), buf.data(), want, static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(input_io("cannot read the spool file", errno));
    }
    if (n == 0) return fail(input_io("the spool file is shorter than written", EIO));
    if (auto r = sink(std::string_view(buf.data(), static_cast<std::size_t>(n))); !r) return r;
    off += static_cast<std::uint64_t>(n);
  }
  return {};
}

}  // namespace mx::message
