#include "common/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace cellar {
namespace {

using Tables = std::array<std::array<uint32_t, 256>, 8>;

Tables make_tables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  return t;
}

const Tables& tables() {
  static const Tables t = make_tables();
  return t;
}

}  // namespace

namespace crc32c_impl {

uint32_t software(uint32_t state, std::string_view data) {
  const Tables& t = tables();
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  uint32_t c = state;
  // Slicing-by-8: eight table lookups per 8 input bytes.
  while (n >= 8) {
    uint32_t lo = c ^ (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24);
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][p[4]] ^ t[2][p[5]] ^
        t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFF];
  return c;
}

#if defined(__x86_64__)
bool hardware_available() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}

// The crc32 instruction takes three cycles and can start one every cycle:
// three streams of kStream bytes are run side by side, then joined. Joining
// needs the register after kStream zero bytes, a linear map of the register,
// kept as four tables (one per byte of the register).
constexpr size_t kStream = 8192;

using ShiftTables = std::array<std::array<uint32_t, 256>, 4>;

__attribute__((target("sse4.2"))) uint32_t after_zeros(uint32_t c, size_t n) {
  uint64_t x = c;
  for (size_t i = 0; i < n; i += 8) x = _mm_crc32_u64(x, 0);
  return static_cast<uint32_t>(x);
}

const ShiftTables& stream_shift() {
  static const ShiftTables t = [] {
    uint32_t basis[32];
    for (int j = 0; j < 32; ++j) basis[j] = after_zeros(1u << j, kStream);
    ShiftTables out{};
    for (int k = 0; k < 4; ++k)
      for (uint32_t b = 0; b < 256; ++b)
        for (int bit = 0; bit < 8; ++bit)
          if (b >> bit & 1) out[k][b] ^= basis[8 * k + bit];
    return out;
  }();
  return t;
}

uint32_t shift_stream(const ShiftTables& t, uint32_t c) {
  return t[0][c & 0xFF] ^ t[1][(c >> 8) & 0xFF] ^ t[2][(c >> 16) & 0xFF] ^ t[3][c >> 24];
}

__attribute__((target("sse4.2"))) uint32_t hardware(uint32_t state, std::string_view data) {
  const char* p = data.data();
  size_t n = data.size();
  uint64_t c = state;
  if (n >= 3 * kStream) {
    const ShiftTables& t = stream_shift();
    for (; n >= 3 * kStream; p += 3 * kStream, n -= 3 * kStream) {
      uint64_t c0 = c, c1 = 0, c2 = 0;
      for (size_t i = 0; i < kStream; i += 8) {
        uint64_t w0, w1, w2;
        std::memcpy(&w0, p + i, 8);
        std::memcpy(&w1, p + kStream + i, 8);
        std::memcpy(&w2, p + 2 * kStream + i, 8);
        c0 = _mm_crc32_u64(c0, w0);
        c1 = _mm_crc32_u64(c1, w1);
        c2 = _mm_crc32_u64(c2, w2);
      }
      // crc(A B) = crc(A) after |B| zeros, xor crc of B from zero.
      uint32_t ab = shift_stream(t, static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
      c = shift_stream(t, ab) ^ static_cast<uint32_t>(c2);
    }
  }
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*p));
  return c32;
}
#else
bool hardware_available() { return false; }
uint32_t hardware(uint32_t state, std::string_view data) { return software(state, data); }
#endif

}  // namespace crc32c_impl

void Crc32c::update(std::string_view data) {
  state_ =
      crc32c_impl::hardware_available() ? crc32c_impl::hardware(state_, data) : crc32c_impl::software(state_, data);
}

uint32_t crc32c(std::string_view data) {
  Crc32c c;
  c.update(data);
  return c.value();
}

std::string crc32c_manifest_hex(uint32_t crc) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 4; ++i) {
    unsigned b = (crc >> (8 * i)) & 0xFF;
    out += digits[b >> 4];
    out += digits[b & 0xF];
  }
  return out;
}

}  // namespace cellar
