#pragma once
// The transformer block that DistilBERT (post-LN) and ViT (pre-LN) share, and the helper that
// places modules at their checkpoint paths.
#include <string>

#include <torch/torch.h>

#include "emopost/models/int8.h"
#include "emopost/models/names.h"

namespace emopost::models {

// The module at the dotted `path` below `root`, creating plain modules where none exists yet.
torch::nn::Module& node_at(torch::nn::Module& root, const std::string& path);

// Registers `child` at the dotted `path` of `root`, so that named_parameters() yields exactly the
// checkpoint keys.
template <typename M>
M place(torch::nn::Module& root, const std::string& path, M child) {
  auto dot = path.rfind('.');
  auto& parent = dot == std::string::npos ? root : node_at(root, path.substr(0, dot));
  return parent.register_module(path.substr(dot + 1), std::move(child));
}

// A parameter at a dotted path (ViT's cls_token and position_embeddings).
torch::Tensor place_parameter(torch::nn::Module& root, const std::string& path, torch::Tensor value);

struct BlockOptions {
  int64_t dim = 0, heads = 0, hidden = 0;
  double eps = 1e-12;
  double dropout = 0.0, attention_dropout = 0.0;
  bool pre_norm = false;  // ViT normalises before each sublayer, DistilBERT after
};

class TransformerBlock {
 public:
  TransformerBlock(torch::nn::Module& root, const ArchitectureNames& names, int layer,
                   const BlockOptions& options);
  // x [B, T, D]; key_bias [B, 1, 1, T] additive (0 or a large negative) or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_bias, bool training);
  // From now on the linears run in dynamic int8, q, k and v as one matmul (inference only; the fp32
  // weights stay, so parameter names and saving are unchanged). Call again after the weights change.
  void quantize_int8();

 private:
  torch::Tensor attention(const torch::Tensor& x, const torch::Tensor& key_bias, bool training);
  // q, k, v [B, H, T, Dh] (q already scaled); the context [B, T, H*Dh].
  torch::Tensor attend_in_parallel(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   const torch::Tensor& key_bias);
  // `fp32`, or its int8 twin int8_[slot] once quantize_int8() has run.
  torch::Tensor linear(torch::nn::Linear& fp32, size_t slot, const torch::Tensor& x);
  BlockOptions o_;
  std::vector<Int8Linear> int8_;  // empty, or q k v fused, then out, fc1, fc2
  torch::nn::Linear q_{nullptr}, k_{nullptr}, v_{nullptr}, out_{nullptr}, fc1_{nullptr},
      fc2_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
};

// Additive attention bias from a [B, T] 0/1 mask: 0 where attended, the dtype's lowest value
// where masked (as transformers does), shaped [B, 1, 1, T].
torch::Tensor attention_bias(const torch::Tensor& mask, torch::ScalarType dtype);

// transformers' _init_weights: normal(0, std) for Linear/Embedding weights, zero biases,
// LayerNorm to (1, 0). `truncated` uses a truncated normal (ViT).
void init_like_transformers(torch::nn::Module& module, double std, bool truncated);
void truncated_normal_(torch::Tensor t, double std);

}  // namespace emopost::models
