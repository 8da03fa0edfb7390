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
    if (on) prepared_ = false;
    torch::nn::Module::train(on);
  }

 private:
  // transformers' ResNetConvLayer: conv (no bias) -> BatchNorm -> optional ReLU.
  struct ConvLayer {
    torch::nn::Conv2d conv{nullptr};
    torch::nn::BatchNorm2d norm{nullptr};
    bool activation = true;
    int64_t stride = 1, padding = 0;
    // Set by prepare_inference(): oneDNN weight and bias with the BatchNorm folded in.
    torch::Tensor folded_weight, folded_bias;
    void fold();
    // `prepared`: x is a oneDNN tensor and the folded weights are current.
    torch::Tensor forward(const torch::Tensor& x, bool prepared);
  };
  struct Residual {
    std::vector<ConvLayer> layer;
    std::optional<ConvLayer> shortcut;
  };
  ConvLayer conv_layer(const std::string& path, int64_t in, int64_t out, int64_t kernel,
                       int64_t stride, bool activation);

  io::ResNetConfig config_;
  ConvLayer stem_;
  std::vector<Residual> layers_;
  torch::nn::Linear classifier_{nullptr};
  bool prepared_ = false;
};
TORCH_MODULE(ResNet);

}  // namespace emopost::models
