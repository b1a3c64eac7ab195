// Cryptography: the one adapter of OpenSSL's libcrypto (EVP). Digests for the
// backup manifest and for S3 (SHA-256, MD5 for Content-MD5), HMAC-SHA256 for
// SigV4 signing, random bytes, and AES-256-GCM for encryption at rest. Nothing
// here is hand-written cryptography; nothing here knows what it protects.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace cellar {

// Streaming SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  // The raw 32-byte digest; the object is spent afterwards.
  std::string digest();
  // Lowercase hex digest; the object is spent afterwards.
  std::string hex_digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Streaming MD5 (S3's Content-MD5 and ETag; not for security).
class Md5 {
 public:
  Md5();
  ~Md5();
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  void update(std::string_view data);
  std::string digest();  // raw 16 bytes; spent afterwards

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);
std::string sha256_raw(std::string_view data);
std::string md5_raw(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes

std::string to_hex(std::string_view raw);  // lowercase
std::string base64_encode(std::string_view raw);
Result<std::string> base64_decode(std::string_view text);

// `n` bytes from OpenSSL's CSPRNG; fails only when it is not seeded.
Result<std::string> random_bytes(size_t n);

// AES-256-GCM of one message: returns ciphertext || 16-byte tag. `key` is 32
// bytes, `nonce` 12 bytes; `aad` is authenticated, not encrypted.
Result<std::string> aes256gcm_seal(std::string_view key, std::string_view nonce, std::string_view aad,
                                   std::string_view plaintext);
// The inverse; fails (ErrorCode::failed, "authentication failed") when the
// tag does not match: a wrong key, or altered ciphertext, nonce or aad.
Result<std::string> aes256gcm_open(std::string_view key, std::string_view nonce, std::string_view aad,
                                   std::string_view sealed);

}  // namespace cellar
