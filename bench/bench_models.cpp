// Forward latency of the full-size models (DistilBERT-base, ViT-B/16 at 224), random init, eval
// mode, InferenceMode, in fp32 and in bf16. Ways to run bf16 (EMOPOST_BENCH_MODES, a comma list;
// default "fp32,bf16w,int8"):
//   bf16w          weights converted once with module->to(kBFloat16), bf16 pixels for ViT;
//   autocast       Bf16Autocast around each forward: fp32 weights, matmuls cast to bf16 on the fly;
//   autocast-held  one Bf16Autocast kept alive across forwards, so that autocast could cache the
//                  bf16 weights. It cannot while the models call nn::Linear: the C++ frontend's
//                  linear is matmul(weight.t()), and autocast does not cache views;
//   int8           the blocks' linears in dynamic int8 (models/int8.h; oneDNN, VNNI), fp32 elsewhere.
// bf16w is the default bf16: both ways run the same oneDNN bf16 GEMMs, and bf16w skips the
// per-forward cast of every weight (5-15% faster at batch 1). autocast is about twice as accurate
// (layer norm, softmax and the residual stream stay fp32). See bench/RESULTS.md.
// Threads: 2, or EMOPOST_THREADS. Before the benchmarks it prints the BLAS in use and, unless
// EMOPOST_BENCH_CHECK=0, how far the bf16 logits and last hidden states are from fp32 (both ways).
// Counters: ms = median wall-clock ms per forward (Google Benchmark's Time column is the mean),
// items/s = sequences or images per wall-clock second at that median.
#include <torch/torch.h>  // before benchmark.h: torch defines glog-style macros

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "emopost/core/labels.h"
#include "emopost/core/blas.h"
#include "emopost/io/hf_config.h"
#include "emopost/models/distilbert.h"
#include "emopost/models/threads.h"
#include "emopost/models/vit.h"

namespace {

using namespace emopost;
using models::DistilBert;
using models::ViT;

enum class Mode { kFp32, kAutocast, kAutocastHeld, kBf16Weights, kInt8 };
const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kFp32: return "fp32";
    case Mode::kAutocast: return "autocast";
    case Mode::kAutocastHeld: return "autocast-held";
    case Mode::kBf16Weights: return "bf16w";
    case Mode::kInt8: return "int8";
  }
  return "?";
}
bool autocasts(Mode m) { return m == Mode::kAutocast || m == Mode::kAutocastHeld; }

std::string manifest(const char* name) {
  return std::string(EMOPOST_SOURCE_DIR) + "/tests/data/hf/manifests/" + name;
}

std::vector<std::string> labels() { return {kLabels.begin(), kLabels.end()}; }

// Copies src's parameters into dst (built with the same config) and converts dst to bf16, so both
// precisions run the very same weights.
template <typename M>
M to_bf16(M src, M dst) {
  torch::NoGradGuard no_grad;
  auto to = dst->named_parameters();
  for (const auto& p : src->named_parameters()) to[p.key()].copy_(p.value());
  dst->to(torch::kBFloat16);
  dst->eval();
  return dst;
}

// The same weights with the blocks' linears in dynamic int8 (see models/int8.h).
template <typename M>
M to_int8(M src, M dst) {
  torch::NoGradGuard no_grad;
  auto to = dst->named_parameters();
  for (const auto& p : src->named_parameters()) to[p.key()].copy_(p.value());
  dst->eval();
  dst->quantize_int8();
  return dst;
}

struct Models {
  DistilBert bert{nullptr}, bert_bf16{nullptr}, bert_int8{nullptr};
  ViT vit{nullptr}, vit_bf16{nullptr}, vit_int8{nullptr};
  DistilBert& bert_for(Mode m) { return m == Mode::kBf16Weights ? bert_bf16 : m == Mode::kInt8 ? bert_int8 : bert; }
  ViT& vit_for(Mode m) { return m == Mode::kBf16Weights ? vit_bf16 : m == Mode::kInt8 ? vit_int8 : vit; }
};

// Built once, on first use, from the full-size Hugging Face configs (random init).
Models& the_models() {
  static Models m = [] {
    torch::manual_seed(0);
    auto bc = io::DistilBertConfig::from_json(emopost::read_json_file(manifest("distilbert-base-uncased_config.json")));
    bc.id2label = labels();
    auto vc = io::ViTConfig::from_json(emopost::read_json_file(manifest("vit-base-patch16-224-in21k_config.json")));
    vc.id2label = labels();
    Models out;
    out.bert = DistilBert(bc);
    out.bert->eval();
    out.bert_bf16 = to_bf16(out.bert, DistilBert(bc));
    out.bert_int8 = to_int8(out.bert, DistilBert(bc));
    out.vit = ViT(vc);
    out.vit->eval();
    out.vit_bf16 = to_bf16(out.vit, ViT(vc));
    out.vit_int8 = to_int8(out.vit, ViT(vc));
    return out;
  }();
  return m;
}

// Fixed random inputs: token ids away from the special ids, all positions attended.
std::pair<torch::Tensor, torch::Tensor> text_inputs(int64_t batch, int64_t seq) {
  auto gen = at::detail::createCPUGenerator(1234);
  auto ids = torch::randint(1000, 30000, {batch, seq}, gen, torch::kLong);
  return {ids, torch::ones({batch, seq}, torch::kLong)};
}
torch::Tensor image_inputs(int64_t batch) {
  auto gen = at::detail::createCPUGenerator(4321);
  return torch::randn({batch, 3, 224, 224}, gen, torch::kFloat);
}

// The logits and last block output of one forward in the given mode.
models::ClassifierOutput run_bert(Mode mode, const torch::Tensor& ids, const torch::Tensor& mask) {
  auto& m = the_models();
  models::Bf16Autocast autocast(autocasts(mode));
  return m.bert_for(mode)->forward_all(ids, mask, /*hidden_states=*/true);
}
models::ClassifierOutput run_vit(Mode mode, const torch::Tensor& pixels) {
  auto& m = the_models();
  models::Bf16Autocast autocast(autocasts(mode));
  if (mode == Mode::kBf16Weights) return m.vit_bf16->forward_all(pixels.to(torch::kBFloat16), true);
  return m.vit_for(mode)->forward_all(pixels, true);
}

// Times `forward` per iteration so that the median (robust to a busy neighbour) can be reported.
// autocast-held keeps one guard alive across forwards, so that autocast may reuse its bf16 copies
// of the weights (it caches casts of leaf tensors that require grad, not of views like weight.t()).
template <typename F>
void time_forwards(benchmark::State& state, Mode mode, int64_t items, F&& forward) {
  torch::InferenceMode inference;
  models::Bf16Autocast held(mode == Mode::kAutocastHeld);
  for (int i = 0; i < 2; ++i) forward();  // warm-up: oneDNN primitive creation, allocator
  std::vector<double> ms;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto out = forward();
    benchmark::DoNotOptimize(out.data_ptr());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  state.counters["ms"] = median;
  state.counters["items/s"] = static_cast<double>(items) * 1e3 / median;
}

void register_benchmarks() {
  const char* env = std::getenv("EMOPOST_BENCH_MODES");
  const std::string wanted = "," + std::string(env && *env ? env : "fp32,bf16w,int8") + ",";
  std::vector<Mode> modes;
  for (Mode m : {Mode::kFp32, Mode::kBf16Weights, Mode::kAutocast, Mode::kAutocastHeld, Mode::kInt8})
    if (wanted.find("," + std::string(mode_name(m)) + ",") != std::string::npos) modes.push_back(m);
  for (Mode mode : modes) {
    for (auto [b, t] : {std::pair<int64_t, int64_t>{1, 32}, {1, 64}, {1, 128}, {32, 64}}) {
      auto name = std::string("DistilBERT/") + mode_name(mode) + "/b" + std::to_string(b) + "/s" + std::to_string(t);
      benchmark::RegisterBenchmark(name.c_str(), [mode, b = b, t = t](benchmark::State& state) {
        auto [ids, mask] = text_inputs(b, t);
        time_forwards(state, mode, b, [&] {
          models::Bf16Autocast autocast(autocasts(mode));  // nested in `held`: keeps its cache
          auto& m = the_models();
          return m.bert_for(mode)->forward(ids, mask);
        });
      })->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
    }
    for (int64_t b : {1, 8}) {
      auto name = std::string("ViT-B16-224/") + mode_name(mode) + "/b" + std::to_string(b);
      benchmark::RegisterBenchmark(name.c_str(), [mode, b](benchmark::State& state) {
        // bf16 weights take bf16 pixels; the conversion is part of the timed forward.
        auto pixels = image_inputs(b);
        time_forwards(state, mode, b, [&] {
          models::Bf16Autocast autocast(autocasts(mode));  // nested in `held`: keeps its cache
          auto& m = the_models();
          if (mode == Mode::kBf16Weights) return m.vit_bf16->forward(pixels.to(torch::kBFloat16));
          return m.vit_for(mode)->forward(pixels);
        });
      })->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
    }
  }
}

struct Diff {
  double max_abs, max_ref, rel_max, rel_norm;
};
Diff diff(const torch::Tensor& got, const torch::Tensor& ref) {
  auto d = got.to(torch::kFloat) - ref;
  Diff r{};
  r.max_abs = d.abs().max().item<double>();
  r.max_ref = ref.abs().max().item<double>();
  r.rel_max = r.max_abs / r.max_ref;
  r.rel_norm = (d.norm() / ref.norm()).item<double>();
  return r;
}

constexpr double kTolerance = 2e-2;

// The 2e-2 verdict is for logits; hidden states are printed for scale.
void print_diff(const char* what, const char* mode, const Diff& d, bool verdict = true) {
  std::printf("  %-27s %-8s max|x-fp32| %.3e  (max|fp32| %.3e, rel to max %.2e, rel L2 %.2e)  %s\n",
              what, mode, d.max_abs, d.max_ref, d.rel_max, d.rel_norm,
              !verdict ? "" : d.max_abs <= kTolerance ? "within 2e-2" : "EXCEEDS 2e-2");
}

// Scales the classifier of `model` by `s` (both precisions), so that logits have the magnitude of a
// trained head while the body, and so the bf16 error it feeds the head, stays the same.
template <typename M>
void scale_head(M& model, double s) {
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters())
    if (p.key().rfind("classifier.", 0) == 0) p.value().mul_(s);
}

// bf16 vs fp32 on fixed random inputs: DistilBERT b1 s128 and ViT b1.
void accuracy_check() {
  torch::InferenceMode inference;
  auto& m = the_models();
  std::printf("bf16 and int8 vs fp32 (fixed random inputs, random init with initializer_range 0.02):\n");
  auto [ids, mask] = text_inputs(1, 128);
  auto pixels = image_inputs(1);
  auto ref_b = run_bert(Mode::kFp32, ids, mask);
  auto ref_v = run_vit(Mode::kFp32, pixels);
  for (Mode mode : {Mode::kAutocast, Mode::kBf16Weights, Mode::kInt8}) {
    auto b = run_bert(mode, ids, mask);
    print_diff("DistilBERT s128 logits", mode_name(mode), diff(b.logits, ref_b.logits));
    print_diff("DistilBERT s128 last hidden", mode_name(mode), diff(b.hidden_states.back(), ref_b.hidden_states.back()), false);
    auto v = run_vit(mode, pixels);
    print_diff("ViT b1 logits", mode_name(mode), diff(v.logits, ref_v.logits));
    print_diff("ViT b1 last block output", mode_name(mode), diff(v.hidden_states.back(), ref_v.hidden_states.back()), false);
  }
  // Random-init logits are ~0.1-0.5; a trained head gives |logits| of several units. Scale the
  // classifier (a power of two, exact in bf16) so that max|fp32 logit| is about 8.
  auto pow2 = [](double target, double now) { return std::exp2(std::round(std::log2(target / now))); };
  const double sb = pow2(8.0, ref_b.logits.abs().max().item<double>());
  const double sv = pow2(8.0, ref_v.logits.abs().max().item<double>());
  // (The int8 copies keep their own head: the head is not quantised, so scaling it there is the
  // same as here.)
  scale_head(m.bert, sb), scale_head(m.bert_bf16, sb), scale_head(m.vit, sv), scale_head(m.vit_bf16, sv);
  scale_head(m.bert_int8, sb), scale_head(m.vit_int8, sv);
  std::printf("with the classifier scaled to trained-size logits (x%g DistilBERT, x%g ViT):\n", sb, sv);
  ref_b = run_bert(Mode::kFp32, ids, mask);
  ref_v = run_vit(Mode::kFp32, pixels);
  for (Mode mode : {Mode::kAutocast, Mode::kBf16Weights, Mode::kInt8}) {
    print_diff("DistilBERT s128 logits", mode_name(mode), diff(run_bert(mode, ids, mask).logits, ref_b.logits));
    print_diff("ViT b1 logits", mode_name(mode), diff(run_vit(mode, pixels).logits, ref_v.logits));
  }
  scale_head(m.bert, 1 / sb), scale_head(m.bert_bf16, 1 / sb), scale_head(m.vit, 1 / sv), scale_head(m.vit_bf16, 1 / sv);
  scale_head(m.bert_int8, 1 / sb), scale_head(m.vit_int8, 1 / sv);
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const char* env = std::getenv("EMOPOST_THREADS");
  const int threads = models::configure_runtime(env && *env ? std::atoi(env) : 2);
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  std::printf("%s\nthreads: %d, OMP_WAIT_POLICY=%s\n", blas_report().c_str(), threads,
              wait ? wait : "(unset)");
  std::fflush(stdout);
  const char* check = std::getenv("EMOPOST_BENCH_CHECK");
  if (!(check && std::string(check) == "0")) accuracy_check();
  register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
