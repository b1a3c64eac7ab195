// Encryption at rest as stream filters on Storage (common/storage.h), beside
// the codec filters of common/storage_filter.h: a Writer that encrypts what it
// is given into another Writer, and a Reader that decrypts and authenticates
// what another Reader gives. Files are compressed first, then encrypted
// (CompressWriter over EncryptWriter over the driver's writer; reading,
// DecompressReader over DecryptReader over the driver's reader), because
// ciphertext does not compress.
//
// The key is 256 bits loaded from a local file (load_key_file) and is used
// only in this process: the driver, and so a bucket or a shared filesystem,
// sees ciphertext and a key id, a one-way fingerprint of the key that lets
// backup.info and xlog.db say which key encrypted a file without revealing it.
// The cryptography itself is common/crypto.h (OpenSSL); this module owns only
// the file format. Not here: which files are encrypted, and where the key file
// is configured.
//
// File format, version 1 (all integers big-endian):
//
//   offset  size  header (52 bytes)
//   0       7     magic "CELLARE" (43 45 4C 4C 41 52 45)
//   7       1     format version, 01
//   8       4     chunk size C: plaintext bytes in every chunk but the last;
//                 written as 65536, read when 1 <= C <= 16 MiB
//   12      8     key id: the first 8 bytes of SHA-256(K), K the 32-byte key
//   20      32    file salt S: random, fresh for every file
//   52            chunk 0, chunk 1, ..., chunk n
//
//   chunk i       AES-256-GCM(K_f, nonce_i, aad_i, P_i): the ciphertext,
//                 |P_i| bytes, then the 16-byte tag
//   P_i           the plaintext's bytes [i*C, i*C + |P_i|); every chunk but
//                 the last holds exactly C bytes, the last 0 to C-1 bytes and
//                 is always present (empty when the plaintext's length is a
//                 multiple of C, also when it is 0)
//   K_f           the file key, HKDF-Expand (RFC 5869, SHA-256) of PRK = K
//                 with info = "cellar-encrypt-v1 file key" || S, L = 32, i.e.
//                 HMAC-SHA256(K, "cellar-encrypt-v1 file key" || S || 01)
//   nonce_i       00 00 00 00 || i as 8 bytes
//   aad_i         the 52 header bytes || i as 8 bytes || 01 for the last
//                 chunk, 00 for any other
//
// A plaintext of L bytes takes 52 + L + 16 * (floor(L / C) + 1) bytes.
//
// Why so: every file has its own key, so the nonce can be the chunk counter
// and never repeats under a key (random 96-bit nonces under one key would
// near the birthday bound after about 2^32 chunks, 256 TiB, which a long-lived
// repository can reach). A reader asks for C + 16 bytes at a time: a full
// chunk is never the last one, a shorter one must be and ends the file. With
// the header, the index and the last-chunk flag in every chunk's AAD, a
// reader detects a file cut anywhere (a missing chunk, or a cut chunk read as
// the last one), bytes appended, chunks reordered or taken from another file,
// any altered byte of header, ciphertext or tag, and a key that is not the
// one the file was written with. It does not detect a whole file replaced by
// another complete file encrypted with the same key: the format does not bind
// the file's name, because hard links (Storage::link) give a file several;
// the backup manifest's checksums and xlog.db's sizes are the check for that.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/codec.h"
#include "common/status.h"
#include "common/storage.h"
#include "common/storage_filter.h"

namespace cellar::storage {

constexpr size_t kCryptHeaderSize = 52;
constexpr size_t kCryptChunkSize = 64 * 1024;  // C as written
constexpr size_t kCryptTagSize = 16;

// A 256-bit key. Its bytes are never printed or logged and have no accessor
// outside the two filters; fingerprint() is what may be shown or stored.
class EncryptionKey {
 public:
  // The key that 64 hexadecimal digits (either case) spell; nothing for
  // anything else.
  static std::optional<EncryptionKey> from_hex(std::string_view hex);
  // The key id: the first 8 bytes of SHA-256 of the key, as 16 lowercase hex
  // digits. Reveals nothing about the key.
  std::string fingerprint() const;

 private:
  friend class EncryptWriter;
  friend class DecryptReader;
  explicit EncryptionKey(std::string raw) : raw_(std::move(raw)) {}
  std::string id() const;                             // the 8 raw bytes of the key id
  std::string file_key(std::string_view salt) const;  // K_f of the format
  std::string raw_;                                   // 32 bytes
};

// The key in `path`: 64 hexadecimal digits and an optional newline, what
// `openssl rand -hex 32 > key` writes. Fails (ErrorCode::usage, the message
// naming the file, never its content) when the file cannot be opened, is not
// a regular file, is not owned by the effective user, has a mode wider than
// 0600, or holds anything else.
Result<EncryptionKey> load_key_file(const std::string& path);

// The stored size of a file whose writer was given `plaintext` bytes (see
// the format). Also what a CompressWriter over an EncryptWriter stores: the
// encrypted size of its stored().
uint64_t encrypted_size(uint64_t plaintext);
// The inverse, for listings: the plaintext size of a file stored in `stored`
// bytes (0 for anything shorter than an empty encrypted file).
uint64_t plaintext_size(uint64_t stored);

// Whether `head` (a file's first bytes, at least 7) starts like an encrypted file.
bool looks_encrypted(std::string_view head);

class EncryptWriter final : public Writer {
 public:
  EncryptWriter(std::unique_ptr<Writer> inner, const EncryptionKey& key);
  ~EncryptWriter() override;  // the inner writer abandons itself unless committed
  // Bytes in (plaintext). The header goes out with the first write or commit;
  // full chunks go out as soon as they are complete.
  Status write(std::string_view data) override;
  // Seals the last chunk, then commits the inner writer.
  Status commit() override;
  void abandon() override;
  uint64_t written() const override { return in_; }
  const std::string& path() const override { return inner_->path(); }
  // Bytes out (what the storage keeps): encrypted_size(written()) once committed.
  uint64_t stored() const { return inner_->written(); }

 private:
  Status start();
  Status seal(bool last);
  std::unique_ptr<Writer> inner_;
  EncryptionKey key_;
  std::string header_;    // empty until start()
  std::string file_key_;  // K_f
  std::string pending_;   // plaintext of the chunk being filled
  uint64_t chunk_ = 0;    // index of that chunk
  uint64_t in_ = 0;
};

class DecryptReader final : public Reader {
 public:
  // `name` is how a message names the file.
  DecryptReader(std::unique_ptr<Reader> inner, const EncryptionKey& key, std::string name);
  // Hands out only authenticated plaintext, chunk by chunk: a damaged file
  // may have given its intact first chunks before the read that fails
  // (ErrorCode::failed, "encrypted file \"NAME\" is corrupt, truncated or was
  // encrypted with another key (chunk N)"), so a caller must treat what it
  // read so far as unusable. Errors of the inner reader pass through.
  Result<size_t> read(char* buf, size_t size) override;

 private:
  Status start();
  Status open_chunk();
  Status corrupt() const;
  std::unique_ptr<Reader> inner_;
  EncryptionKey key_;
  std::string name_;
  std::string header_;  // empty until start()
  std::string file_key_;
  size_t chunk_size_ = 0;
  uint64_t chunk_ = 0;  // index of the next chunk to open
  std::string out_;     // plaintext of the last chunk opened, not yet handed out
  size_t out_pos_ = 0;
  bool ended_ = false;  // the last chunk is open
  Status failure_;      // sticky: a damaged file never reads on as if it were whole
};

// `path` written compressed through `codec` (Codec::none: not compressed),
// then encrypted with `key`; `level`, `threads` as open_compressed, whose
// usage error for a level out of range it shares. The returned writer's
// stored() counts the compressed bytes; the file takes encrypted_size() of them.
Result<std::unique_ptr<CompressWriter>> open_encrypted(Storage& storage, const std::string& path,
                                                       const EncryptionKey& key, codec::Codec codec, int level = 0,
                                                       unsigned threads = 1, const WriteOptions& options = {});
// `path` read back: decrypted with `key`, then decompressed through `codec`.
Result<std::unique_ptr<Reader>> open_decrypted(Storage& storage, const std::string& path, const EncryptionKey& key,
                                               codec::Codec codec);

}  // namespace cellar::storage
