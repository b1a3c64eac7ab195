// Encryption at rest (common/storage_crypt.h) through the posix driver: round
// trips around the chunk boundary, alone and under zstd; every kind of damage
// the format promises to detect (cuts, a dropped last chunk, swapped chunks,
// any flipped byte, another key); fresh salts; and the key file's checks.
#include "common/storage_crypt.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/fs.h"
#include "common/storage_posix.h"
#include "support/run.h"

using namespace cellar;
using Catch::Matchers::Contains;
using cellar::test::TempDir;

namespace {

constexpr size_t C = storage::kCryptChunkSize;
constexpr size_t kStoredChunk = C + storage::kCryptTagSize;
constexpr size_t kHeader = storage::kCryptHeaderSize;
const std::string kHexA = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kHexB = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f";

storage::EncryptionKey key_of(const std::string& hex) {
  auto key = storage::EncryptionKey::from_hex(hex);
  REQUIRE(key);
  return *key;
}

std::string noise(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

// Writes `data` encrypted as `path`, in pieces that do not line up with chunks.
uint64_t write_encrypted(storage::Storage& repo, const std::string& path, const std::string& data,
                         const storage::EncryptionKey& key) {
  auto inner = repo.open_write(path);
  REQUIRE(inner);
  storage::EncryptWriter w(std::move(*inner), key);
  for (size_t at = 0; at < data.size(); at += 10007) REQUIRE(w.write(std::string_view(data).substr(at, 10007)));
  REQUIRE(w.commit());
  CHECK(w.written() == data.size());
  return w.stored();
}

// Everything `reader` gives, through a buffer smaller than a chunk.
Result<std::string> read_all(storage::Reader& reader) {
  std::string out;
  char buf[5000];
  for (;;) {
    auto n = reader.read(buf, sizeof buf);
    if (!n) return n.status();
    if (*n == 0) return out;
    out.append(buf, *n);
  }
}

Result<std::string> read_decrypted(storage::Storage& repo, const std::string& path, const storage::EncryptionKey& key) {
  auto reader = storage::open_decrypted(repo, path, key, codec::Codec::none);
  REQUIRE(reader);
  return read_all(**reader);
}

std::string corrupt_message(const std::string& file, uint64_t chunk) {
  return "encrypted file \"" + file + "\" is corrupt, truncated or was encrypted with another key (chunk " +
         std::to_string(chunk) + ")";
}

// `path` must fail to decrypt, naming the file and chunk `chunk`.
void require_detected(storage::Storage& repo, const TempDir& dir, const std::string& path,
                      const storage::EncryptionKey& key, uint64_t chunk) {
  auto back = read_decrypted(repo, path, key);
  REQUIRE_FALSE(back);
  CHECK(back.status().code() == ErrorCode::failed);
  CHECK(back.status().message() == corrupt_message(dir / path, chunk));
}

std::string key_file(const TempDir& dir, const std::string& content, mode_t mode) {
  const std::string path = dir / "key";
  test::write_text(path, content);
  REQUIRE(::chmod(path.c_str(), mode) == 0);
  return path;
}

// The refusal of `path`: a usage error whose whole text never shows `secret`.
Status refused(const std::string& path, const std::string& secret = {}) {
  auto key = storage::load_key_file(path);
  REQUIRE_FALSE(key);
  CHECK(key.status().code() == ErrorCode::usage);
  if (!secret.empty()) CHECK_THAT(key.status().to_string(), !Contains(secret));
  return key.status();
}

}  // namespace

TEST_CASE("encrypted files round-trip at every size around the chunk boundary", "[common]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  const auto key = key_of(kHexA);
  for (size_t size : {size_t{0}, size_t{1}, C - 1, C, C + 1, 3 * C + 12345}) {
    INFO("size " << size);
    const std::string data = noise(size, static_cast<unsigned>(size));
    const std::string path = "f" + std::to_string(size);
    uint64_t stored = write_encrypted(*repo, path, data, key);
    CHECK(stored == storage::encrypted_size(size));
    CHECK(storage::plaintext_size(stored) == size);
    CHECK(test::read_text(dir / path).size() == stored);
    if (size >= 16) CHECK(test::read_text(dir / path).find(data.substr(0, 16)) == std::string::npos);
    auto back = read_decrypted(*repo, path, key);
    REQUIRE(back);
    CHECK(*back == data);
  }
  CHECK(storage::encrypted_size(0) == kHeader + 16);
  CHECK(storage::encrypted_size(C) == kHeader + C + 2 * 16);
}

TEST_CASE("compressed then encrypted files round-trip and are stored compressed", "[common]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  const auto key = key_of(kHexA);
  const std::string data = noise(300000, 7) + std::string(2 << 20, 'a');
  auto w = storage::open_encrypted(*repo, "seg.zst", key, codec::Codec::zstd);
  REQUIRE(w);
  for (size_t at = 0; at < data.size(); at += 70000) REQUIRE((*w)->write(std::string_view(data).substr(at, 70000)));
  REQUIRE((*w)->commit());
  const std::string raw = test::read_text(dir / "seg.zst");
  CHECK(raw.size() == storage::encrypted_size((*w)->stored()));
  CHECK(raw.size() < data.size() / 4);
  CHECK(storage::looks_encrypted(raw));
  CHECK(codec::detect_codec(raw.substr(0, 8)) == codec::Codec::none);
  auto r = storage::open_decrypted(*repo, "seg.zst", key, codec::Codec::zstd);
  REQUIRE(r);
  auto back = read_all(**r);
  REQUIRE(back);
  CHECK(*back == data);
}

TEST_CASE("a file cut at a chunk boundary or inside a chunk is detected", "[common]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  const auto key = key_of(kHexA);
  write_encrypted(*repo, "f", noise(3 * C + 100, 1), key);
  const std::string whole = test::read_text(dir / "f");
  const std::vector<std::pair<size_t, uint64_t>> cuts = {
      {0, 0},                                // nothing left
      {20, 0},                               // inside the header
      {kHeader, 0},                          // the header alone
      {kHeader + kStoredChunk + 1000, 1},    // inside a full chunk
      {kHeader + 2 * kStoredChunk, 2},       // at a chunk boundary
      {kHeader + 3 * kStoredChunk + 50, 3},  // inside the last chunk's ciphertext
      {whole.size() - 1, 3},                 // one byte of the last tag missing
  };
  for (auto [length, chunk] : cuts) {
    INFO("cut to " << length << " bytes");
    test::write_text(dir / "f", whole.substr(0, length));
    require_detected(*repo, dir, "f", key, chunk);
  }
}

TEST_CASE("a file without its last chunk is detected, also when that chunk is empty", "[common]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  const auto key = key_of(kHexA);
  SECTION("an empty last chunk, the plaintext a multiple of the chunk size") {
    write_encrypted(*repo, "f", noise(2 * C, 2), key);
    const std::string whole = test::read_text(dir / "f");
    REQUIRE(whole.size() == kHeader + 2 * kStoredChunk + 16);
    test::write_text(dir / "f", whole.substr(0, whole.size() - 16));
    require_detected(*repo, dir, "f", key, 2);
  }
  SECTION("a short last chunk") {
    write_encrypted(*repo, "f", noise(2 * C + 100, 2), key);
    const std::string whole = test::read_text(dir / "f");
    test::write_text(dir / "f", whole.substr(0, kHeader + 2 * kStoredChunk));
    require_detected(*repo, dir, "f", key, 2);
  }
}

TEST_CASE("chunks swapped within a file or taken from another file are detected", "[common]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  const auto key = key_of(kHexA);
  const std::string data = noise(3 * C + 10, 3);
  write_encrypted(*repo, "a", data, key);
  write_encrypted(*repo, "b", data, key);  // the same plaintext and key: only the salt differs
  const std::string a = test::read_text(dir / "a");
  const std::string b = test::read_text(dir / "b");
  auto chunk_of = [](const std::string& file, size_t i) {
    return file.substr(kHeader + i * kStoredChunk, kStoredChunk);
  };
  SECTION("the first two chunks of a file swapped") {
    test::write_text(dir / "a",
                     a.substr(0, kHeader) + chunk_of(a, 1) + chunk_of(a, 0) + a.substr(kHeader + 2 * kStoredChunk));
    require_detected(*repo, dir, "a", key, 0);
  }
  SECTION("a chunk of another file in the same place") {
    std::string mixed = a;
    mixed.replace(kHeader + kStoredChunk, kStoredChunk, chunk_of(b, 1));
    test::write_text(dir / "a", mixed);
    require_detected(*repo, dir, "a", key, 1);
  }
  SECTION("another file's header on this file's chunks") {
    test::write_text(dir / "a", b.substr(0, kHeader) + a.substr(kHeader));
    require_detected(*repo, dir, "a", key, 0);
  }
}

TEST_CASE("one flipped byte in the header, a ciphertext or a tag is detected in its chunk", "[common]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  const auto key = key_of(kHexA);
  write_encrypted(*repo, "f", noise(2 * C + 500, 4), key);
  const std::string whole = test::read_text(dir / "f");
  std::vector<size_t> positions;
  for (size_t at = 0; at < kHeader; ++at) positions.push_back(at);  // magic, version, chunk size, key id, salt
  for (size_t chunk = 0; chunk < 3; ++chunk) {
    size_t start = kHeader + chunk * kStoredChunk;
    size_t length = chunk < 2 ? kStoredChunk : 500 + 16;
    for (size_t at : {size_t{0}, length / 2, length - 17, length - 16, length - 1}) positions.push_back(start + at);
  }
  for (size_t at : positions) {
    INFO("byte " << at);
    std::string damaged = whole;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x01);
    test::write_text(dir / "f", damaged);
    require_detected(*repo, dir, "f", key, at < kHeader ? 0 : (at - kHeader) / kStoredChunk);
  }
}

TEST_CASE("a file encrypted with one key does not read with another", "[common]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  const auto a = key_of(kHexA);
  const auto b = key_of(kHexB);
  write_encrypted(*repo, "f", noise(C + 5, 5), a);
  auto back = read_decrypted(*repo, "f", b);
  REQUIRE_FALSE(back);
  CHECK(back.status().message() == corrupt_message(dir / "f", 0));
  CHECK(back.status().detail() == "it was encrypted with key " + a.fingerprint() + ", this key is " + b.fingerprint());
  SECTION("also when the header is altered to name the other key") {
    write_encrypted(*repo, "g", "", b);
    std::string forged = test::read_text(dir / "f");
    forged.replace(12, 8, test::read_text(dir / "g").substr(12, 8));
    test::write_text(dir / "f", forged);
    require_detected(*repo, dir, "f", b, 0);
  }
}

TEST_CASE("two encryptions of the same plaintext share no ciphertext", "[common]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  const auto key = key_of(kHexA);
  const std::string data(C + 100, 'x');
  write_encrypted(*repo, "one", data, key);
  write_encrypted(*repo, "two", data, key);
  const std::string one = test::read_text(dir / "one");
  const std::string two = test::read_text(dir / "two");
  REQUIRE(one.size() == two.size());
  CHECK(one.substr(0, 20) == two.substr(0, 20));  // magic, version, chunk size, key id
  CHECK(one.substr(20, 32) != two.substr(20, 32));
  CHECK(one.substr(kHeader, 64) != two.substr(kHeader, 64));
  CHECK(one.substr(kHeader + kStoredChunk) != two.substr(kHeader + kStoredChunk));
}

TEST_CASE("the key id is the start of the key's sha-256 and is what the header names", "[common]") {
  TempDir dir;
  auto repo = storage::make_posix(dir.path());
  const auto key = key_of(kHexA);
  std::string raw;
  for (int i = 0; i < 32; ++i) raw += static_cast<char>(i);
  CHECK(key.fingerprint() == sha256_hex(raw).substr(0, 16));
  CHECK(key_of(kHexB).fingerprint() != key.fingerprint());
  write_encrypted(*repo, "f", "x", key);
  CHECK(to_hex(test::read_text(dir / "f").substr(12, 8)) == key.fingerprint());
  CHECK(storage::EncryptionKey::from_hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
            ->fingerprint() == key.fingerprint());
  for (const std::string& bad : {kHexA.substr(1), kHexA + "0", kHexA.substr(0, 63) + "g", std::string()}) {
    CHECK_FALSE(storage::EncryptionKey::from_hex(bad));
  }
}

TEST_CASE("a key file of 64 hex digits with mode 0600 or 0400 loads, with or without a newline", "[common]") {
  TempDir dir;
  const auto expected = key_of(kHexB).fingerprint();
  for (auto [content, mode] : {std::pair{kHexB + "\n", mode_t{0600}}, std::pair{kHexB, mode_t{0400}}}) {
    auto key = storage::load_key_file(key_file(dir, content, mode));
    REQUIRE(key);
    CHECK(key->fingerprint() == expected);
  }
}

TEST_CASE("a key file with a wider mode, another owner or the wrong type is refused", "[common]") {
  TempDir dir;
  for (mode_t mode : {mode_t{0644}, mode_t{0640}, mode_t{0700}, mode_t{0604}}) {
    INFO("mode " << mode);
    const std::string path = key_file(dir, kHexA + "\n", mode);
    Status st = refused(path, kHexA.substr(0, 8));
    CHECK(st.message() == "encryption key file \"" + path + "\" must have mode 0600");
    CHECK(st.hint() == "run 'chmod 600 " + path + "'");
  }
  REQUIRE(make_dirs(dir / "keydir"));
  CHECK(refused(dir / "keydir").message() == "encryption key file \"" + dir / "keydir" + "\" must be a regular file");
  CHECK_THAT(refused(dir / "missing").message(), Contains("could not open encryption key file"));
  // Another user's file: a chown when running as root, else a file root owns.
  std::string foreign = "/etc/passwd";
  if (::geteuid() == 0) {
    foreign = key_file(dir, kHexA, 0600);
    REQUIRE(::chown(foreign.c_str(), 65534, 65534) == 0);
  }
  CHECK_THAT(refused(foreign, kHexA.substr(0, 8)).message(), Contains("must be owned by the user running cellar"));
}

TEST_CASE("a key file that holds anything but 64 hex digits is refused without echoing it", "[common]") {
  TempDir dir;
  const std::string secret = "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e7";  // 66 digits
  const std::vector<std::pair<std::string, std::string>> cases = {
      {secret.substr(0, 63) + "\n", "it holds 64 bytes"},
      {secret.substr(0, 65), "it holds 65 bytes"},
      {secret.substr(0, 64) + "\n\n", "it holds 66 bytes"},
      {secret.substr(0, 63) + "z\n", "it holds a character that is not a hexadecimal digit"},
      {noise(32, 9), "it holds 32 bytes"},  // `openssl rand 32`: raw bytes
      {base64_encode(noise(32, 9)) + "\n", "it holds 45 bytes"},
      {std::string(), "it holds 0 bytes"},
      {secret + secret + secret, "it holds 198 bytes"},
  };
  for (const auto& [content, detail] : cases) {
    INFO(detail);
    const std::string path = key_file(dir, content, 0600);
    Status st = refused(path, content.substr(0, 8));
    CHECK(st.message() == "encryption key file \"" + path +
                              "\" must hold a 256-bit key as 64 hexadecimal digits and an optional newline");
    CHECK(st.detail() == detail);
  }
}
