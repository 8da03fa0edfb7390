// libFuzzer target: the JSON every request and JSONL line goes through (parse_json with its nesting
// limit), and writing it back out, which recurses as deep as the document.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "emopost/core/error.h"
#include "emopost/core/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto j = emopost::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "input");
    (void)emopost::dump_json(j);
    auto copy = j;
    if (copy != j) __builtin_trap();
  } catch (const emopost::Error&) {
  }
  return 0;
}
