// CRC-32C (Castagnoli), the checksum of PostgreSQL's backup manifests: with
// the CPU's crc32 instruction where it has one (x86-64 SSE 4.2, chosen once
// at run time, as PostgreSQL's pg_crc32c does), else in software
// (slicing-by-8 tables built once). Streaming: feed any number of chunks. manifest_hex() renders a CRC as the manifest
// does: the four CRC bytes in host (little-endian) order, hex-encoded (pg-protocol.md §A.6).
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

// The two implementations behind Crc32c::update, for tests: each takes and
// returns the running (not inverted) state. `hardware` is nothing where the
// CPU has no crc32 instruction.
namespace crc32c_impl {
uint32_t software(uint32_t state, std::string_view data);
bool hardware_available();
uint32_t hardware(uint32_t state, std::string_view data);  // only when hardware_available()
}  // namespace crc32c_impl
// "8 hex" as in a backup manifest's "Checksum" for CRC32C.
std::string crc32c_manifest_hex(uint32_t crc);

}  // namespace cellar
