// libFuzzer target: the text reading (normaliser, tokenizer, windows) on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "emopost/core/error.h"
#include "emopost/text/reading.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto reader =
      emopost::text::TextReader::from_vocab(EMOPOST_SOURCE_DIR "/assets/vocab/bert-base-uncased-vocab.txt", 16);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto in = reader.read(text);
    for (const auto& w : in.windows)
      if (w.size() > reader.max_length()) __builtin_trap();  // a window past the model's positions
  } catch (const emopost::Error&) {
  }
  try {
    (void)reader.tokenizer().encode(text, 32);
  } catch (const emopost::Error&) {
  }
  return 0;
}
