#include "common/codec.h"

#define ZLIB_CONST
#include <fcntl.h>
#include <lz4frame.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>

#include "common/fs.h"

namespace cellar::codec {

// The backends share these shapes; the public classes forward to them.
struct Compressor::Impl {
  explicit Impl(Codec c) : codec(c) {}
  virtual ~Impl() = default;
  virtual Status update(std::string_view input, const Sink& sink) = 0;
  virtual Status finish(const Sink& sink) = 0;
  Codec codec;
};

struct Decompressor::Impl {
  explicit Impl(Codec c) : codec(c) {}
  virtual ~Impl() = default;
  virtual Status update(std::string_view input, const Sink& sink) = 0;
  virtual Status finish(const Sink& sink) = 0;
  Codec codec;
};

namespace {

constexpr size_t kOutChunk = 128 * 1024;   // largest piece handed to a sink
constexpr size_t kLz4InChunk = 64 * 1024;  // lz4 output buffer is sized for this much input
constexpr size_t kReadChunk = 1024 * 1024;

Status corrupt(Codec codec, const std::string& why) {
  return Status::failed(std::string("corrupt ") + codec_name(codec) + " data: " + why);
}

Status truncated(Codec codec) {
  return Status::failed(std::string("truncated ") + codec_name(codec) + " data: the input ends inside a frame");
}

// Passes input through unchanged, in bounded pieces: the `none` codec.
Status pass_through(std::string_view input, const Sink& sink) {
  while (!input.empty()) {
    size_t n = std::min(input.size(), kOutChunk);
    if (Status st = sink(input.substr(0, n)); !st) return st;
    input.remove_prefix(n);
  }
  return Status::ok();
}

struct CopyCompressor final : Compressor::Impl {
  CopyCompressor() : Impl(Codec::none) {}
  Status update(std::string_view input, const Sink& sink) override { return pass_through(input, sink); }
  Status finish(const Sink&) override { return Status::ok(); }
  bool ready() const { return true; }
};

struct CopyDecompressor final : Decompressor::Impl {
  CopyDecompressor() : Impl(Codec::none) {}
  Status update(std::string_view input, const Sink& sink) override { return pass_through(input, sink); }
  Status finish(const Sink&) override { return Status::ok(); }
  bool ready() const { return true; }
};

// ---- zstd -----------------------------------------------------------------

struct ZstdCompressor final : Compressor::Impl {
  ZstdCompressor(int level, unsigned threads) : Impl(Codec::zstd), ctx(ZSTD_createCCtx()), buf(kOutChunk, '\0') {
    if (!ctx) return;
    ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(ctx, ZSTD_c_checksumFlag, 1);  // so corruption is detected, as lz4 and gzip do
    if (threads > 1) {
      // Multi-threaded zstd (a no-op on a single-threaded libzstd); small jobs
      // keep its buffers, and so peak memory, bounded.
      ZSTD_CCtx_setParameter(ctx, ZSTD_c_nbWorkers, static_cast<int>(threads));
      ZSTD_CCtx_setParameter(ctx, ZSTD_c_jobSize, 2 << 20);
    }
  }
  ~ZstdCompressor() override { ZSTD_freeCCtx(ctx); }
  Status update(std::string_view input, const Sink& sink) override { return run(input, ZSTD_e_continue, sink); }
  Status finish(const Sink& sink) override { return run({}, ZSTD_e_end, sink); }

  // ZSTD_e_continue: until the input is consumed; ZSTD_e_end: until the frame is closed.
  Status run(std::string_view input, ZSTD_EndDirective mode, const Sink& sink) {
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    for (;;) {
      ZSTD_outBuffer out{buf.data(), buf.size(), 0};
      size_t left = ZSTD_compressStream2(ctx, &out, &in, mode);
      if (ZSTD_isError(left)) return Status::failed(std::string("zstd compression failed: ") + ZSTD_getErrorName(left));
      if (out.pos > 0)
        if (Status st = sink({buf.data(), out.pos}); !st) return st;
      if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) return Status::ok();
    }
  }
  bool ready() const { return ctx != nullptr; }
  ZSTD_CCtx* ctx;
  std::string buf;
};

struct ZstdDecompressor final : Decompressor::Impl {
  ZstdDecompressor() : Impl(Codec::zstd), ctx(ZSTD_createDCtx()), buf(kOutChunk, '\0') {}
  ~ZstdDecompressor() override { ZSTD_freeDCtx(ctx); }
  Status update(std::string_view input, const Sink& sink) override {
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    bool output_full = false;
    // A full output buffer may leave decoded bytes inside zstd: go round again,
    // unless hint 0 said the frame is decoded and flushed.
    while (in.pos < in.size || (output_full && !frame_complete)) {
      ZSTD_outBuffer out{buf.data(), buf.size(), 0};
      size_t hint = ZSTD_decompressStream(ctx, &out, &in);
      if (ZSTD_isError(hint)) return corrupt(codec, ZSTD_getErrorName(hint));
      if (out.pos > 0)
        if (Status st = sink({buf.data(), out.pos}); !st) return st;
      frame_complete = hint == 0;
      output_full = out.pos == out.size;
    }
    return Status::ok();
  }
  Status finish(const Sink&) override { return frame_complete ? Status::ok() : truncated(codec); }
  bool ready() const { return ctx != nullptr; }
  ZSTD_DCtx* ctx;
  std::string buf;
  bool frame_complete = false;
};

// ---- lz4 frame --------------------------------------------------------------

struct Lz4Compressor final : Compressor::Impl {
  explicit Lz4Compressor(int level) : Impl(Codec::lz4) {
    prefs.compressionLevel = level;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    if (LZ4F_isError(LZ4F_createCompressionContext(&ctx, LZ4F_VERSION))) ctx = nullptr;
    buf.resize(std::max<size_t>(LZ4F_compressBound(kLz4InChunk, &prefs), LZ4F_HEADER_SIZE_MAX));
  }
  ~Lz4Compressor() override { LZ4F_freeCompressionContext(ctx); }
  Status check(size_t n, const Sink& sink) {
    if (LZ4F_isError(n)) return Status::failed(std::string("lz4 compression failed: ") + LZ4F_getErrorName(n));
    return n > 0 ? sink({buf.data(), n}) : Status::ok();
  }
  Status begin(const Sink& sink) {
    if (started) return Status::ok();
    started = true;
    return check(LZ4F_compressBegin(ctx, buf.data(), buf.size(), &prefs), sink);
  }
  Status update(std::string_view input, const Sink& sink) override {
    if (Status st = begin(sink); !st) return st;
    while (!input.empty()) {
      size_t n = std::min(input.size(), kLz4InChunk);
      if (Status st = check(LZ4F_compressUpdate(ctx, buf.data(), buf.size(), input.data(), n, nullptr), sink); !st)
        return st;
      input.remove_prefix(n);
    }
    return Status::ok();
  }
  Status finish(const Sink& sink) override {
    if (Status st = begin(sink); !st) return st;
    return check(LZ4F_compressEnd(ctx, buf.data(), buf.size(), nullptr), sink);
  }
  bool ready() const { return ctx != nullptr; }
  LZ4F_cctx* ctx = nullptr;
  LZ4F_preferences_t prefs{};
  std::string buf;
  bool started = false;
};

struct Lz4Decompressor final : Decompressor::Impl {
  explicit Lz4Decompressor(bool skip_checksums) : Impl(Codec::lz4), buf(kOutChunk, '\0') {
    if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) ctx = nullptr;
    options.skipChecksums = skip_checksums ? 1 : 0;
  }
  ~Lz4Decompressor() override { LZ4F_freeDecompressionContext(ctx); }
  Status update(std::string_view input, const Sink& sink) override {
    bool output_full = false;
    // hint 0 means the frame is decoded and flushed: nothing more to drain.
    while (!input.empty() || (output_full && !frame_complete)) {
      size_t out_size = buf.size(), in_size = input.size();
      size_t hint = LZ4F_decompress(ctx, buf.data(), &out_size, input.data(), &in_size, &options);
      if (LZ4F_isError(hint)) return corrupt(codec, LZ4F_getErrorName(hint));
      input.remove_prefix(in_size);
      if (out_size > 0)
        if (Status st = sink({buf.data(), out_size}); !st) return st;
      frame_complete = hint == 0;  // lz4 starts the next frame by itself
      output_full = out_size == buf.size();
    }
    return Status::ok();
  }
  Status finish(const Sink&) override { return frame_complete ? Status::ok() : truncated(codec); }
  bool ready() const { return ctx != nullptr; }
  LZ4F_dctx* ctx = nullptr;
  LZ4F_decompressOptions_t options{};
  std::string buf;
  bool frame_complete = false;
};

// ---- gzip (zlib with the gzip wrapper: windowBits 15 + 16) -------------------

constexpr size_t kZlibMaxIn = 1u << 30;  // avail_in is an unsigned int

struct GzipCompressor final : Compressor::Impl {
  explicit GzipCompressor(int level) : Impl(Codec::gzip), buf(kOutChunk, '\0') {
    ok = deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~GzipCompressor() override {
    if (ok) deflateEnd(&zs);
  }
  // Deflates what is in zs until the input is consumed (or, with Z_FINISH, the stream ends).
  Status pump(int flush, const Sink& sink) {
    for (;;) {
      zs.next_out = reinterpret_cast<Bytef*>(buf.data());
      zs.avail_out = static_cast<uInt>(buf.size());
      int ret = deflate(&zs, flush);
      if (ret == Z_STREAM_ERROR) return Status::failed("gzip compression failed");
      size_t produced = buf.size() - zs.avail_out;
      if (produced > 0)
        if (Status st = sink({buf.data(), produced}); !st) return st;
      if (flush == Z_FINISH ? ret == Z_STREAM_END : (zs.avail_in == 0 && zs.avail_out != 0)) return Status::ok();
    }
  }
  Status update(std::string_view input, const Sink& sink) override {
    while (!input.empty()) {
      size_t n = std::min(input.size(), kZlibMaxIn);
      zs.next_in = reinterpret_cast<const Bytef*>(input.data());
      zs.avail_in = static_cast<uInt>(n);
      if (Status st = pump(Z_NO_FLUSH, sink); !st) return st;
      input.remove_prefix(n);
    }
    return Status::ok();
  }
  Status finish(const Sink& sink) override {
    zs.next_in = nullptr;
    zs.avail_in = 0;
    return pump(Z_FINISH, sink);
  }
  bool ready() const { return ok; }
  z_stream zs{};
  std::string buf;
  bool ok = false;
};

struct GzipDecompressor final : Decompressor::Impl {
  GzipDecompressor() : Impl(Codec::gzip), buf(kOutChunk, '\0') { ok = inflateInit2(&zs, 15 + 16) == Z_OK; }
  ~GzipDecompressor() override {
    if (ok) inflateEnd(&zs);
  }
  // Inflates until the input in zs is consumed or a member ends.
  Status pump(const Sink& sink) {
    for (;;) {
      zs.next_out = reinterpret_cast<Bytef*>(buf.data());
      zs.avail_out = static_cast<uInt>(buf.size());
      int ret = inflate(&zs, Z_NO_FLUSH);
      if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
        return corrupt(codec, zs.msg ? zs.msg : "inflate error " + std::to_string(ret));
      size_t produced = buf.size() - zs.avail_out;
      if (produced > 0)
        if (Status st = sink({buf.data(), produced}); !st) return st;
      if (ret == Z_STREAM_END) {
        member_complete = true;
        return Status::ok();
      }
      if (zs.avail_out != 0) return Status::ok();  // input consumed, output drained
    }
  }
  Status update(std::string_view input, const Sink& sink) override {
    while (!input.empty()) {
      if (member_complete) {  // a further gzip member (as `cat a.gz b.gz`)
        inflateReset(&zs);
        member_complete = false;
      }
      size_t n = std::min(input.size(), kZlibMaxIn);
      zs.next_in = reinterpret_cast<const Bytef*>(input.data());
      zs.avail_in = static_cast<uInt>(n);
      if (Status st = pump(sink); !st) return st;
      size_t used = n - zs.avail_in;
      if (used == 0 && !member_complete) return corrupt(codec, "no progress");
      input.remove_prefix(used);
    }
    return Status::ok();
  }
  Status finish(const Sink&) override { return member_complete ? Status::ok() : truncated(codec); }
  bool ready() const { return ok; }
  z_stream zs{};
  std::string buf;
  bool ok = false;
  bool member_complete = false;
};

// Builds backend T; a library context that could not be allocated is an error.
template <typename Base, typename T, typename... Args>
Result<std::unique_ptr<Base>> make_backend(Args... args) {
  auto impl = std::make_unique<T>(args...);
  if (!impl->ready())
    return Status::failed(std::string("could not create a ") + codec_name(impl->codec) + " context: out of memory");
  return std::unique_ptr<Base>(std::move(impl));
}

}  // namespace

// ---- names, suffixes, magic, levels -------------------------------------------

const char* codec_name(Codec codec) {
  switch (codec) {
    case Codec::gzip:
      return "gzip";
    case Codec::lz4:
      return "lz4";
    case Codec::zstd:
      return "zstd";
    case Codec::none:
      break;
  }
  return "none";
}

std::optional<Codec> parse_codec(std::string_view word) {
  for (Codec c : {Codec::none, Codec::gzip, Codec::lz4, Codec::zstd})
    if (word == codec_name(c)) return c;
  if (word == "None") return Codec::none;
  return std::nullopt;
}

const char* codec_suffix(Codec codec) {
  switch (codec) {
    case Codec::gzip:
      return ".gz";
    case Codec::lz4:
      return ".lz4";
    case Codec::zstd:
      return ".zst";
    case Codec::none:
      break;
  }
  return "";
}

Codec codec_of_suffix(std::string_view path) {
  for (Codec c : {Codec::gzip, Codec::lz4, Codec::zstd}) {
    std::string_view suffix = codec_suffix(c);
    if (path.size() > suffix.size() && path.substr(path.size() - suffix.size()) == suffix) return c;
  }
  return Codec::none;
}

Codec detect_codec(std::string_view head) {
  auto starts = [&](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
  if (starts("\x28\xB5\x2F\xFD")) return Codec::zstd;
  if (starts("\x04\x22\x4D\x18")) return Codec::lz4;
  if (starts("\x1F\x8B")) return Codec::gzip;
  return Codec::none;
}

LevelRange level_range(Codec codec) {
  switch (codec) {
    case Codec::gzip:
      return {1, 9};
    case Codec::lz4:
      return {1, 12};
    case Codec::zstd:
      return {1, 19};
    case Codec::none:
      break;
  }
  return {0, 0};
}

int default_level(Codec codec) {
  switch (codec) {
    case Codec::gzip:
      return 6;
    case Codec::lz4:
      return 1;
    case Codec::zstd:
      return 3;
    case Codec::none:
      break;
  }
  return 0;
}

Result<int> resolve_level(Codec codec, int level) {
  if (level == 0) return default_level(codec);
  LevelRange r = level_range(codec);
  if (level < r.min || level > r.max)
    return Status::usage("invalid " + std::string(codec_name(codec)) + " compression level " + std::to_string(level),
                         codec == Codec::none
                             ? "compression \"none\" takes no level"
                             : "use a level from " + std::to_string(r.min) + " to " + std::to_string(r.max));
  return level;
}

// ---- Compressor / Decompressor -----------------------------------------------

Result<Compressor> Compressor::create(Codec codec, int level, unsigned threads) {
  auto resolved = resolve_level(codec, level);
  if (!resolved) return resolved.status();
  Result<std::unique_ptr<Impl>> impl = Status::failed("unknown codec");
  switch (codec) {
    case Codec::none:
      impl = make_backend<Impl, CopyCompressor>();
      break;
    case Codec::zstd:
      impl = make_backend<Impl, ZstdCompressor>(*resolved, threads);
      break;
    case Codec::lz4:
      impl = make_backend<Impl, Lz4Compressor>(*resolved);
      break;
    case Codec::gzip:
      impl = make_backend<Impl, GzipCompressor>(*resolved);
      break;
  }
  if (!impl) return impl.status();
  return Compressor(std::move(*impl));
}

Compressor::Compressor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Compressor::Compressor(Compressor&&) noexcept = default;
Compressor& Compressor::operator=(Compressor&&) noexcept = default;
Compressor::~Compressor() = default;
Status Compressor::update(std::string_view input, const Sink& sink) { return impl_->update(input, sink); }
Status Compressor::finish(const Sink& sink) { return impl_->finish(sink); }
Codec Compressor::codec() const { return impl_->codec; }

Result<Decompressor> Decompressor::create(Codec codec, bool checked_elsewhere) {
  Result<std::unique_ptr<Impl>> impl = Status::failed("unknown codec");
  switch (codec) {
    case Codec::none:
      impl = make_backend<Impl, CopyDecompressor>();
      break;
    case Codec::zstd:
      impl = make_backend<Impl, ZstdDecompressor>();
      break;
    case Codec::lz4:
      impl = make_backend<Impl, Lz4Decompressor>(checked_elsewhere);
      break;
    case Codec::gzip:
      impl = make_backend<Impl, GzipDecompressor>();
      break;
  }
  if (!impl) return impl.status();
  return Decompressor(std::move(*impl));
}

Decompressor::Decompressor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Decompressor::Decompressor(Decompressor&&) noexcept = default;
Decompressor& Decompressor::operator=(Decompressor&&) noexcept = default;
Decompressor::~Decompressor() = default;
Status Decompressor::update(std::string_view input, const Sink& sink) { return impl_->update(input, sink); }
Status Decompressor::finish(const Sink& sink) { return impl_->finish(sink); }
Codec Decompressor::codec() const { return impl_->codec; }

// ---- one-shot helpers -----------------------------------------------

Result<std::string> compress_buffer(std::string_view input, Codec codec, int level) {
  auto c = Compressor::create(codec, level);
  if (!c) return c.status();
  std::string out;
  Sink append = [&](std::string_view piece) {
    out.append(piece);
    return Status::ok();
  };
  if (Status st = c->update(input, append); !st) return st;
  if (Status st = c->finish(append); !st) return st;
  return out;
}

Result<std::string> decompress_buffer(std::string_view input, Codec codec) {
  auto d = Decompressor::create(codec);
  if (!d) return d.status();
  std::string out;
  Sink append = [&](std::string_view piece) {
    out.append(piece);
    return Status::ok();
  };
  if (Status st = d->update(input, append); !st) return st;
  if (Status st = d->finish(append); !st) return st;
  return out;
}

}  // namespace cellar::codec
