#pragma once
// ViTForImageClassification with Hugging Face's parameter names (pre-LN, CLS-token head).
#include <vector>

#include <torch/torch.h>

#include "emopost/io/hf_config.h"
#include "emopost/models/distilbert.h"  // ClassifierOutput
#include "emopost/models/transformer.h"

namespace emopost::models {

class ViTImpl : public torch::nn::Module {
 public:
  explicit ViTImpl(io::ViTConfig config);

  // pixel_values [B, C, H, W] float, H = W = image_size.
  torch::Tensor forward(const torch::Tensor& pixel_values);
  ClassifierOutput forward_all(const torch::Tensor& pixel_values, bool hidden_states = false);

  const io::ViTConfig& config() const { return config_; }
  void init_weights();
  // Runs the transformer blocks' linears in dynamic int8 from now on (inference; see int8.h).
  void quantize_int8() {
    for (auto& b : blocks_) b.quantize_int8();
  }
  void init_head_weights();

 private:
  io::ViTConfig config_;
  torch::Tensor cls_token_, position_embeddings_;
  torch::nn::Conv2d patch_projection_{nullptr};
  std::vector<TransformerBlock> blocks_;
  torch::nn::LayerNorm final_norm_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(ViT);

}  // namespace emopost::models
