#pragma once
// Helpers shared by the tests: reading files, expecting an emopost::Error, building images.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "emopost/core/error.h"

namespace emopost::test {

namespace fs = std::filesystem;

// The repository's root: fixtures, samples and the shipped models are found from it.
inline const fs::path kRoot = fs::path(EMOPOST_TEST_DATA).parent_path().parent_path();

inline std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in) << p;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void expect_error(const std::function<void()>& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no emopost::Error thrown; expected one mentioning '" << needle << "'";
  } catch (const emopost::Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message '" << e.what() << "' lacks '" << needle << "'";
  }
}

// Like expect_error, and the error's code must be `code`.
inline void expect_error_code(const std::function<void()>& fn, const std::string& code,
                              const std::string& needle = "") {
  try {
    fn();
    ADD_FAILURE() << "no emopost::Error thrown; expected code " << code;
  } catch (const emopost::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message '" << e.what() << "' lacks '" << needle << "'";
  }
}

// --- a minimal PNG writer (stored deflate blocks), to build files OpenCV will not write ----------
inline uint32_t crc32(const std::string& s) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char ch : s) c = table[(c ^ ch) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

inline std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

inline std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(uint32_t(data.size())) + type + data + be32(crc32(type + data));
}

// rows: raw scanlines without filter bytes; must stay under 65535 bytes (one stored block).
inline std::string make_png(uint32_t w, uint32_t h, int bit_depth, int color_type, const std::string& rows,
                     size_t row_bytes) {
  std::string raw;
  for (size_t i = 0; i < rows.size(); i += row_bytes) raw += '\0' + rows.substr(i, row_bytes);
  uint32_t a = 1, b = 0;  // adler32
  for (unsigned char ch : raw) a = (a + ch) % 65521, b = (b + a) % 65521;
  const uint16_t n = uint16_t(raw.size());
  std::string z = "\x78\x01\x01";
  z += {char(n & 0xFF), char(n >> 8), char(~n & 0xFF), char((~n >> 8) & 0xFF)};
  z += raw + be32(b << 16 | a);
  std::string ihdr = be32(w) + be32(h) + char(bit_depth) + char(color_type) + std::string(3, '\0');
  return std::string("\x89PNG\r\n\x1A\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", z) +
         png_chunk("IEND", "");
}

}  // namespace emopost::test
