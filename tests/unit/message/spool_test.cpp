// Unit tests for mx::message::Spool: reading to EOF, memory/file spooling, replay, and the
// input_io errors the CLI turns into exit 74.
#include "message/spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "message/normalizer.hpp"

namespace mx::message {
namespace {

using namespace std::string_literals;

static_assert(!std::is_copy_constructible_v<Spool>);
static_assert(!std::is_copy_assignable_v<Spool>);
static_assert(std::is_nothrow_move_constructible_v<Spool>);
static_assert(std::is_nothrow_move_assignable_v<Spool>);

std::string normalized(std::string_view raw) {
  Normalizer n;
  std::string out;
  n.feed(raw, out);
  n.finish(out);
  return out;
}

// Replays the spool, checking the chunk size limit on the way.
std::string read_back(const Spool& s) {
  std::string all;
  auto r = s.for_each_chunk([&](std::string_view c) -> Result<void> {
    EXPECT_FALSE(c.empty());
    EXPECT_LE(c.size(), Spool::kChunk);
    all.append(c);
    return {};
  });
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().describe());
  return all;
}

// A fresh directory under /tmp, removed (with any files) at the end of the test.
class TempDir {
 public:
  TempDir() {
    char templ[] = "/tmp/mx-spool-test.XXXXXX";
    const char* p = ::mkdtemp(templ);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "";
  }
  ~TempDir() {
    for (const auto& e : entries()) ::unlink((path_ + "/" + e).c_str());
    ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path_.c_str())) {
      while (dirent* e = ::readdir(d)) {
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
          out.emplace_back(e->d_name);
        }
      }
      ::closedir(d);
    }
    return out;
  }

 private:
  std::string path_;
};

// Writers whose reader is gone get EPIPE rather than a fatal SIGPIPE.
const bool sigpipe_ignored = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

// A pipe whose write end is fed by a thread, in pieces, then closed (EOF).
class PipeWriter {
 public:
  PipeWriter(std::string data, std::size_t piece) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    read_end_.reset(fds[0]);
    thread_ = std::thread([w = Fd(fds[1]), data = std::move(data), piece] {
      std::string_view rest = data;
      while (!rest.empty()) {
        const ssize_t n = ::write(w.get(), rest.data(), std::min(piece, rest.size()));
        if (n <= 0) return;
        rest.remove_prefix(static_cast<std::size_t>(n));
      }
    });  // the lambda's Fd closes the write end when the thread finishes
  }
  // Closing the read end first lets a writer blocked on a full pipe fail (EPIPE) instead of
  // hanging the test when read_from stopped early.
  ~PipeWriter() {
    read_end_.reset();
    join();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  int fd() const { return read_end_.get(); }

 private:
  Fd read_end_;
  std::thread thread_;
};

SpoolOptions opts(std::size_t limit, std::string dir = "") {
  SpoolOptions o;
  o.memory_limit = limit;
  o.tmp_dir = std::move(dir);
  return o;
}

std::string pattern(std::size_t n) {
  std::string s;
  s.reserve(n);
  for (std::size_t i = 0; s.size() < n; ++i) {
    s += "line " + std::to_string(i) + (i % 3 == 0 ? "\n" : i % 3 == 1 ? "\r\n" : "\r");
    if (i % 11 == 0) s += ".dot\n";
  }
  s.resize(n);
  return s;
}

TEST(Spool, FromStringNormalizes) {
  const Spool s = Spool::from_string("a\nb\rc");
  EXPECT_EQ(read_back(s), "a\r\nb\r\nc\r\n");
  EXPECT_EQ(s.size(), 9u);
  EXPECT_EQ(s.stats().lines, 3u);
  EXPECT_FALSE(s.spooled_to_file());
}

TEST(Spool, EmptyMessageGivesNoChunks) {
  const Spool s = Spool::from_string("");
  int calls = 0;
  auto r = s.for_each_chunk([&](std::string_view) -> Result<void> {
    ++calls;
    return {};
  });
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(s.size(), 0u);
}

TEST(Spool, ReadsPipeToEofWrittenByThread) {
  const std::string raw = "Subject: hi\n\nbody\r\nlast";
  PipeWriter w(raw, 3);
  auto s = Spool::read_from(w.fd());
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  EXPECT_EQ(read_back(*s), "Subject: hi\r\n\r\nbody\r\nlast\r\n");
  EXPECT_EQ(s->size(), s->stats().size);
  EXPECT_FALSE(s->spooled_to_file());
}

TEST(Spool, ReadsEmptyPipe) {
  PipeWriter w("", 1);
  auto s = Spool::read_from(w.fd());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->size(), 0u);
  EXPECT_EQ(read_back(*s), "");
}

TEST(Spool, CrAndLfSplitAcrossReadsAreOneLineEnd) {
  // A regular file is read in exact 64 KiB pieces, so the CR ends one read and the LF starts
  // the next.
  TempDir dir;
  const std::string path = dir.path() + "/msg";
  std::string raw(Spool::kChunk - 1, 'x');
  raw += "\r\n.y\n";
  {
    Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    ASSERT_TRUE(f.valid());
    ASSERT_EQ(::write(f.get(), raw.data(), raw.size()), static_cast<ssize_t>(raw.size()));
  }
  Fd in(::open(path.c_str(), O_RDONLY));
  ASSERT_TRUE(in.valid());
  auto s = Spool::read_from(in.get());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(read_back(*s), std::string(Spool::kChunk - 1, 'x') + "\r\n.y\r\n");
  EXPECT_EQ(s->stats().lines, 2u);
}

TEST(Spool, StaysInMemoryUpToTheLimit) {
  const std::string raw = std::string(98, 'a') + "\r\n";  // exactly 100 normalized octets
  PipeWriter w(raw, 7);
  auto s = Spool::read_from(w.fd(), opts(100));
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->spooled_to_file());
  EXPECT_EQ(s->resident_bytes(), 100u);
  EXPECT_EQ(read_back(*s), raw);
}

TEST(Spool, FinalCrlfCanPushItToTheFile) {
  // 100 octets read, the CRLF added by finish() makes 102 > limit.
  TempDir dir;
  PipeWriter w(std::string(100, 'a'), 100);
  auto s = Spool::read_from(w.fd(), opts(101, dir.path()));
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->spooled_to_file());
  EXPECT_EQ(read_back(*s), std::string(100, 'a') + "\r\n");
}

TEST(Spool, SwitchesToFileBeyondLimitAndReplaysIdentically) {
  TempDir dir;
  const std::string raw = pattern(700 * 1024 + 13);
  const std::string want = normalized(raw);
  PipeWriter w(raw, 4093);
  auto s = Spool::read_from(w.fd(), opts(4096, dir.path()));
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  EXPECT_TRUE(s->spooled_to_file());
  EXPECT_EQ(s->resident_bytes(), 0u);  // nothing of the message accumulates in memory
  EXPECT_EQ(s->size(), want.size());
  const std::string first = read_back(*s);
  const std::string second = read_back(*s);
  EXPECT_TRUE(first == want);
  EXPECT_TRUE(second == want);
  EXPECT_EQ(s->stats().lines, Spool::from_string(raw).stats().lines);
}

TEST(Spool, MovedSpoolStillReadsBack) {
  TempDir dir;
  const std::string raw = pattern(10000);
  PipeWriter w(raw, 512);
  auto r = Spool::read_from(w.fd(), opts(1000, dir.path()));
  ASSERT_TRUE(r.has_value());
  Spool moved = std::move(*r);
  Spool again = Spool::from_string("x");
  again = std::move(moved);
  EXPECT_TRUE(again.spooled_to_file());
  EXPECT_EQ(read_back(again), normalized(raw));
}

TEST(Spool, SpoolFileIsUnlinkedAtOnce) {
  TempDir dir;
  PipeWriter w(pattern(5000), 5000);
  auto s = Spool::read_from(w.fd(), opts(10, dir.path()));
  ASSERT_TRUE(s.has_value());
  ASSERT_TRUE(s->spooled_to_file());
  EXPECT_TRUE(dir.entries().empty());
  // It is open, deleted, and was created in the requested directory.
  bool found = false;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) {
      char target[4096] = {};
      const std::string link = "/proc/self/fd/"s + e->d_name;
      const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      const std::string t(target, static_cast<std::size_t>(n));
      if (t.rfind(dir.path() + "/", 0) == 0 && t.find("(deleted)") != std::string::npos) {
        found = true;
      }
    }
    ::closedir(d);
  }
  EXPECT_TRUE(found);
}

TEST(Spool, SinkErrorStopsReplay) {
  TempDir dir;
  const std::string raw = pattern(300 * 1024);
  for (std::size_t limit : {std::size_t{1} << 30, std::size_t{1000}}) {
    PipeWriter w(raw, 65536);
    auto s = Spool::read_from(w.fd(), opts(limit, dir.path()));
    ASSERT_TRUE(s.has_value());
    int calls = 0;
    auto r = s->for_each_chunk([&](std::string_view) -> Result<void> {
      if (++calls == 2) return fail(temporary_error(Stage::smtp, "write failed"));
      return {};
    });
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().stage, Stage::smtp);
    EXPECT_EQ(r.error().detail, "write failed");
    EXPECT_EQ(calls, 2);
  }
}

void expect_input_io(const Result<Spool>& r, const std::string& text) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().stage, Stage::input);
  EXPECT_EQ(r.error().permanence, Permanence::permanent);
  EXPECT_EQ(r.error().reason, Reason::input_io);
  EXPECT_NE(r.error().detail.find(text), std::string::npos) << r.error().detail;
}

TEST(SpoolErrors, ReadFromWriteOnlyFdIsInputIo) {
  Fd f(::open("/dev/null", O_WRONLY));
  ASSERT_TRUE(f.valid());
  expect_input_io(Spool::read_from(f.get()), std::strerror(EBADF));
}

TEST(SpoolErrors, ReadFromDirectoryIsInputIo) {
  Fd f(::open("/tmp", O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(f.valid());
  expect_input_io(Spool::read_from(f.get()), std::strerror(EISDIR));
}

TEST(SpoolErrors, ReadFromClosedFdIsInputIo) {
  expect_input_io(Spool::read_from(-1), "cannot read the message");
}

TEST(SpoolErrors, MissingSpoolDirectoryIsInputIo) {
  PipeWriter w(pattern(3000), 3000);
  auto r = Spool::read_from(w.fd(), opts(100, "/nonexistent/mx-spool-dir"));
  expect_input_io(r, "/nonexistent/mx-spool-dir");
  expect_input_io(r, std::strerror(ENOENT));
}

TEST(SpoolErrors, TmpdirEnvironmentIsHonoured) {
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old ? old : "";
  ::setenv("TMPDIR", "/nonexistent/mx-tmpdir", 1);
  PipeWriter w(pattern(3000), 3000);
  auto r = Spool::read_from(w.fd(), opts(100));
  if (old) {
    ::setenv("TMPDIR", saved.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  expect_input_io(r, "/nonexistent/mx-tmpdir");
}

TEST(SpoolErrors, NoSpoolFileNeededNoDirectoryTouched) {
  PipeWriter w("small\n", 6);
  auto r = Spool::read_from(w.fd(), opts(SpoolOptions{}.memory_limit, "/nonexistent/mx-spool-dir"));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->spooled_to_file());
}

TEST(SpoolErrorsDeathTest, SpoolFileWriteFailureIsInputIo) {
  // A file size limit makes write(2) fail (EFBIG) like a full disk would; done in a child
  // process so the limit does not leak into other tests.
  TempDir dir;
  auto child = [&] {
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{8192, 8192};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    PipeWriter w(pattern(100000), 4096);
    auto r = Spool::read_from(w.fd(), opts(100, dir.path()));
    // No join: read_from stopped early, so the writer may be blocked on a full pipe; _Exit
    // ends it with the process.
    const bool ok = !r.has_value() && r.error().reason == Reason::input_io &&
                    r.error().stage == Stage::input && r.error().permanent() &&
                    r.error().detail.find("spool file") != std::string::npos &&
                    r.error().detail.find(std::strerror(EFBIG)) != std::string::npos;
    std::_Exit(ok ? 0 : 1);
  };
  EXPECT_EXIT(child(), ::testing::ExitedWithCode(0), "");
}

TEST(Spool, NonBlockingPipeIsWaitedFor) {
  const std::string raw = pattern(20000);  // fits in the pipe: the writer never blocks
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  Fd r(fds[0]);
  ASSERT_EQ(::fcntl(r.get(), F_SETFL, O_NONBLOCK), 0);
  std::thread t([w = Fd(fds[1]), &raw] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::string_view rest = raw;
    while (!rest.empty()) {
      const ssize_t n = ::write(w.get(), rest.data(), std::min<std::size_t>(1000, rest.size()));
      if (n <= 0) return;
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
  });
  auto s = Spool::read_from(r.get());
  t.join();
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  EXPECT_TRUE(read_back(*s) == normalized(raw));
  EXPECT_TRUE(sigpipe_ignored);
}

void on_usr1(int) {}

TEST(Spool, ReadInterruptedBySignalIsRetried) {
  struct sigaction sa {};
  struct sigaction old {};
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked read(2) returns EINTR
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  Fd r(fds[0]);
  Fd w(fds[1]);
  Result<Spool> result = Spool::from_string("");
  std::thread reader([&] { result = Spool::read_from(r.get()); });
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::pthread_kill(reader.native_handle(), SIGUSR1);
  }
  ASSERT_EQ(::write(w.get(), "hello\n", 6), 6);
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::pthread_kill(reader.native_handle(), SIGUSR1);
  }
  w.reset();
  reader.join();
  ::sigaction(SIGUSR1, &old, nullptr);
  ASSERT_TRUE(result.has_value()) << result.error().describe();
  EXPECT_EQ(read_back(*result), "hello\r\n");
}

TEST(Spool, StatsMatchNormalizer) {
  const std::string raw = "a\0\n"s + std::string(1200, '\xe9') + "\r\nend";
  PipeWriter w(raw, 100);
  auto s = Spool::read_from(w.fd());
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->stats().has_nul);
  EXPECT_TRUE(s->stats().eight_bit);
  EXPECT_EQ(s->stats().lines, 3u);
  EXPECT_EQ(s->stats().longest_line, 1200u);
  EXPECT_EQ(s->stats().long_lines, 1u);
  EXPECT_EQ(s->stats().first_long_line, 2u);
  EXPECT_EQ(s->size(), raw.size() + 3);  // two LFs widened to CRLF, one CRLF added
}

}  // namespace
}  // namespace mx::message

namespace mx::message {
namespace {

// sendmail -t: Bcc fields never reach the wire, and the size sent in SIZE= matches what is sent.
TEST(SpoolBcc, StripsBccWhileReadingAndCountsTheFilteredSize) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string raw =
      "To: a@x.example\nBcc: hidden@y.example,\n  other@z.example\nSubject: s\n\nBcc: body\n";
  ASSERT_EQ(::write(fds[1], raw.data(), raw.size()), static_cast<ssize_t>(raw.size()));
  ::close(fds[1]);
  SpoolOptions opts;
  opts.strip_bcc = true;
  auto spool = Spool::read_from(fds[0], opts);
  ::close(fds[0]);
  ASSERT_TRUE(spool) << spool.error().detail;
  std::string got;
  ASSERT_TRUE(spool->for_each_chunk([&](std::string_view c) -> Result<void> {
    got.append(c);
    return {};
  }));
  EXPECT_EQ(got, "To: a@x.example\r\nSubject: s\r\n\r\nBcc: body\r\n");
  EXPECT_EQ(spool->size(), got.size());
}

}  // namespace
}  // namespace mx::message
