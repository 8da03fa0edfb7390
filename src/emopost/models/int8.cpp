#include "emopost/models/int8.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/native/quantized/PackedParams.h>

#include <mutex>

#include "emopost/core/error.h"

namespace emopost::models {

namespace {

// oneDNN where available (x86 with VNNI), else whatever this build has.
void choose_engine() {
  static std::once_flag once;
  std::call_once(once, [] {
    const auto engines = at::globalContext().supportedQEngines();
    for (auto want : {at::QEngine::ONEDNN, at::QEngine::FBGEMM, at::QEngine::QNNPACK})
      for (auto e : engines)
        if (e == want) {
          at::globalContext().setQEngine(e);
          return;
        }
    throw Error("this libtorch has no quantized engine, so int8 inference is unavailable");
  });
}

// x86 without VNNI adds pairs of u8 x s8 products in 16 bits (vpmaddubsw), which saturates for
// 8-bit activations: there they are quantised to 7 bits (PyTorch's reduce_range), as on this AVX2
// EPYC, where 8-bit ones moved the tiny DistilBERT's logits by 39% of their range.
bool reduce_range() {
#if defined(__x86_64__)
  static const bool reduce = !(__builtin_cpu_supports("avx512vnni") || __builtin_cpu_supports("avxvnni"));
  return reduce;
#else
  return false;
#endif
}

}  // namespace

struct Int8Linear::Packed {
  c10::intrusive_ptr<LinearPackedParamsBase> params;
};

Int8Linear::Int8Linear(const torch::nn::Linear& linear) : Int8Linear(std::vector<const torch::nn::Linear*>{&linear}) {}

Int8Linear::Int8Linear(const std::vector<const torch::nn::Linear*>& fused) : packed_(std::make_shared<Packed>()) {
  choose_engine();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> weights, biases;
  for (const auto* l : fused) {
    weights.push_back((*l)->weight.detach().to(torch::kFloat));
    if ((*l)->bias.defined()) biases.push_back((*l)->bias.detach().to(torch::kFloat));
  }
  if (!biases.empty() && biases.size() != weights.size()) throw Error("int8: fused linears must all have a bias or none");
  auto w = torch::cat(weights, 0).contiguous();
  // One scale per output row: fused matrices (and rows within one) differ in range.
  auto scales = (w.abs().amax(1).clamp_min(1e-8) / 127.0).to(torch::kDouble);
  auto qw = at::quantize_per_channel(w, scales, torch::zeros({w.size(0)}, torch::kLong), 0, at::kQInt8);
  c10::optional<at::Tensor> bias;
  if (!biases.empty()) bias = torch::cat(biases, 0).contiguous();
  static auto prepack = c10::Dispatcher::singleton()
                            .findSchemaOrThrow("quantized::linear_prepack", "")
                            .typed<c10::intrusive_ptr<LinearPackedParamsBase>(at::Tensor, c10::optional<at::Tensor>)>();
  packed_->params = prepack.call(qw, bias);
}

torch::Tensor Int8Linear::forward(const torch::Tensor& x) const {
  auto flat = x.reshape({-1, x.size(-1)}).to(torch::kFloat).contiguous();
  auto y = packed_->params->apply_dynamic(flat, reduce_range());
  auto shape = x.sizes().vec();
  shape.back() = y.size(-1);
  return y.view(shape);
}

}  // namespace emopost::models
