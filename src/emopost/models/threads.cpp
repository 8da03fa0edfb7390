#include "emopost/models/threads.h"

#include <thread>

#include <malloc.h>

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#ifdef EMOPOST_HAVE_OPENMP
#include <omp.h>
#endif

namespace emopost::models {

int configure_runtime(int threads) {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  return torch::get_num_threads();
}

bool limit_threads_here(int threads) {
  threads = std::max(1, threads);
  // torch sets a new thread's count on its first parallel op, which would undo ours.
  at::internal::lazy_init_num_threads();
#ifdef EMOPOST_HAVE_OPENMP
  omp_set_num_threads(threads);
#endif
  return at::get_num_threads() == threads;
}

Bf16Autocast::Bf16Autocast(bool enabled) : enabled_(enabled), previous_(at::autocast::is_cpu_enabled()) {
  if (!enabled_) return;
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
}

Bf16Autocast::~Bf16Autocast() {
  if (!enabled_) return;
  at::autocast::set_cpu_enabled(previous_);
  if (!previous_) at::autocast::clear_cache();
}

}  // namespace emopost::models
