// libFuzzer target: config.json, preprocessor_config.json and tokenizer_config.json as emopost reads
// them, on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/io/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace emopost;
  try {
    const auto j = parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "input");
    for (auto read : {+[](const nlohmann::json& c) { (void)io::DistilBertConfig::from_json(c).to_json(); },
                      +[](const nlohmann::json& c) { (void)io::ViTConfig::from_json(c).to_json(); },
                      +[](const nlohmann::json& c) { (void)io::ResNetConfig::from_json(c).to_json(); },
                      +[](const nlohmann::json& c) { (void)io::FaceExpressionConfig::from_json(c).to_json(); },
                      +[](const nlohmann::json& c) { (void)io::ImageProcessorConfig::from_json(c).to_json(); }}) {
      try {
        read(j);
      } catch (const Error&) {
      }
    }
    (void)dump_json(j);
  } catch (const Error&) {
  }
  return 0;
}
