#pragma once
// Dynamic int8 inference for Linear layers: weights quantised once (per output channel, symmetric),
// activations quantised per call, matmuls in int8 through oneDNN (VNNI on x86). On this project's
// CPUs, which lack avx512_bf16, this is the fast path that bf16 is elsewhere (bench/RESULTS.md).
#include <memory>
#include <vector>

#include <torch/torch.h>

namespace emopost::models {

class Int8Linear {
 public:
  // Throws emopost::Error when this libtorch has no quantized engine.
  explicit Int8Linear(const torch::nn::Linear& linear);
  // Several linears over the same input as one (their outputs concatenated): the activation is
  // quantised once and the matmul is one larger, more efficient call (attention's q, k and v).
  explicit Int8Linear(const std::vector<const torch::nn::Linear*>& fused);
  torch::Tensor forward(const torch::Tensor& x) const;  // x [..., in] float

 private:
  struct Packed;
  std::shared_ptr<Packed> packed_;
};

}  // namespace emopost::models
