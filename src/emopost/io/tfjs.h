#pragma once
// TensorFlow.js weights: a `*-weights_manifest.json` and the binary shards it names, as tfjs'
// `io.decodeWeights` reads them. Quantised weights (uint8 or uint16 with scale and min, float16)
// are expanded to float32 the way tfjs expands them. No torch here.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace emopost::io {

struct TfjsTensor {
  std::string name;
  std::vector<int64_t> shape;  // TensorFlow's layout (a conv filter is [h, w, in, out])
  std::vector<float> values;
};

// All the weights of every group in the manifest, in manifest order. Throws emopost::Error
// (bad_model) naming the file and the weight: a missing or short shard, an unknown dtype or
// quantisation, a bad shape, or bytes left over.
std::vector<TfjsTensor> read_tfjs_weights(const std::filesystem::path& manifest);

}  // namespace emopost::io
