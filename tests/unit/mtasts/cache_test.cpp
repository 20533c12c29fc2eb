// Tests for the on-disk MTA-STS policy cache.
#include "mtasts/cache.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

namespace mx::mtasts {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/mtasts-cache-XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::set<std::string> list(const std::string& dir) {
  std::set<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.insert(n);
    }
    ::closedir(d);
  }
  return names;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

CacheEntry sample() {
  CacheEntry e;
  e.id = "20240101T000000";
  e.fetched_at = WallTime(std::chrono::seconds(1700000000));
  e.expires_at = WallTime(std::chrono::seconds(1700086400));
  e.policy_text = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 86400\r\n";
  return e;
}

TEST(Cache, RoundTrip) {
  TempDir tmp;
  Cache cache(tmp.path() + "/a/b/mta-sts");
  ASSERT_TRUE(cache.store("Example.COM.", sample()));
  std::string note;
  auto loaded = cache.load("example.com", &note);
  ASSERT_TRUE(loaded) << note;
  EXPECT_EQ(loaded->id, sample().id);
  EXPECT_EQ(loaded->fetched_at, sample().fetched_at);
  EXPECT_EQ(loaded->expires_at, sample().expires_at);
  EXPECT_EQ(loaded->policy_text, sample().policy_text);
  EXPECT_TRUE(note.empty());
  EXPECT_EQ(list(cache.dir()), std::set<std::string>{"example.com"});  // lower case, no dot
}

TEST(Cache, CreatesDirectoriesPrivate) {
  TempDir tmp;
  Cache cache(tmp.path() + "/x/y");
  ASSERT_TRUE(cache.store("example.com", sample()));
  struct stat st {};
  ASSERT_EQ(::stat((tmp.path() + "/x").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((tmp.path() + "/x/y").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((tmp.path() + "/x/y/example.com").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Cache, AbsentIsNulloptWithoutNote) {
  TempDir tmp;
  Cache cache(tmp.path());
  std::string note;
  EXPECT_FALSE(cache.load("example.com", &note));
  EXPECT_TRUE(note.empty());
  Cache missing_dir(tmp.path() + "/nope");
  EXPECT_FALSE(missing_dir.load("example.com", &note));
  EXPECT_TRUE(note.empty());
}

TEST(Cache, OverwriteIsAtomicAndLeavesNoTemporaryFiles) {
  TempDir tmp;
  Cache cache(tmp.path());
  ASSERT_TRUE(cache.store("example.com", sample()));
  CacheEntry second = sample();
  second.id = "second";
  second.policy_text = "version: STSv1\nmode: none\nmax_age: 1\n";
  ASSERT_TRUE(cache.store("example.com", second));
  ASSERT_TRUE(cache.store("example.org", second));
  EXPECT_EQ(list(tmp.path()), (std::set<std::string>{"example.com", "example.org"}));
  auto loaded = cache.load("example.com");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->id, "second");
  EXPECT_EQ(loaded->policy_text, second.policy_text);
}

TEST(Cache, FailedStoreLeavesOldEntryAndNoTemporaryFile) {
  TempDir tmp;
  Cache cache(tmp.path());
  ASSERT_TRUE(cache.store("example.com", sample()));
  CacheEntry bad = sample();
  bad.id = "two\nlines";
  EXPECT_FALSE(cache.store("example.com", bad));
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{"example.com"});
  EXPECT_EQ(cache.load("example.com")->id, sample().id);
}

TEST(Cache, CorruptFilesAreIgnoredWithANote) {
  TempDir tmp;
  Cache cache(tmp.path());
  ASSERT_TRUE(cache.store("example.com", sample()));
  const std::string path = tmp.path() + "/example.com";
  const std::string good = read_file(path);
  const std::string variants[] = {
      "",
      "garbage",
      good.substr(0, good.size() - 1),                 // truncated policy
      good + "x",                                      // trailing junk
      "mxclient-mta-sts-cache 2\n" + good.substr(25),  // unknown format version
  };
  for (const auto& v : variants) {
    write_file(path, v);
    std::string note;
    EXPECT_FALSE(cache.load("example.com", &note)) << v;
    EXPECT_NE(note.find("corrupt"), std::string::npos) << note;
  }
  std::string bad_number = good;
  bad_number.replace(bad_number.find("fetched: ") + 9, 1, "x");
  write_file(path, bad_number);
  EXPECT_FALSE(cache.load("example.com"));
}

TEST(Cache, PathTraversalRefused) {
  TempDir tmp;
  Cache cache(tmp.path() + "/c");
  for (const char* name : {"../evil", "..", ".", "", "a/b", "a..b", "/etc/passwd", "a b",
                           ".tmp-example.com-123456", "-a.example", "a\nb"}) {
    EXPECT_FALSE(cache.path_for(name)) << name;
    EXPECT_FALSE(cache.store(name, sample())) << name;
    std::string note;
    EXPECT_FALSE(cache.load(name, &note)) << name;
    EXPECT_NE(note.find("not a valid domain name"), std::string::npos) << note;
  }
  EXPECT_EQ(list(tmp.path()), std::set<std::string>{});  // nothing created anywhere
}

TEST(Cache, StoreIntoAFileFails) {
  TempDir tmp;
  write_file(tmp.path() + "/file", "x");
  Cache cache(tmp.path() + "/file");
  auto r = cache.store("example.com", sample());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, Stage::config);
}

TEST(DefaultCacheDir, XdgThenHome) {
  EXPECT_EQ(*default_cache_dir("/x/cache", "/home/u"), "/x/cache/mxclient/mta-sts");
  EXPECT_EQ(*default_cache_dir(nullptr, "/home/u"), "/home/u/.cache/mxclient/mta-sts");
  EXPECT_EQ(*default_cache_dir("", "/home/u"), "/home/u/.cache/mxclient/mta-sts");
  // XDG base directory spec: a relative $XDG_CACHE_HOME is ignored.
  EXPECT_EQ(*default_cache_dir("rel/cache", "/home/u"), "/home/u/.cache/mxclient/mta-sts");
  EXPECT_FALSE(default_cache_dir(nullptr, nullptr));
  EXPECT_FALSE(default_cache_dir("rel", "also-rel"));
}

}  // namespace
}  // namespace mx::mtasts
