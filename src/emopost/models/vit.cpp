#include "emopost/models/vit.h"

#include <fmt/format.h>

#include "emopost/core/error.h"

namespace emopost::models {

namespace nn = torch::nn;

ViTImpl::ViTImpl(io::ViTConfig config) : config_(std::move(config)) {
  const auto& c = config_;
  if (c.num_attention_heads <= 0 || c.hidden_size % c.num_attention_heads != 0)
    throw Error(fmt::format("vit: hidden_size {} is not divisible by num_attention_heads {}",
                            c.hidden_size, c.num_attention_heads));
  if (c.patch_size <= 0 || c.image_size % c.patch_size != 0)
    throw Error(fmt::format("vit: image_size {} is not a multiple of patch_size {}", c.image_size,
                            c.patch_size));
  if (c.hidden_act != "gelu")
    throw Error("vit: only hidden_act \"gelu\" is supported, got \"" + c.hidden_act + "\"");
  if (!c.qkv_bias) throw Error("vit: qkv_bias=false is not supported");
  if (c.num_labels() == 0) throw Error("vit: config has no labels (id2label is empty)");
  const auto& names = vit_names();
  cls_token_ = place_parameter(*this, names.name("cls_token"), torch::zeros({1, 1, c.hidden_size}));
  position_embeddings_ = place_parameter(*this, names.name("position_embeddings"),
                                         torch::zeros({1, c.num_patches() + 1, c.hidden_size}));
  patch_projection_ = place(
      *this, names.name("patch_projection"),
      nn::Conv2d(nn::Conv2dOptions(c.num_channels, c.hidden_size, c.patch_size).stride(c.patch_size)));
  BlockOptions block{.dim = c.hidden_size, .heads = c.num_attention_heads,
                     .hidden = c.intermediate_size, .eps = c.layer_norm_eps,
                     .dropout = c.hidden_dropout_prob,
                     .attention_dropout = c.attention_probs_dropout_prob, .pre_norm = true};
  for (int i = 0; i < c.num_hidden_layers; ++i) blocks_.emplace_back(*this, names, i, block);
  final_norm_ = place(*this, names.name("final_norm"),
                      nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  classifier_ = place(*this, names.name("classifier"), nn::Linear(c.hidden_size, c.num_labels()));
  init_weights();
}

void ViTImpl::init_weights() {
  init_like_transformers(*this, config_.initializer_range, /*truncated=*/true);
  truncated_normal_(cls_token_, config_.initializer_range);
  truncated_normal_(position_embeddings_, config_.initializer_range);
}

void ViTImpl::init_head_weights() {
  init_like_transformers(*classifier_, config_.initializer_range, true);
}

ClassifierOutput ViTImpl::forward_all(const torch::Tensor& pixels, bool hidden_states) {
  const auto& c = config_;
  if (pixels.dim() != 4 || pixels.size(1) != c.num_channels || pixels.size(2) != c.image_size ||
      pixels.size(3) != c.image_size)
    throw Error(fmt::format("vit: expected pixel_values [B, {}, {}, {}], got {}", c.num_channels,
                            c.image_size, c.image_size, c10::str(pixels.sizes())));
  ClassifierOutput out;
  auto patches = patch_projection_(pixels).flatten(2).transpose(1, 2);  // [B, N, D]
  auto cls = cls_token_.expand({pixels.size(0), 1, c.hidden_size});
  auto x = torch::cat({cls.to(patches.scalar_type()), patches}, 1) + position_embeddings_;
  x = torch::dropout(x, c.hidden_dropout_prob, is_training());
  if (hidden_states) out.hidden_states.push_back(x);
  for (auto& block : blocks_) {
    x = block.forward(x, torch::Tensor(), is_training());
    if (hidden_states) out.hidden_states.push_back(x);
  }
  out.logits = classifier_(final_norm_(x).select(1, 0));
  return out;
}

torch::Tensor ViTImpl::forward(const torch::Tensor& pixel_values) {
  return forward_all(pixel_values).logits;
}

}  // namespace emopost::models
