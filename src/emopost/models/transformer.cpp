#include "emopost/models/transformer.h"

#include <cmath>
#include <limits>

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>

namespace emopost::models {

namespace nn = torch::nn;

nn::Module& node_at(nn::Module& root, const std::string& path) {
  nn::Module* node = &root;
  size_t start = 0;
  while (start <= path.size()) {
    auto dot = std::min(path.find('.', start), path.size());
    auto part = path.substr(start, dot - start);
    auto children = node->named_children();
    auto* found = children.find(part);
    node = found ? found->get() : node->register_module(part, std::make_shared<nn::Module>()).get();
    start = dot + 1;
  }
  return *node;
}

torch::Tensor place_parameter(nn::Module& root, const std::string& path, torch::Tensor value) {
  auto dot = path.rfind('.');
  return node_at(root, path.substr(0, dot)).register_parameter(path.substr(dot + 1), std::move(value));
}

TransformerBlock::TransformerBlock(nn::Module& root, const ArchitectureNames& names, int layer,
                                   const BlockOptions& options)
    : o_(options) {
  const auto& b = names.block;
  auto at = [&](const std::string& role) { return names.block_name(layer, role); };
  auto ln = nn::LayerNormOptions({o_.dim}).eps(o_.eps);
  q_ = place(root, at(b.q), nn::Linear(o_.dim, o_.dim));
  k_ = place(root, at(b.k), nn::Linear(o_.dim, o_.dim));
  v_ = place(root, at(b.v), nn::Linear(o_.dim, o_.dim));
  out_ = place(root, at(b.o), nn::Linear(o_.dim, o_.dim));
  norm1_ = place(root, at(b.norm1), nn::LayerNorm(ln));
  fc1_ = place(root, at(b.fc1), nn::Linear(o_.dim, o_.hidden));
  fc2_ = place(root, at(b.fc2), nn::Linear(o_.hidden, o_.dim));
  norm2_ = place(root, at(b.norm2), nn::LayerNorm(ln));
}

torch::Tensor TransformerBlock::attention(const torch::Tensor& x, const torch::Tensor& key_bias,
                                          bool training) {
  const auto B = x.size(0), T = x.size(1), H = o_.heads, Dh = o_.dim / o_.heads;
  auto heads = [&](const torch::Tensor& t) { return t.reshape({B, T, H, Dh}).transpose(1, 2); };
  torch::Tensor q, k, v;
  if (!int8_.empty()) {
    auto qkv = int8_[0].forward(x).chunk(3, -1);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    q = q_(x), k = k_(x), v = v_(x);
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(Dh));
  if (!training && !torch::GradMode::is_enabled() && !at::autocast::is_cpu_enabled())
    return linear(out_, 1, attend_in_parallel(heads(q) * scale, heads(k), heads(v), key_bias));
  q = heads(q) * scale;
  auto scores = torch::matmul(q, heads(k).transpose(-1, -2));
  if (key_bias.defined()) scores = scores + key_bias.to(scores.scalar_type());
  auto probs = torch::softmax(scores, -1);
  probs = torch::dropout(probs, o_.attention_dropout, training);
  auto context = torch::matmul(probs, heads(v)).transpose(1, 2).reshape({B, T, o_.dim});
  return linear(out_, 1, context);
}

// Inference: the (batch, head) pairs split between the threads, each running scores, softmax and
// context for its share one after another. torch's batched matmul loops over heads with a BLAS call
// each, too small to gain from a second thread (ViT-B batch 8: 7.1 ms on two threads, 7.5 on one).
torch::Tensor TransformerBlock::attend_in_parallel(const torch::Tensor& q, const torch::Tensor& k,
                                                   const torch::Tensor& v, const torch::Tensor& key_bias) {
  const auto B = q.size(0), H = q.size(1), T = q.size(2), Dh = q.size(3);
  auto qs = q.contiguous().view({B * H, T, Dh}), ks = k.contiguous().view({B * H, T, Dh}),
       vs = v.contiguous().view({B * H, T, Dh});
  torch::Tensor bias;  // [B*H, 1, T]
  if (key_bias.defined()) bias = key_bias.to(q.scalar_type()).expand({B, H, 1, T}).reshape({B * H, 1, T});
  auto context = torch::empty({B * H, T, Dh}, q.options());
  at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
    c10::InferenceMode guard;  // the caller's mode is thread-local; worker threads need it too
    auto scores = torch::bmm(qs.slice(0, begin, end), ks.slice(0, begin, end).transpose(1, 2));
    if (bias.defined()) scores.add_(bias.slice(0, begin, end));
    auto ctx = context.slice(0, begin, end);
    torch::bmm_out(ctx, torch::softmax(scores, -1), vs.slice(0, begin, end));
  });
  return context.view({B, H, T, Dh}).transpose(1, 2).reshape({B, T, H * Dh});
}

torch::Tensor TransformerBlock::linear(torch::nn::Linear& fp32, size_t slot, const torch::Tensor& x) {
  return int8_.empty() ? fp32(x) : int8_[slot].forward(x);
}

void TransformerBlock::quantize_int8() {
  int8_.clear();
  int8_.emplace_back(std::vector<const torch::nn::Linear*>{&q_, &k_, &v_});
  for (const auto* l : {&out_, &fc1_, &fc2_}) int8_.emplace_back(*l);
}

torch::Tensor TransformerBlock::forward(const torch::Tensor& x, const torch::Tensor& key_bias,
                                        bool training) {
  auto mlp = [&](const torch::Tensor& h) {
    return torch::dropout(linear(fc2_, 3, torch::gelu(linear(fc1_, 2, h))), o_.dropout, training);
  };
  if (o_.pre_norm) {
    auto h = torch::dropout(attention(norm1_(x), key_bias, training), o_.dropout, training) + x;
    return mlp(norm2_(h)) + h;
  }
  auto h = norm1_(attention(x, key_bias, training) + x);
  return norm2_(mlp(h) + h);
}

torch::Tensor attention_bias(const torch::Tensor& mask, torch::ScalarType dtype) {
  // The dtype's lowest value, not -inf: a fully masked row stays finite.
  double lowest = dtype == torch::kHalf     ? static_cast<double>(std::numeric_limits<c10::Half>::lowest())
                  : dtype == torch::kBFloat16 ? static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest())
                  : dtype == torch::kDouble   ? std::numeric_limits<double>::lowest()
                                              : std::numeric_limits<float>::lowest();
  auto keep = mask.to(torch::kBool).view({mask.size(0), 1, 1, mask.size(1)});
  return torch::zeros(keep.sizes(), torch::TensorOptions().dtype(dtype))
      .masked_fill(keep.logical_not(), lowest);
}

void truncated_normal_(torch::Tensor t, double std) {
  torch::NoGradGuard no_grad;
  // Redraw outside +-2 std, as torch.nn.init.trunc_normal_ bounds the tails.
  t.normal_(0.0, std);
  for (int i = 0; i < 8; ++i) {
    auto outside = t.abs() > 2.0 * std;
    if (!outside.any().item<bool>()) break;
    t.masked_scatter_(outside, torch::randn_like(t).mul_(std).masked_select(outside));
  }
  t.clamp_(-2.0 * std, 2.0 * std);
}

void init_like_transformers(nn::Module& module, double std, bool truncated) {
  torch::NoGradGuard no_grad;
  auto init = [&](nn::Module& m) {
    if (auto* lin = m.as<nn::Linear>()) {
      truncated ? truncated_normal_(lin->weight, std) : (void)lin->weight.normal_(0.0, std);
      if (lin->bias.defined()) lin->bias.zero_();
    } else if (auto* conv = m.as<nn::Conv2d>()) {
      truncated ? truncated_normal_(conv->weight, std) : (void)conv->weight.normal_(0.0, std);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* emb = m.as<nn::Embedding>()) {
      emb->weight.normal_(0.0, std);
    } else if (auto* norm = m.as<nn::LayerNorm>()) {
      norm->weight.fill_(1.0);
      norm->bias.zero_();
    }
  };
  // modules(include_self=true) needs a shared_ptr to the root, which a constructor has not got.
  init(module);
  for (auto& m : module.modules(/*include_self=*/false)) init(*m);
}

}  // namespace emopost::models
