// Codecs as stream filters on Storage (common/storage.h, common/codec.h): a
// Writer that compresses what it is given into another Writer, and a Reader
// that decompresses what another Reader gives. Neither touches a file itself,
// so every compressed file of the archive is still committed by its driver.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/codec.h"
#include "common/storage.h"

namespace cellar::storage {

class CompressWriter final : public Writer {
 public:
  CompressWriter(std::unique_ptr<Writer> inner, codec::Compressor compressor);
  ~CompressWriter() override;
  // Bytes in (before compression).
  Status write(std::string_view data) override;
  // Ends the codec's frame, then commits the inner writer.
  Status commit() override;
  void abandon() override;
  uint64_t written() const override { return in_; }
  const std::string& path() const override { return inner_->path(); }
  // Bytes out (what the storage keeps).
  uint64_t stored() const { return inner_->written(); }

 private:
  std::unique_ptr<Writer> inner_;
  codec::Compressor compressor_;
  codec::Sink sink_;
  uint64_t in_ = 0;
};

class DecompressReader final : public Reader {
 public:
  DecompressReader(std::unique_ptr<Reader> inner, codec::Decompressor decompressor, std::string name);
  // Fails with the file's name on corrupt or truncated input.
  Result<size_t> read(char* buf, size_t size) override;

 private:
  Status refill();
  std::unique_ptr<Reader> inner_;
  codec::Decompressor decompressor_;
  std::string name_;
  std::string out_;  // decompressed, not yet handed out
  size_t out_pos_ = 0;
  bool ended_ = false;
};

// `path` written through `codec` at `level` (0: its default); `threads` as
// codec::Compressor::create. A usage error for a level out of range.
Result<std::unique_ptr<CompressWriter>> open_compressed(Storage& storage, const std::string& path, codec::Codec codec,
                                                        int level = 0, unsigned threads = 1,
                                                        const WriteOptions& options = {});
// `path` read back through `codec` (`checked_elsewhere`: as
// codec::Decompressor::create).
Result<std::unique_ptr<Reader>> open_decompressed(Storage& storage, const std::string& path, codec::Codec codec,
                                                  bool checked_elsewhere = false);
// Every byte of `path` through `codec` to `consume`, in the pieces the codec
// hands out (without the copy a Reader makes); the number of bytes.
Result<uint64_t> drain_decompressed(Storage& storage, const std::string& path, codec::Codec codec,
                                    bool checked_elsewhere, const std::function<Status(std::string_view)>& consume);

}  // namespace cellar::storage
