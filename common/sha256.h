// SHA-256 (FIPS 180-4), streaming, for the backup manifest's
// "Manifest-Checksum". Small and dependency-free (no OpenSSL in the tree).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cellar {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  // Lowercase hex digest; the object is spent afterwards.
  std::string hex_digest();

 private:
  void block(const unsigned char* p);
  std::array<uint32_t, 8> h_;
  unsigned char buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view data);

}  // namespace cellar
