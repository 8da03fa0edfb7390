#pragma once
// Strict base64 decoding (OpenSSL's decoder), for images that travel inside JSON.
#include <string>
#include <string_view>

namespace emopost::io {

// Accepts standard base64 with or without line breaks, and a leading "data:...;base64," prefix.
// Throws emopost::Error (code "bad_base64") naming the problem.
std::string base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

}  // namespace emopost::io
