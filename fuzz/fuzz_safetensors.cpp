// libFuzzer target: the safetensors reader on arbitrary bytes (every tensor's bytes are touched).
#include <cstddef>
#include <cstdint>
#include <string>

#include "emopost/core/error.h"
#include "emopost/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = emopost::io::SafetensorsFile::from_bytes(std::string(reinterpret_cast<const char*>(data), size));
    size_t sum = 0;
    for (const auto& t : f.tensors())
      for (size_t i = 0; i < t.nbytes; ++i) sum += size_t(t.data[i]);
    volatile size_t keep = sum;
    (void)keep;
  } catch (const emopost::Error&) {
  }
  return 0;
}
