// common/codec: round trips through every codec in odd-sized chunks, corrupt
// and truncated input, detection by suffix and magic bytes, levels, file helpers.
#include "common/codec.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <thread>

#include "common/fs.h"
#include "support/run.h"

using namespace cellar;
using namespace cellar::codec;

namespace {

const Codec kAll[] = {Codec::none, Codec::gzip, Codec::lz4, Codec::zstd};

std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (size_t i = n - n % 8; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

std::string compressible_bytes(size_t n) {
  std::string s;
  s.reserve(n);
  for (size_t i = 0; s.size() < n; ++i) s += "row " + std::to_string(i % 1000) + " of a table that repeats itself\n";
  s.resize(n);
  return s;
}

// Feeds `input` to `feed` in chunks of sizes cycling through awkward values.
template <typename F>
void feed_odd_chunks(std::string_view input, F feed) {
  const size_t sizes[] = {1, 7, 4093, 65537, 1048579, 13, 300007};
  size_t i = 0;
  while (!input.empty()) {
    size_t n = std::min(input.size(), sizes[i++ % 7]);
    feed(input.substr(0, n));
    input.remove_prefix(n);
  }
}

struct Collect {
  std::string out;
  size_t largest_piece = 0;
  Sink sink() {
    return [this](std::string_view piece) {
      out.append(piece);
      largest_piece = std::max(largest_piece, piece.size());
      return Status::ok();
    };
  }
};

std::string compress_chunked(const std::string& data, Codec codec, int level = 0) {
  auto c = Compressor::create(codec, level);
  REQUIRE(c);
  Collect got;
  feed_odd_chunks(data, [&](std::string_view piece) { REQUIRE(c->update(piece, got.sink())); });
  REQUIRE(c->finish(got.sink()));
  return got.out;
}

Status decompress_chunked(const std::string& data, Codec codec, Collect& got) {
  auto d = Decompressor::create(codec);
  REQUIRE(d);
  Status st;
  feed_odd_chunks(data, [&](std::string_view piece) {
    if (st) st = d->update(piece, got.sink());
  });
  if (!st) return st;
  return d->finish(got.sink());
}

}  // namespace

TEST_CASE("every codec round-trips empty, small, random and compressible data fed in odd chunks", "[common]") {
  const std::string inputs[] = {"", "hello, WAL", random_bytes(40 * 1024 * 1024, 42),
                                compressible_bytes(40 * 1024 * 1024)};
  for (Codec codec : kAll) {
    for (int i = 0; i < 4; ++i) {
      const std::string& input = inputs[i];
      INFO(codec_name(codec) << " with " << input.size() << " bytes");
      std::string packed = compress_chunked(input, codec);
      Collect got;
      REQUIRE(decompress_chunked(packed, codec, got));
      REQUIRE(got.out.size() == input.size());
      REQUIRE(got.out == input);
      CHECK(got.largest_piece <= 128 * 1024);
      if (codec != Codec::none && i == 3) CHECK(packed.size() < input.size() / 4);
    }
  }
}

TEST_CASE("decompressing highly compressible data hands the sink bounded pieces", "[common]") {
  std::string zeros(64 * 1024 * 1024, '\0');
  for (Codec codec : kAll) {
    auto packed = compress_buffer(zeros, codec);
    REQUIRE(packed);
    auto d = Decompressor::create(codec);
    REQUIRE(d);
    Collect got;
    REQUIRE(d->update(*packed, got.sink()));  // one call, tiny input, 64 MiB out
    REQUIRE(d->finish(got.sink()));
    CHECK(got.out.size() == zeros.size());
    CHECK(got.largest_piece <= 128 * 1024);
  }
}

TEST_CASE("corrupt compressed input gives a clear error, never wrong data silently", "[common]") {
  std::string data = random_bytes(1024 * 1024, 7) + compressible_bytes(1024 * 1024);
  for (Codec codec : {Codec::gzip, Codec::lz4, Codec::zstd}) {
    INFO(codec_name(codec));
    std::string packed = *compress_buffer(data, codec);

    std::string flipped = packed;
    flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x5A);
    auto bad = decompress_buffer(flipped, codec);
    REQUIRE_FALSE(bad);
    CHECK(bad.status().code() == ErrorCode::failed);
    CHECK(bad.status().message().find(codec_name(codec)) != std::string::npos);

    auto cut = decompress_buffer(std::string_view(packed).substr(0, packed.size() - 10), codec);
    REQUIRE_FALSE(cut);
    CHECK(cut.status().message().find("data") != std::string::npos);

    CHECK_FALSE(decompress_buffer("this is not compressed at all", codec));
    CHECK_FALSE(decompress_buffer("", codec));
    CHECK_FALSE(decompress_buffer(packed + "trailing garbage", codec));
  }
}

TEST_CASE("concatenated frames decompress as one stream", "[common]") {
  for (Codec codec : kAll) {
    std::string a = *compress_buffer("first part ", codec), b = *compress_buffer("second part", codec);
    auto both = decompress_buffer(a + b, codec);
    REQUIRE(both);
    CHECK(*both == "first part second part");
  }
}

TEST_CASE("codec names, suffixes and magic bytes identify every codec", "[common]") {
  for (Codec codec : kAll) {
    CHECK(parse_codec(codec_name(codec)) == codec);
    CHECK(codec_of_suffix(std::string("wals/000000010000000000000001") + codec_suffix(codec)) == codec);
    CHECK(detect_codec(*compress_buffer("abc", codec)) == (codec == Codec::none ? Codec::none : codec));
  }
  CHECK(parse_codec("None") == Codec::none);
  CHECK_FALSE(parse_codec("bzip2"));
  CHECK_FALSE(parse_codec("ZSTD"));
  CHECK(codec_of_suffix(".zst") == Codec::none);  // a suffix alone is no file name
  CHECK(codec_of_suffix("file.zstd") == Codec::none);
  CHECK(detect_codec("") == Codec::none);
  CHECK(detect_codec("\x1F") == Codec::none);
}

TEST_CASE("levels default per codec and out-of-range levels are usage errors", "[common]") {
  CHECK(*resolve_level(Codec::zstd, 0) == 3);
  CHECK(*resolve_level(Codec::lz4, 0) == 1);
  CHECK(*resolve_level(Codec::gzip, 0) == 6);
  CHECK(*resolve_level(Codec::none, 0) == 0);
  for (Codec codec : {Codec::gzip, Codec::lz4, Codec::zstd}) {
    LevelRange r = level_range(codec);
    for (int level : {r.min, r.max}) {
      auto packed = compress_buffer("level test level test level test", codec, level);
      REQUIRE(packed);
      CHECK(*decompress_buffer(*packed, codec) == "level test level test level test");
    }
    auto bad = Compressor::create(codec, r.max + 1);
    REQUIRE_FALSE(bad);
    CHECK(bad.status().code() == ErrorCode::usage);
    CHECK_FALSE(Compressor::create(codec, -1));
  }
  CHECK_FALSE(Compressor::create(Codec::none, 3));
}

TEST_CASE("independent codec objects run concurrently on worker threads", "[common]") {
  std::vector<std::thread> workers;
  std::vector<int> ok(8, 0);
  for (int i = 0; i < 8; ++i) {
    workers.emplace_back([i, &ok] {
      Codec codec = kAll[i % 4];
      std::string data = random_bytes(2 * 1024 * 1024, static_cast<uint64_t>(i)) + compressible_bytes(1024 * 1024);
      auto packed = compress_buffer(data, codec);
      auto back = packed ? decompress_buffer(*packed, codec) : packed;
      ok[i] = back && *back == data;
    });
  }
  for (auto& w : workers) w.join();
  for (int i = 0; i < 8; ++i) CHECK(ok[i] == 1);
}

TEST_CASE("multi-threaded zstd writes one ordinary frame that any zstd reader decodes", "[common]") {
  std::string input = random_bytes(12 * 1024 * 1024, 11) + compressible_bytes(12 * 1024 * 1024);
  auto comp = Compressor::create(Codec::zstd, 3, 2);
  REQUIRE(comp);
  std::string out;
  Sink sink = [&](std::string_view piece) {
    out.append(piece);
    return Status::ok();
  };
  for (size_t pos = 0; pos < input.size(); pos += 1000003)
    REQUIRE(comp->update(std::string_view(input).substr(pos, 1000003), sink));
  REQUIRE(comp->finish(sink));
  CHECK(out.size() < input.size());
  auto back = decompress_buffer(out, Codec::zstd);
  REQUIRE(back);
  CHECK(*back == input);
}
