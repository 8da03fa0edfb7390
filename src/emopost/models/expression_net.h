#pragma once
// face-api's expression net (npm @vladmandic/face-api, MIT) as one of emopost's face models: four
// dense blocks of separable convolutions over a 112-pixel RGB face, a global average and a dense
// layer to the 7 expressions, which are emopost's 7 labels under other names. Its weights were
// trained on faces from photos, so it brings to the face ensemble what FER2013 alone cannot; it
// fine-tunes like any other face model (`train image` with init_from).
#include <filesystem>

#include <torch/torch.h>

#include "emopost/io/hf_config.h"
#include "emopost/models/face_api.h"

namespace emopost::models {

class ExpressionNetImpl : public torch::nn::Module {
 public:
  explicit ExpressionNetImpl(io::FaceExpressionConfig config);
  // pixel_values [B, C, H, W] as the face model's preprocessor gives them -> logits [B, labels].
  torch::Tensor forward(const torch::Tensor& pixel_values);
  // The package's own input [B, 3, input_size, input_size] (face_api::input) -> logits.
  torch::Tensor forward_face_api(const torch::Tensor& x);
  const io::FaceExpressionConfig& config() const { return config_; }

 private:
  io::FaceExpressionConfig config_;
  face_api::DenseBlock dense0{nullptr}, dense1{nullptr}, dense2{nullptr}, dense3{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ExpressionNet);

// A folder as written by convert_face_expression or save_expression_net. Throws emopost::Error (bad_model).
ExpressionNet load_expression_net(const std::filesystem::path& dir);
void save_expression_net(ExpressionNet& net, const std::filesystem::path& dir, torch::ScalarType float_dtype);

// face-api's tfjs weights (face_expression_model-weights_manifest.json and its shard) to a face model
// folder: its 7 outputs reordered to emopost's labels, read from grey faces at `side` pixels
// (preprocessor_config.json, normalised as the shipped face models are).
void convert_face_expression(const std::filesystem::path& manifest, const std::filesystem::path& out_dir, int side = 64);

}  // namespace emopost::models
