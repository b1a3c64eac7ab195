#include "common/storage_crypt.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/crypto.h"
#include "common/fs.h"

namespace cellar::storage {
namespace {

constexpr std::string_view kMagic = "CELLARE";
constexpr char kVersion = 1;
constexpr size_t kSaltSize = 32;
constexpr uint64_t kMaxChunkSize = 16 << 20;
constexpr std::string_view kFileKeyInfo = "cellar-encrypt-v1 file key";
// 64 digits and a newline; one byte more is enough to know a file is too long.
constexpr size_t kKeyFileReadLimit = 66;

void put_be(std::string& out, uint64_t value, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}

uint64_t get_be(std::string_view in) {
  uint64_t value = 0;
  for (unsigned char c : in) value = value << 8 | c;
  return value;
}

std::string nonce_of(uint64_t chunk) {
  std::string nonce(4, '\0');
  put_be(nonce, chunk, 8);
  return nonce;
}

std::string aad_of(const std::string& header, uint64_t chunk, bool last) {
  std::string aad = header;
  put_be(aad, chunk, 8);
  aad += last ? '\1' : '\0';
  return aad;
}

// Up to `size` bytes, fewer only at the end: a reader may return short reads
// anywhere, and a chunk's length is what says whether it is the last.
Result<std::string> read_up_to(Reader& reader, size_t size) {
  std::string out(size, '\0');
  size_t got = 0;
  while (got < size) {
    auto n = reader.read(out.data() + got, size - got);
    if (!n) return n.status();
    if (*n == 0) break;
    got += *n;
  }
  out.resize(got);
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The checks of load_key_file on the opened file, so a rename cannot slip
// another file in between.
Status check_key_file(const std::string& path, const std::string& shown, const struct stat& sb) {
  if (!S_ISREG(sb.st_mode)) return Status::usage(shown + " must be a regular file");
  if (sb.st_uid != ::geteuid())
    return Status::usage(shown + " must be owned by the user running cellar")
        .with_detail("it is owned by uid " + std::to_string(sb.st_uid) + ", cellar runs as uid " +
                     std::to_string(::geteuid()));
  if ((sb.st_mode & 07777 & ~0600u) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(sb.st_mode & 07777));
    return Status::usage(shown + " must have mode 0600", "run 'chmod 600 " + path + "'")
        .with_detail(std::string("its mode is ") + mode);
  }
  return Status::ok();
}

// At most `limit` bytes of `fd`; fewer only at its end.
Result<std::string> read_prefix(int fd, size_t limit, const std::string& shown) {
  std::string text(limit, '\0');
  size_t got = 0;
  while (got < limit) {
    ssize_t n = ::read(fd, text.data() + got, limit - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::usage("could not read " + shown + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

}  // namespace

std::optional<EncryptionKey> EncryptionKey::from_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  std::string raw;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int high = hex_value(hex[i]);
    int low = hex_value(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    raw += static_cast<char>(high << 4 | low);
  }
  return EncryptionKey(std::move(raw));
}

std::string EncryptionKey::id() const { return sha256_raw(raw_).substr(0, 8); }

std::string EncryptionKey::fingerprint() const { return to_hex(id()); }

// HKDF-Expand of one block; the extract step is left out because the key is
// already uniformly random (RFC 5869 §3.3).
std::string EncryptionKey::file_key(std::string_view salt) const {
  std::string info(kFileKeyInfo);
  info += salt;
  info += '\1';
  return hmac_sha256(raw_, info);
}

Result<EncryptionKey> load_key_file(const std::string& path) {
  const std::string shown = "encryption key file \"" + path + "\"";
  // O_NONBLOCK: a FIFO in the key's place must fail the checks, not hang the open.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return Status::usage("could not open " + shown + ": " + std::strerror(errno));
  struct stat sb {};
  if (::fstat(fd.get(), &sb) != 0) return Status::usage("could not stat " + shown + ": " + std::strerror(errno));
  if (Status st = check_key_file(path, shown, sb); !st) return st;
  auto text = read_prefix(fd.get(), kKeyFileReadLimit, shown);
  if (!text) return text.status();
  if (text->ends_with('\n')) text->pop_back();
  if (auto key = EncryptionKey::from_hex(*text)) return std::move(*key);
  // Says what was expected and what is wrong, never what the file holds.
  return Status::usage(shown + " must hold a 256-bit key as 64 hexadecimal digits and an optional newline",
                       "'openssl rand -hex 32' prints a new key in this form")
      .with_detail(text->size() == 64 ? "it holds a character that is not a hexadecimal digit"
                                      : "it holds " + std::to_string(sb.st_size) + " bytes");
}

uint64_t encrypted_size(uint64_t plaintext) {
  return kCryptHeaderSize + plaintext + kCryptTagSize * (plaintext / kCryptChunkSize + 1);
}

uint64_t plaintext_size(uint64_t stored) {
  if (stored < kCryptHeaderSize + kCryptTagSize) return 0;
  // stored - header = q * (C + T) + r + T, with r < C the last chunk's size.
  uint64_t x = stored - kCryptHeaderSize;
  uint64_t q = x / (kCryptChunkSize + kCryptTagSize);
  return x - kCryptTagSize * (q + 1);
}

bool looks_encrypted(std::string_view head) { return head.starts_with(kMagic); }

EncryptWriter::EncryptWriter(std::unique_ptr<Writer> inner, const EncryptionKey& key)
    : inner_(std::move(inner)), key_(key) {}

EncryptWriter::~EncryptWriter() = default;

// The header and the file key, once: the salt is drawn when the first bytes go out.
Status EncryptWriter::start() {
  if (!header_.empty()) return Status::ok();
  auto salt = random_bytes(kSaltSize);
  if (!salt) return Status(salt.status()).prefix("could not encrypt \"" + path() + "\"");
  header_ = kMagic;
  header_ += kVersion;
  put_be(header_, kCryptChunkSize, 4);
  header_ += key_.id();
  header_ += *salt;
  file_key_ = key_.file_key(*salt);
  pending_.reserve(kCryptChunkSize);
  return inner_->write(header_);
}

Status EncryptWriter::write(std::string_view data) {
  if (Status st = start(); !st) return st;
  in_ += data.size();
  while (!data.empty()) {
    size_t take = std::min(data.size(), kCryptChunkSize - pending_.size());
    pending_.append(data.substr(0, take));
    data.remove_prefix(take);
    // A full chunk is never the last one (that one is shorter), so it can go now.
    if (pending_.size() == kCryptChunkSize)
      if (Status st = seal(false); !st) return st;
  }
  return Status::ok();
}

Status EncryptWriter::seal(bool last) {
  auto sealed = aes256gcm_seal(file_key_, nonce_of(chunk_), aad_of(header_, chunk_, last), pending_);
  if (!sealed) return Status(sealed.status()).prefix("could not encrypt \"" + path() + "\"");
  pending_.clear();
  ++chunk_;
  return inner_->write(*sealed);
}

Status EncryptWriter::commit() {
  Status st = start();
  if (st) st = seal(true);
  if (!st) {
    inner_->abandon();
    return st;
  }
  return inner_->commit();
}

void EncryptWriter::abandon() { inner_->abandon(); }

DecryptReader::DecryptReader(std::unique_ptr<Reader> inner, const EncryptionKey& key, std::string name)
    : inner_(std::move(inner)), key_(key), name_(std::move(name)) {}

Status DecryptReader::corrupt() const {
  const std::string where = " (chunk " + std::to_string(chunk_) + ")";
  return Status::failed("encrypted file \"" + name_ + "\" is corrupt, truncated or was encrypted with another key" +
                        where);
}

// Reads and parses the header. It is not trusted yet: every chunk's tag
// authenticates it, chunk 0's first. A key id that differs is reported as
// such, since a rotated key is the likely reason.
Status DecryptReader::start() {
  auto header = read_up_to(*inner_, kCryptHeaderSize);
  if (!header) return header.status();
  std::string_view h = *header;
  if (h.size() < kCryptHeaderSize || !h.starts_with(kMagic) || h[7] != kVersion) return corrupt();
  uint64_t chunk_size = get_be(h.substr(8, 4));
  if (chunk_size == 0 || chunk_size > kMaxChunkSize) return corrupt();
  if (h.substr(12, 8) != key_.id())
    return corrupt().with_detail("it was encrypted with key " + to_hex(h.substr(12, 8)) + ", this key is " +
                                 key_.fingerprint());
  chunk_size_ = static_cast<size_t>(chunk_size);
  file_key_ = key_.file_key(h.substr(20));
  header_ = std::move(*header);
  return Status::ok();
}

Status DecryptReader::open_chunk() {
  if (header_.empty())
    if (Status st = start(); !st) return st;
  auto sealed = read_up_to(*inner_, chunk_size_ + kCryptTagSize);
  if (!sealed) return sealed.status();
  bool last = sealed->size() < chunk_size_ + kCryptTagSize;
  auto plain = aes256gcm_open(file_key_, nonce_of(chunk_), aad_of(header_, chunk_, last), *sealed);
  if (!plain) return corrupt();
  out_ = std::move(*plain);
  out_pos_ = 0;
  ended_ = last;
  ++chunk_;
  return Status::ok();
}

Result<size_t> DecryptReader::read(char* buf, size_t size) {
  if (!failure_.is_ok()) return failure_;
  while (out_pos_ == out_.size()) {
    if (ended_) return size_t{0};
    if (Status st = open_chunk(); !st) {
      failure_ = st;
      return st;
    }
  }
  size_t n = std::min(size, out_.size() - out_pos_);
  std::memcpy(buf, out_.data() + out_pos_, n);
  out_pos_ += n;
  return n;
}

Result<std::unique_ptr<CompressWriter>> open_encrypted(Storage& storage, const std::string& path,
                                                       const EncryptionKey& key, codec::Codec codec, int level,
                                                       unsigned threads, const WriteOptions& options) {
  auto compressor = codec::Compressor::create(codec, level, threads);
  if (!compressor) return compressor.status();
  auto inner = storage.open_write(path, options);
  if (!inner) return inner.status();
  auto encrypted = std::make_unique<EncryptWriter>(std::move(*inner), key);
  return std::make_unique<CompressWriter>(std::move(encrypted), std::move(*compressor));
}

Result<std::unique_ptr<Reader>> open_decrypted(Storage& storage, const std::string& path, const EncryptionKey& key,
                                               codec::Codec codec) {
  auto decompressor = codec::Decompressor::create(codec);
  if (!decompressor) return decompressor.status();
  auto inner = storage.open_read(path);
  if (!inner) return inner.status();
  const std::string name = storage.describe(path);
  auto decrypted = std::make_unique<DecryptReader>(std::move(*inner), key, name);
  if (codec == codec::Codec::none) return std::unique_ptr<Reader>(std::move(decrypted));
  return std::unique_ptr<Reader>(
      std::make_unique<DecompressReader>(std::move(decrypted), std::move(*decompressor), name));
}

}  // namespace cellar::storage
