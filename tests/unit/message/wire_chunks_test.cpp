// Unit tests for mx::message::write_dot_stuffed: the DATA body as fixed-size chunks.
#include "message/wire_chunks.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "message/dot_stuffer.hpp"

namespace mx::message {
namespace {

std::string reference(const Spool& s) {
  std::string body;
  auto r = s.for_each_chunk([&](std::string_view c) -> Result<void> {
    body.append(c);
    return {};
  });
  EXPECT_TRUE(r.has_value());
  DotStuffer d;
  std::string out;
  d.feed(body, out);
  d.finish(out);
  return out;
}

std::vector<std::string> collect(const Spool& s, std::size_t chunk) {
  std::vector<std::string> chunks;
  auto r = write_dot_stuffed(
      s,
      [&](std::string_view c) -> Result<void> {
        chunks.emplace_back(c);
        return {};
      },
      chunk);
  EXPECT_TRUE(r.has_value());
  return chunks;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& c : v) out += c;
  return out;
}

void expect_sizes(const std::vector<std::string>& chunks, std::size_t chunk) {
  ASSERT_FALSE(chunks.empty());
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    if (i + 1 < chunks.size()) {
      EXPECT_EQ(chunks[i].size(), chunk) << i;
    } else {
      EXPECT_GE(chunks[i].size(), 1u);
      EXPECT_LE(chunks[i].size(), chunk);
    }
  }
}

TEST(WireChunks, EmptyMessageIsJustTheTerminator) {
  const auto chunks = collect(Spool::from_string(""), Spool::kChunk);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0], ".\r\n");
}

TEST(WireChunks, StuffsAndTerminates) {
  const Spool s = Spool::from_string(".a\n.\nb\n..\r\nc");
  EXPECT_EQ(join(collect(s, Spool::kChunk)), "..a\r\n..\r\nb\r\n...\r\nc\r\n.\r\n");
}

TEST(WireChunks, SmallChunkSizesGiveSameBytes) {
  const Spool s = Spool::from_string(".x\n.\n\n...\nlong line here\n.");
  const std::string want = reference(s);
  for (std::size_t chunk : {1u, 2u, 3u, 5u, 7u, 64u}) {
    const auto chunks = collect(s, chunk);
    EXPECT_EQ(join(chunks), want) << chunk;
    expect_sizes(chunks, chunk);
  }
}

TEST(WireChunks, ZeroChunkMeansDefault) {
  const Spool s = Spool::from_string(std::string(200 * 1024, 'a'));
  const auto chunks = collect(s, 0);
  expect_sizes(chunks, Spool::kChunk);
  EXPECT_EQ(join(chunks), reference(s));
}

TEST(WireChunks, DotAtSpoolChunkBoundaryInFile) {
  // The file-backed spool is replayed in 64 KiB pieces; put a line start with "." exactly at
  // the start of the second piece, and a CRLF split across the second boundary.
  std::string raw(Spool::kChunk - 2, 'x');
  raw += "\r\n.boundary\r\n";
  raw += std::string(2 * Spool::kChunk - raw.size() - 1, 'y');
  raw += "\r\n.z\r\n";
  char path[] = "/tmp/mx-wire-test.XXXXXX";
  Fd f(::mkstemp(path));
  ASSERT_TRUE(f.valid());
  ::unlink(path);
  ASSERT_EQ(::pwrite(f.get(), raw.data(), raw.size(), 0), static_cast<ssize_t>(raw.size()));
  SpoolOptions o;
  o.memory_limit = 1000;
  auto s = Spool::read_from(f.get(), o);
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  ASSERT_TRUE(s->spooled_to_file());
  const std::string want = std::string(Spool::kChunk - 2, 'x') + "\r\n..boundary\r\n" +
                           std::string(2 * Spool::kChunk - (Spool::kChunk + 11) - 1, 'y') +
                           "\r\n..z\r\n.\r\n";
  const auto chunks = collect(*s, Spool::kChunk);
  expect_sizes(chunks, Spool::kChunk);
  EXPECT_TRUE(join(chunks) == want);
}

TEST(WireChunks, SinkErrorStopsAndIsReturned) {
  const Spool s = Spool::from_string(std::string(300 * 1024, 'a'));
  int calls = 0;
  auto r = write_dot_stuffed(
      s,
      [&](std::string_view) -> Result<void> {
        if (++calls == 3) return fail(temporary_error(Stage::smtp, "broken pipe"));
        return {};
      },
      1000);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().detail, "broken pipe");
  EXPECT_EQ(calls, 3);
}

TEST(WireChunks, SinkErrorOnTerminatorIsReturned) {
  const Spool s = Spool::from_string("a\n");
  auto r = write_dot_stuffed(s, [&](std::string_view c) -> Result<void> {
    EXPECT_EQ(c, "a\r\n.\r\n");
    return fail(temporary_error(Stage::smtp, "late"));
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().detail, "late");
}

TEST(WireChunks, ReplayableForSeveralMx) {
  const Spool s = Spool::from_string(".first\nsecond\n");
  EXPECT_EQ(join(collect(s, 4)), join(collect(s, 4)));
  EXPECT_EQ(join(collect(s, 4)), "..first\r\nsecond\r\n.\r\n");
}

}  // namespace
}  // namespace mx::message
