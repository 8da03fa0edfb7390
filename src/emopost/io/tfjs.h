#pragma once
// TensorFlow.js weights: a `*-weights_manifest.json` (or a graph model's `model.json`, whose
// `weightsManifest` is one) and the binary shards it names, as tfjs' `io.decodeWeights` reads them.
// Quantised weights (uint8 or uint16 with scale and min, float16) are expanded to float32 the way
// tfjs expands them. Also a graph model's nodes, so a converter can check the ops it is given. No
// torch here.
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

// All the weights of every group in the manifest, in manifest order; `manifest` is a weights manifest
// or a graph model's model.json. Throws emopost::Error (bad_model) naming the file and the weight: a
// missing or short shard, an unknown dtype or quantisation, a bad shape, or bytes left over.
std::vector<TfjsTensor> read_tfjs_weights(const std::filesystem::path& manifest);

// One node of a graph model's modelTopology, with the attributes convolutions carry.
struct TfjsNode {
  std::string name, op;
  std::vector<std::string> inputs;       // node names (a ":k" output index kept as written)
  std::vector<int64_t> strides, dilations;  // NHWC order; empty when the node has none
  std::string padding, data_format;      // decoded from the graph's base64 ("SAME", "NHWC")
  std::vector<std::string> fused_ops;    // _FusedMatMul's ("BiasAdd", "Relu")
};

// The nodes of a graph model (model.json with a modelTopology), in file order. Throws
// emopost::Error (bad_model) when the file is no graph model or a node is malformed.
std::vector<TfjsNode> read_tfjs_graph(const std::filesystem::path& model_json);

}  // namespace emopost::io
