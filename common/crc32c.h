// CRC-32C (Castagnoli), the checksum of PostgreSQL's backup manifests, in
// software (slicing-by-8 tables built once). Streaming: feed any number of
// chunks. manifest_hex() renders a CRC as the manifest does: the four CRC
// bytes in host (little-endian) order, hex-encoded (pg-protocol.md §A.6).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cellar {

class Crc32c {
 public:
  void update(std::string_view data);
  uint32_t value() const { return ~state_; }

 private:
  uint32_t state_ = 0xFFFFFFFFu;
};

uint32_t crc32c(std::string_view data);
// "8 hex" as in a backup manifest's "Checksum" for CRC32C.
std::string crc32c_manifest_hex(uint32_t crc);

}  // namespace cellar
