#include "emopost/io/base64.h"

#include <memory>

#include <openssl/evp.h>

#include "emopost/core/error.h"

namespace emopost::io {

std::string base64_decode(std::string_view text) {
  if (text.substr(0, 5) == "data:") {
    auto comma = text.find(',');
    if (comma == std::string_view::npos || text.substr(0, comma).find(";base64") == std::string_view::npos)
      throw Error("data URI is not base64 (expected data:<type>;base64,<data>)", Errc::bad_base64);
    text.remove_prefix(comma + 1);
  }
  if (text.empty()) throw Error("base64 image is empty", Errc::bad_base64);
  if (text.size() > size_t(INT32_MAX) / 2) throw Error("base64 image is too large", Errc::bad_base64);
  // A length that is not a whole number of quads means the data was cut.
  size_t significant = 0;
  for (char c : text)
    if (c != '\n' && c != '\r' && c != ' ') ++significant;
  if (significant % 4 != 0) throw Error("base64 image is truncated (length is not a multiple of 4)", Errc::bad_base64);
  std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> ctx(EVP_ENCODE_CTX_new(), EVP_ENCODE_CTX_free);
  if (!ctx) throw Error("out of memory decoding base64", Errc::internal);
  EVP_DecodeInit(ctx.get());
  std::string out(text.size() / 4 * 3 + 3, '\0');
  int n = 0, tail = 0;
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  // OpenSSL stops (returns -1) at the first character outside the alphabet or bad padding.
  if (EVP_DecodeUpdate(ctx.get(), dst, &n, reinterpret_cast<const unsigned char*>(text.data()), int(text.size())) < 0 ||
      EVP_DecodeFinal(ctx.get(), dst + n, &tail) < 0)
    throw Error("image is not valid base64", Errc::bad_base64);
  out.resize(size_t(n + tail));
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()));
  out.resize(size_t(n));
  return out;
}

}  // namespace emopost::io
