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

}  // namespace

struct Int8Linear::Packed {
  c10::intrusive_ptr<LinearPackedParamsBase> params;
};

Int8Linear::Int8Linear(const torch::nn::Linear& linear) : packed_(std::make_shared<Packed>()) {
  choose_engine();
  torch::NoGradGuard no_grad;
  auto w = linear->weight.detach().to(torch::kFloat).contiguous();
  const double scale = std::max(w.abs().max().item<double>(), 1e-8) / 127.0;
  auto qw = at::quantize_per_tensor(w, scale, 0, at::kQInt8);
  c10::optional<at::Tensor> bias;
  if (linear->bias.defined()) bias = linear->bias.detach().to(torch::kFloat).contiguous();
  static auto prepack = c10::Dispatcher::singleton()
                            .findSchemaOrThrow("quantized::linear_prepack", "")
                            .typed<c10::intrusive_ptr<LinearPackedParamsBase>(at::Tensor, c10::optional<at::Tensor>)>();
  packed_->params = prepack.call(qw, bias);
}

torch::Tensor Int8Linear::forward(const torch::Tensor& x) const {
  auto flat = x.reshape({-1, x.size(-1)}).to(torch::kFloat).contiguous();
  auto y = packed_->params->apply_dynamic(flat, /*reduce_range=*/false);
  auto shape = x.sizes().vec();
  shape.back() = y.size(-1);
  return y.view(shape);
}

}  // namespace emopost::models
