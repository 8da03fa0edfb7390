#pragma once
// Process-wide torch settings that decide speed on CPU.
#include <string>

namespace emopost::models {

// Process-wide speed settings; returns the thread count used.
// - intra-op threads (0 = all cores; libtorch defaults to 1 here);
// - glibc's allocator keeps activation-sized blocks (up to 32 MB) on its heap and does not hand freed
//   memory back to the kernel below 512 MB: by default every forward pass of a big model faulted
//   its activations in afresh (ViT-B/16 batch 8: 1786 -> 1500 ms fp32, bench/RESULTS.md).
int configure_runtime(int threads);

// Limits torch ops issued from the calling thread to `threads` intra-op threads, leaving every other
// thread's setting alone (OpenMP keeps the count per thread). False where it could not take effect:
// no OpenMP here, or a libtorch with its own bundled OpenMP runtime.
bool limit_threads_here(int threads);

// Turns bf16 autocast on for this thread while alive: matmuls run in bf16 (oneDNN, 2-3x faster
// on avx512_bf16), while softmax, layer norm and losses stay in fp32.
class Bf16Autocast {
 public:
  explicit Bf16Autocast(bool enabled = true);
  ~Bf16Autocast();
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool enabled_, previous_;
};

}  // namespace emopost::models
