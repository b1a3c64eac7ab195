// Compression codecs: one streaming interface over zstd (libzstd), lz4 frame
// format (liblz4), gzip (zlib with the gzip wrapper) and `none` (a copy).
// Compressor and Decompressor objects are independent (no globals), cheap to
// create, and fed in chunks of any size; output goes to a Sink in bounded
// pieces, so multi-GB files never sit in memory. Each object is used by one
// thread at a time; different objects may run on different threads.
// On top: one-shot buffer helpers, codec names, file suffixes (.zst .lz4
// .gz), magic-byte detection and level ranges. Files are not written here:
// codecs are stream filters on the storage layer (common/storage_filter.h).
// This module knows nothing about WAL or backups.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace cellar::codec {

enum class Codec { none, gzip, lz4, zstd };

// "none", "gzip", "lz4", "zstd": the config and xlog.db words.
const char* codec_name(Codec codec);
// Parses a config/xlog.db word; also accepts Barman's "None". Nothing otherwise.
std::optional<Codec> parse_codec(std::string_view word);
// "", ".gz", ".lz4", ".zst".
const char* codec_suffix(Codec codec);
// The codec a path's suffix denotes; Codec::none when it has no codec suffix.
Codec codec_of_suffix(std::string_view path);
// The codec whose magic bytes start `head` (zstd 28 B5 2F FD, lz4 frame
// 04 22 4D 18, gzip 1F 8B); Codec::none when none matches.
Codec detect_codec(std::string_view head);

struct LevelRange {
  int min;
  int max;
};
// Accepted levels: gzip 1-9, lz4 1-12 (3+ is lz4hc), zstd 1-19; none: 0-0.
LevelRange level_range(Codec codec);
// zstd 3, lz4 1 (fast), gzip 6, none 0.
int default_level(Codec codec);
// 0 means the default. Fails (usage) with the codec and range otherwise.
Result<int> resolve_level(Codec codec, int level);

// Receives output pieces (at most ~128 KiB each); an error stops the stream
// and is returned by the call that produced the piece.
using Sink = std::function<Status(std::string_view)>;

class Compressor {
 public:
  // level 0 = the codec's default; out of range → usage error. threads > 1
  // lets zstd compress one large input on several cores (same frame format;
  // other codecs ignore it).
  static Result<Compressor> create(Codec codec, int level = 0, unsigned threads = 1);
  Compressor(Compressor&&) noexcept;
  Compressor& operator=(Compressor&&) noexcept;
  ~Compressor();
  // Compresses `input`, passing whatever output is ready to `sink`.
  Status update(std::string_view input, const Sink& sink);
  // Ends the stream (frame trailer). The object is spent afterwards.
  Status finish(const Sink& sink);
  Codec codec() const;
  struct Impl;

 private:
  explicit Compressor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class Decompressor {
 public:
  // `checked_elsewhere`: the caller checks the output against a checksum of
  // its own (a manifest's CRC-32C), so the frame's content checksum (lz4's
  // XXH32, a third of the CPU lz4 decompression costs) is not verified.
  static Result<Decompressor> create(Codec codec, bool checked_elsewhere = false);
  Decompressor(Decompressor&&) noexcept;
  Decompressor& operator=(Decompressor&&) noexcept;
  ~Decompressor();
  // Fails (ErrorCode::failed) on corrupt input: "corrupt <codec> data: ...".
  Status update(std::string_view input, const Sink& sink);
  // Fails when the input stopped in the middle of a frame (truncated file).
  Status finish(const Sink& sink);
  Codec codec() const;
  struct Impl;

 private:
  explicit Decompressor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One-shot helpers.
Result<std::string> compress_buffer(std::string_view input, Codec codec, int level = 0);
Result<std::string> decompress_buffer(std::string_view input, Codec codec);

}  // namespace cellar::codec
