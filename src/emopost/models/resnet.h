#pragma once
// ResNetForImageClassification with Hugging Face's parameter names and BatchNorm buffers, so that
// transformers loads the checkpoint back. The stem downsamples by 4, so any input side of 32 or
// more works; the side a checkpoint was trained on is in its preprocessor_config.json.
#include <vector>

#include <torch/torch.h>

#include "emopost/io/hf_config.h"

namespace emopost::models {

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(io::ResNetConfig config);

  // pixel_values [B, C, H, W] float.
  torch::Tensor forward(const torch::Tensor& pixel_values);

  const io::ResNetConfig& config() const { return config_; }
  void init_weights();
  void init_head_weights();
  // For inference from now on: BatchNorm folded into the convolutions, weights reordered once for
  // oneDNN, activations kept in its blocked layout between layers. The result matches forward() to
  // float rounding and runs a batch of 8 faces about 1.7x faster; it is used in eval mode only and
  // must be prepared again after the weights change. A no-op where libtorch lacks oneDNN.
  void prepare_inference();
  void train(bool on = true) override {
    if (on) folded_.clear();
    torch::nn::Module::train(on);
  }

 private:
  // transformers' ResNetConvLayer: conv (no bias) -> BatchNorm -> optional ReLU.
  struct ConvLayer {
    torch::nn::Conv2d conv{nullptr};
    torch::nn::BatchNorm2d norm{nullptr};
    bool activation = true;
    torch::Tensor forward(const torch::Tensor& x);
  };
  struct Residual {
    std::vector<ConvLayer> layer;
    std::optional<ConvLayer> shortcut;
  };
  struct FoldedConv {  // oneDNN weight and bias of a ConvLayer with its BatchNorm folded in
    torch::Tensor weight, bias;
    int64_t stride = 1, padding = 0;
    bool activation = true;
    torch::Tensor forward(const torch::Tensor& x) const;
  };
  static FoldedConv fold(const ConvLayer& c);
  torch::Tensor forward_prepared(const torch::Tensor& pixels);
  ConvLayer conv_layer(const std::string& path, int64_t in, int64_t out, int64_t kernel,
                       int64_t stride, bool activation);

  io::ResNetConfig config_;
  ConvLayer stem_;
  std::vector<Residual> layers_;
  torch::nn::Linear classifier_{nullptr};
  // Filled by prepare_inference(): the stem, then per residual layer its convs and its shortcut.
  std::vector<FoldedConv> folded_;
};
TORCH_MODULE(ResNet);

}  // namespace emopost::models
