#pragma once
// config.json for DistilBERT, ViT and ResNet with Hugging Face keys. Keys this code does not know are
// kept in `extra` and written back unchanged, so a round trip loses nothing.
#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "emopost/core/json.h"

namespace emopost::io {

struct DistilBertConfig {
  int vocab_size = 30522;
  int max_position_embeddings = 512;
  bool sinusoidal_pos_embds = false;
  int n_layers = 6;
  int n_heads = 12;
  int dim = 768;
  int hidden_dim = 3072;
  double dropout = 0.1;
  double attention_dropout = 0.1;
  std::string activation = "gelu";
  double initializer_range = 0.02;
  double seq_classif_dropout = 0.2;
  int pad_token_id = 0;
  std::vector<std::string> id2label;  // index = class id; empty = no head yet
  nlohmann::json extra = nlohmann::json::object();

  int num_labels() const { return static_cast<int>(id2label.size()); }
  static DistilBertConfig from_json(const nlohmann::json& j);  // accepts HF aliases
  nlohmann::json to_json() const;  // HF keys incl. model_type, architectures, label2id
};

struct ViTConfig {
  int hidden_size = 768;
  int num_hidden_layers = 12;
  int num_attention_heads = 12;
  int intermediate_size = 3072;
  std::string hidden_act = "gelu";
  double hidden_dropout_prob = 0.0;
  double attention_probs_dropout_prob = 0.0;
  double initializer_range = 0.02;
  double layer_norm_eps = 1e-12;
  int image_size = 224;
  int patch_size = 16;
  int num_channels = 3;
  bool qkv_bias = true;
  std::vector<std::string> id2label;
  nlohmann::json extra = nlohmann::json::object();

  int num_labels() const { return static_cast<int>(id2label.size()); }
  int num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  static ViTConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

// ResNetForImageClassification (transformers' ResNetConfig). The input side is not part of it: it
// lives in preprocessor_config.json.
struct ResNetConfig {
  int num_channels = 3;
  int embedding_size = 64;
  std::vector<int> hidden_sizes{256, 512, 1024, 2048};
  std::vector<int> depths{3, 4, 6, 3};
  std::string layer_type = "bottleneck";  // or "basic"
  std::string hidden_act = "relu";
  bool downsample_in_first_stage = false;
  bool downsample_in_bottleneck = false;
  std::vector<std::string> id2label;
  nlohmann::json extra = nlohmann::json::object();

  int num_labels() const { return static_cast<int>(id2label.size()); }
  static ResNetConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

// face-api's mean RGB for the nets built on its feature extractor: the landmark and expression nets.
inline constexpr std::array<double, 3> kFaceApiFeatureMeanRgb{122.782, 117.001, 104.298};

// face-api's expression net as an emopost face model (not a transformers architecture: its
// model_type is emopost's own). It reads the face model's input as normalised by
// preprocessor_config.json (pixel_mean, pixel_std; grey or RGB, any side) and turns it into the
// package's: RGB at input_size, less mean_rgb, over 255.
struct FaceExpressionConfig {
  int num_channels = 1;
  int input_size = 112;
  double pixel_mean = 0.5, pixel_std = 0.5;
  std::vector<double> mean_rgb = std::vector<double>(kFaceApiFeatureMeanRgb.begin(), kFaceApiFeatureMeanRgb.end());
  std::vector<std::string> id2label;
  nlohmann::json extra = nlohmann::json::object();

  static FaceExpressionConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

// Keras' 'caffe' preprocessing (imagenet_utils.preprocess_input), which HSE trained faceres with:
// BGR in 0..255 less these means, in B, G, R order.
inline constexpr std::array<double, 3> kCaffeMeanBgr{103.939, 116.779, 123.68};

// HSE's faceres (a MobileNet-v1 trained for face identity on VGGFace2) as an emopost face model
// (model_type "faceres", emopost's own). It reads the face model's input as normalised by
// preprocessor_config.json (pixel_mean, pixel_std; grey or RGB, any side: image_size 0) and feeds
// its body what HSE trained it on: BGR in 0..255 less input_mean_bgr. hidden_size is the pooled
// width of the body, fixed at 1024. age_gender_heads keeps the package's age and gender heads
// (a converted checkpoint has them; they are not trained).
struct FaceResConfig {
  int num_channels = 3;
  int image_size = 0;
  int hidden_size = 1024;
  double pixel_mean = 0.5, pixel_std = 0.5;
  std::vector<double> input_mean_bgr = std::vector<double>(kCaffeMeanBgr.begin(), kCaffeMeanBgr.end());
  bool age_gender_heads = false;
  double classifier_dropout = 0.0;
  std::vector<std::string> id2label;
  nlohmann::json extra = nlohmann::json::object();

  static FaceResConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

// The model_type of a config.json ("vit", "resnet", ...), or "" when it has none.
std::string model_type_of(const nlohmann::json& config);

// The preprocessor_config.json of a ViT checkpoint (ViTImageProcessor keys).
struct ImageProcessorConfig {
  int height = 224, width = 224;
  bool do_resize = true, do_rescale = true, do_normalize = true;
  double rescale_factor = 1.0 / 255.0;
  std::vector<double> image_mean{0.5, 0.5, 0.5};
  std::vector<double> image_std{0.5, 0.5, 0.5};
  nlohmann::json extra = nlohmann::json::object();

  static ImageProcessorConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

}  // namespace emopost::io
