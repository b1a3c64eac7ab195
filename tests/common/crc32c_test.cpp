// CRC-32C (common/crc32c.h): the check values of the standard (RFC 3720's
// iSCSI vectors), the same CRC from the CPU's crc32 instruction and from the
// software tables for every length and alignment around the 8-byte steps,
// and streaming in pieces.
#include "common/crc32c.h"

#include <catch2/catch.hpp>
#include <string>

using namespace cellar;

namespace {

uint32_t finish(uint32_t state) { return ~state; }

}  // namespace

TEST_CASE("CRC-32C gives the standard check values", "[common]") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(crc32c(std::string(32, '\xff')) == 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending += static_cast<char>(i);
  CHECK(crc32c(ascending) == 0x46DD794Eu);
  CHECK(crc32c("") == 0u);
  CHECK(crc32c_manifest_hex(0xE3069283u) == "839206e3");
}

TEST_CASE("CRC-32C in hardware and in software agree on every length and alignment", "[common]") {
  std::string data;
  for (int i = 0; i < 4096; ++i) data += static_cast<char>((i * 131 + 7) & 0xFF);
  for (size_t offset = 0; offset < 9; ++offset)
    for (size_t length : {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4000}) {
      INFO(offset << " " << length);
      std::string_view piece(data.data() + offset, length);
      uint32_t soft = finish(crc32c_impl::software(0xFFFFFFFFu, piece));
      CHECK(crc32c(piece) == soft);
      if (crc32c_impl::hardware_available()) CHECK(finish(crc32c_impl::hardware(0xFFFFFFFFu, piece)) == soft);
    }
}

TEST_CASE("CRC-32C in hardware runs three streams over long input and agrees with software", "[common]") {
  std::string data;
  for (int i = 0; i < 100000; ++i) data += static_cast<char>((i * 2654435761u) >> 13);
  for (size_t offset : {0, 3})
    for (size_t length : {24575, 24576, 24577, 49152 + 100, 99990}) {
      INFO(offset << " " << length);
      std::string_view piece(data.data() + offset, length);
      uint32_t soft = finish(crc32c_impl::software(0xFFFFFFFFu, piece));
      CHECK(crc32c(piece) == soft);
      if (crc32c_impl::hardware_available())
        CHECK(finish(crc32c_impl::hardware(0x12345678u ^ 0xFFFFFFFFu, piece)) ==
              finish(crc32c_impl::software(0x12345678u ^ 0xFFFFFFFFu, piece)));
    }
}

TEST_CASE("CRC-32C streamed in pieces equals the CRC of the whole", "[common]") {
  std::string data;
  for (int i = 0; i < 10000; ++i) data += static_cast<char>((i * 7919) >> 3);
  Crc32c c;
  for (size_t at = 0, step = 1; at < data.size(); at += step, step = step * 3 % 1021 + 1)
    c.update(std::string_view(data).substr(at, step));
  CHECK(c.value() == crc32c(data));
  CHECK(c.value() == finish(crc32c_impl::software(0xFFFFFFFFu, data)));
}
