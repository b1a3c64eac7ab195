#include "common/storage_filter.h"

#include <cstring>

namespace cellar::storage {

CompressWriter::CompressWriter(std::unique_ptr<Writer> inner, codec::Compressor compressor)
    : inner_(std::move(inner)), compressor_(std::move(compressor)) {
  sink_ = [this](std::string_view piece) { return inner_->write(piece); };
}

CompressWriter::~CompressWriter() = default;  // the inner writer abandons itself unless committed

Status CompressWriter::write(std::string_view data) {
  in_ += data.size();
  return compressor_.update(data, sink_);
}

Status CompressWriter::commit() {
  if (Status st = compressor_.finish(sink_); !st) {
    inner_->abandon();
    return st;
  }
  return inner_->commit();
}

void CompressWriter::abandon() { inner_->abandon(); }

DecompressReader::DecompressReader(std::unique_ptr<Reader> inner, codec::Decompressor decompressor, std::string name)
    : inner_(std::move(inner)), decompressor_(std::move(decompressor)), name_(std::move(name)) {}

// Feeds one chunk of the inner reader through the codec; at the inner end,
// finishes the frame (which fails on a truncated file).
Status DecompressReader::refill() {
  out_.clear();
  out_pos_ = 0;
  codec::Sink sink = [this](std::string_view piece) {
    out_.append(piece);
    return Status::ok();
  };
  char buf[128 * 1024];
  auto n = inner_->read(buf, sizeof buf);
  if (!n) return n.status();
  Status st = *n == 0 ? decompressor_.finish(sink) : decompressor_.update({buf, *n}, sink);
  if (*n == 0) ended_ = true;
  if (!st) return Status(st).prefix("could not decompress \"" + name_ + "\"");
  return Status::ok();
}

Result<size_t> DecompressReader::read(char* buf, size_t size) {
  while (out_pos_ == out_.size()) {
    if (ended_) return size_t{0};
    if (Status st = refill(); !st) return st;
  }
  size_t n = std::min(size, out_.size() - out_pos_);
  std::memcpy(buf, out_.data() + out_pos_, n);
  out_pos_ += n;
  return n;
}

Result<std::unique_ptr<CompressWriter>> open_compressed(Storage& storage, const std::string& path, codec::Codec codec,
                                                        int level, unsigned threads, const WriteOptions& options) {
  auto compressor = codec::Compressor::create(codec, level, threads);
  if (!compressor) return compressor.status();
  auto inner = storage.open_write(path, options);
  if (!inner) return inner.status();
  return std::make_unique<CompressWriter>(std::move(*inner), std::move(*compressor));
}

Result<std::unique_ptr<Reader>> open_decompressed(Storage& storage, const std::string& path, codec::Codec codec,
                                                  bool checked_elsewhere) {
  auto decompressor = codec::Decompressor::create(codec, checked_elsewhere);
  if (!decompressor) return decompressor.status();
  auto inner = storage.open_read(path);
  if (!inner) return inner.status();
  return std::unique_ptr<Reader>(
      std::make_unique<DecompressReader>(std::move(*inner), std::move(*decompressor), storage.describe(path)));
}

Result<uint64_t> drain_decompressed(Storage& storage, const std::string& path, codec::Codec codec,
                                    bool checked_elsewhere, const std::function<Status(std::string_view)>& consume) {
  auto decompressor = codec::Decompressor::create(codec, checked_elsewhere);
  if (!decompressor) return decompressor.status();
  auto inner = storage.open_read(path);
  if (!inner) return inner.status();
  uint64_t total = 0;
  Status consumed;  // a failure of `consume`, passed on as it is
  codec::Sink sink = [&](std::string_view piece) {
    total += piece.size();
    consumed = consume(piece);
    return consumed;
  };
  std::string buf(256 * 1024, '\0');
  for (;;) {
    auto n = (*inner)->read(buf.data(), buf.size());
    if (!n) return n.status();
    Status st = *n == 0 ? decompressor->finish(sink) : decompressor->update({buf.data(), *n}, sink);
    if (!consumed) return consumed;
    if (!st) return Status(st).prefix("could not decompress \"" + storage.describe(path) + "\"");
    if (*n == 0) return total;
  }
}

}  // namespace cellar::storage
