#include "common/crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>

namespace cellar {
namespace {

// One EVP digest context of `md`; the two digest classes share it.
struct DigestCtx {
  explicit DigestCtx(const EVP_MD* md) : ctx(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx, md, nullptr); }
  ~DigestCtx() { EVP_MD_CTX_free(ctx); }
  void update(std::string_view data) { EVP_DigestUpdate(ctx, data.data(), data.size()); }
  std::string final() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx, out, &len);
    return std::string(reinterpret_cast<char*>(out), len);
  }
  EVP_MD_CTX* ctx;
};

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

struct CipherCtx {
  CipherCtx() : ctx(EVP_CIPHER_CTX_new()) {}
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
  EVP_CIPHER_CTX* ctx;
};

constexpr size_t kTagSize = 16;

Status check_gcm_inputs(std::string_view key, std::string_view nonce) {
  if (key.size() != 32) return Status::failed("aes-256-gcm key must be 32 bytes, not " + std::to_string(key.size()));
  if (nonce.size() != 12) return Status::failed("aes-256-gcm nonce must be 12 bytes");
  return Status::ok();
}

}  // namespace

struct Sha256::Impl : DigestCtx {
  Impl() : DigestCtx(EVP_sha256()) {}
};
Sha256::Sha256() : impl_(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;
void Sha256::update(std::string_view data) { impl_->update(data); }
std::string Sha256::digest() { return impl_->final(); }
std::string Sha256::hex_digest() { return to_hex(digest()); }

struct Md5::Impl : DigestCtx {
  Impl() : DigestCtx(EVP_md5()) {}
};
Md5::Md5() : impl_(std::make_unique<Impl>()) {}
Md5::~Md5() = default;
void Md5::update(std::string_view data) { impl_->update(data); }
std::string Md5::digest() { return impl_->final(); }

std::string sha256_raw(std::string_view data) {
  Sha256 s;
  s.update(data);
  return s.digest();
}
std::string sha256_hex(std::string_view data) { return to_hex(sha256_raw(data)); }
std::string md5_raw(std::string_view data) {
  Md5 m;
  m.update(data);
  return m.digest();
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes(data), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string to_hex(std::string_view raw) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string base64_encode(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes(raw), static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return Status::failed("invalid base64: length is not a multiple of 4");
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes(text), static_cast<int>(text.size()));
  if (n < 0) return Status::failed("invalid base64");
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = (text.size() >= 2 && text[text.size() - 2] == '=') ? 2 : 1;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

Result<std::string> random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    return Status::failed("cannot get random bytes from OpenSSL");
  return out;
}

Result<std::string> aes256gcm_seal(std::string_view key, std::string_view nonce, std::string_view aad,
                                   std::string_view plaintext) {
  if (auto st = check_gcm_inputs(key, nonce); !st) return st;
  CipherCtx c;
  std::string out(plaintext.size() + kTagSize, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  bool ok = EVP_EncryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, bytes(key), bytes(nonce)) == 1 &&
            EVP_EncryptUpdate(c.ctx, nullptr, &len, bytes(aad), static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(c.ctx, o, &len, bytes(plaintext), static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(c.ctx, o + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, o + plaintext.size()) == 1;
  if (!ok) return Status::failed("aes-256-gcm encryption failed in OpenSSL");
  return out;
}

Result<std::string> aes256gcm_open(std::string_view key, std::string_view nonce, std::string_view aad,
                                   std::string_view sealed) {
  if (auto st = check_gcm_inputs(key, nonce); !st) return st;
  if (sealed.size() < kTagSize) return Status::failed("authentication failed: encrypted chunk is truncated");
  size_t n = sealed.size() - kTagSize;
  CipherCtx c;
  std::string out(n, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  unsigned char tag[kTagSize];
  std::memcpy(tag, sealed.data() + n, kTagSize);
  int len = 0;
  bool ok = EVP_DecryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, bytes(key), bytes(nonce)) == 1 &&
            EVP_DecryptUpdate(c.ctx, nullptr, &len, bytes(aad), static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(c.ctx, o, &len, bytes(sealed), static_cast<int>(n)) == 1 &&
            EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, tag) == 1;
  if (!ok) return Status::failed("aes-256-gcm decryption failed in OpenSSL");
  if (EVP_DecryptFinal_ex(c.ctx, o + len, &len) != 1) return Status::failed("authentication failed");
  return out;
}

}  // namespace cellar
