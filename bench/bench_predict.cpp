// Per-post latency of the Predictor with the shipped models, and batch throughput.
//   BM_Post/photo_caption   a 1280x720 photo (cut from samples/photos/group6.jpg; counter faces: how
//                           many the default detector finds) plus a tweet-length caption with emojis,
//                           a hashtag and a mention
//   BM_Post/caption_only    the caption alone
//   BM_Batch                64 posts (photo+caption) through run_jsonl, as `predict --input` does
//   BM_NgramExpert          the text model's n-gram expert alone on the caption (models/text/ngrams)
//   *_int8                  the same with the transformer linears in dynamic int8 (--int8)
//   *_mirror                faces also read as their mirror image (--mirror; the default is the face
//                           folder's choice, test_time_mirror)
//   *_ensemble              the face model shipped until 2026-12-07 (models/face-ensemble, five ResNets,
//                           with its mirror), to compare the face stage with it in one run
//   *_serial                the text model before the picture, not beside its decoding
//   *_no_ngrams             the transformer alone, without the text model's n-gram expert
//   BM_Detect/lbp, /cnn     face detection alone on the decoded 1280x720 photo: the LBP cascade
//                           against the CNN detector (models/detector)
// Counters: p50/p95 of the whole post and of each stage (ms), posts/s for the batch.
// Threads: 2, or EMOPOST_THREADS.
#include <torch/torch.h>  // before benchmark.h: torch defines glog-style macros

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <chrono>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "emopost/io/base64.h"
#include "emopost/models/face_detector.h"
#include "emopost/models/ngram_expert.h"
#include "emopost/models/threads.h"
#include "emopost/predict/jsonl.h"
#include "emopost/predict/predictor.h"
#include "emopost/vision/faces.h"
#include "emopost/vision/preprocess.h"
#include "bench_photo.h"

namespace {

using namespace emopost;
namespace fs = std::filesystem;

const fs::path kRoot = EMOPOST_SOURCE_DIR;
const char* kCaption = "Finally saw my best friends after two years apart!!! 😭❤️ #reunited @maria";

// The default configuration (fp32), int8 linears, faces also read as their mirror image, the stages
// one after another, and the former face model, side by side in one run.
enum class Variant { kDefault, kInt8, kMirror, kSerial, kNoNgrams, kEnsemble };

const predict::Predictor& predictor(Variant v = Variant::kDefault) {
  auto make = [](Variant v) {
    const char* t = std::getenv("EMOPOST_THREADS");
    models::configure_runtime(t ? std::atoi(t) : 2);
    predict::PredictorOptions o;
    o.models_dir = kRoot / "models";
    o.int8 = v == Variant::kInt8;
    if (v == Variant::kMirror) o.face_mirror = true;
    if (v == Variant::kEnsemble) o.face_model = kRoot / "models/face-ensemble";
    o.text_beside_decode = v != Variant::kSerial;
    o.text_ngrams = v != Variant::kNoNgrams;
    return o;
  };
  static const predict::Predictor quantized(make(Variant::kInt8)), plain(make(Variant::kDefault)),
      twice(make(Variant::kMirror)), serial(make(Variant::kSerial)), words_alone(make(Variant::kNoNgrams)),
      former(make(Variant::kEnsemble));
  switch (v) {
    case Variant::kInt8: return quantized;
    case Variant::kMirror: return twice;
    case Variant::kEnsemble: return former;
    case Variant::kSerial: return serial;
    case Variant::kNoNgrams: return words_alone;
    default: return plain;
  }
}

using bench::percentile;
using bench::photo_1280x720;

void BM_Post(benchmark::State& state, bool with_photo, Variant variant) {
  predict::Post post{"", kCaption, std::nullopt};
  if (with_photo) post.image = photo_1280x720();
  // Warm-up (first-call allocations), and the faces the default detector finds: every run must
  // find as many, or the timings would compare different work.
  const size_t faces = predictor(variant).predict(post).faces.size();
  if (with_photo && faces == 0) state.SkipWithError("no face found in the bench photo");
  std::map<std::string, std::vector<double>> stages;
  for (auto _ : state) {
    auto p = predictor(variant).predict(post);
    for (const auto& [k, v] : p.timings_ms) stages[k].push_back(v);
    if (p.faces.size() != faces) state.SkipWithError("the detector found a different number of faces");
  }
  if (with_photo) state.counters["faces"] = double(faces);
  for (const auto& [k, v] : stages) {
    if (!with_photo && (k == "decode" || k == "detect" || k == "face_model")) continue;
    state.counters[k + "_p50"] = percentile(v, 0.5);
    state.counters[k + "_p95"] = percentile(v, 0.95);
  }
}
BENCHMARK_CAPTURE(BM_Post, photo_caption, true, Variant::kDefault)->Unit(benchmark::kMillisecond)->MinTime(5)->UseRealTime();
BENCHMARK_CAPTURE(BM_Post, caption_only, false, Variant::kDefault)->Unit(benchmark::kMillisecond)->MinTime(5)->UseRealTime();
BENCHMARK_CAPTURE(BM_Post, caption_only_no_ngrams, false, Variant::kNoNgrams)->Unit(benchmark::kMillisecond)->MinTime(5)->UseRealTime();
BENCHMARK_CAPTURE(BM_Post, photo_caption_int8, true, Variant::kInt8)->Unit(benchmark::kMillisecond)->MinTime(5)->UseRealTime();
BENCHMARK_CAPTURE(BM_Post, caption_only_int8, false, Variant::kInt8)->Unit(benchmark::kMillisecond)->MinTime(5)->UseRealTime();
BENCHMARK_CAPTURE(BM_Post, photo_caption_mirror, true, Variant::kMirror)->Unit(benchmark::kMillisecond)->MinTime(5)->UseRealTime();
BENCHMARK_CAPTURE(BM_Post, photo_caption_ensemble, true, Variant::kEnsemble)->Unit(benchmark::kMillisecond)->MinTime(5)->UseRealTime();
BENCHMARK_CAPTURE(BM_Post, photo_caption_serial, true, Variant::kSerial)->Unit(benchmark::kMillisecond)->MinTime(5)->UseRealTime();

// The face model stage alone: the five faces the default detector cuts from the photo post's
// picture, through the shipped face model and through the one shipped until 2026-12-07.
void BM_FaceModel(benchmark::State& state, Variant variant) {
  const auto& p = predictor(variant);
  const auto picture = vision::decode_for_faces(photo_1280x720(), p.options().decode, p.options().decode_min_side, false);
  const auto faces = vision::find_faces(picture, p.detector(), p.options().face_margin).crops;
  std::vector<double> ms;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(p.face_logits(faces));
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  state.counters["faces"] = double(faces.size());
  state.counters["p50_ms"] = percentile(ms, 0.5);
}
BENCHMARK_CAPTURE(BM_FaceModel, shipped, Variant::kDefault)->Unit(benchmark::kMillisecond)->MinTime(3)->UseRealTime();
BENCHMARK_CAPTURE(BM_FaceModel, ensemble, Variant::kEnsemble)->Unit(benchmark::kMillisecond)->MinTime(3)->UseRealTime();

void BM_Batch(benchmark::State& state) {
  const auto b64 = io::base64_encode(photo_1280x720());
  std::string lines;
  for (int i = 0; i < 64; ++i)
    lines += nlohmann::json{{"id", std::to_string(i)}, {"text", kCaption}, {"image_base64", b64}}.dump() + "\n";
  for (auto _ : state) {
    std::istringstream in(lines);
    std::ostringstream out;
    auto stats = predict::run_jsonl(predictor(), in, out, {kRoot}, size_t(state.range(0)), 64, false);
    if (stats.ok != 64) state.SkipWithError("a post failed");
  }
  state.counters["posts/s"] = benchmark::Counter(64.0 * double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Batch)->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond)->MinTime(5)->UseRealTime();

// The n-gram expert alone, on the bench caption as the reader normalises it: its share of
// caption_only (which runs it inside the text model's stage).
void BM_NgramExpert(benchmark::State& state) {
  const auto expert = models::NgramExpert::load(kRoot / "models/text/ngrams");
  const auto normalized = predictor().reader().normalizer().normalize(kCaption);
  for (auto _ : state) benchmark::DoNotOptimize(expert.log_probabilities(normalized));
}
BENCHMARK(BM_NgramExpert)->Unit(benchmark::kMicrosecond);

void BM_Detect(benchmark::State& state, bool cnn) {
  predictor();  // the runtime's threads, as the other benchmarks have them
  const auto bytes = photo_1280x720();
  cv::Mat bgr = cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_COLOR), rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  std::unique_ptr<vision::FaceDetector> detector;
  if (cnn) detector = std::make_unique<models::CnnDetector>(kRoot / "models/detector");
  else detector = std::make_unique<vision::CascadeDetector>();
  size_t faces = 0;
  for (auto _ : state) faces = detector->detect(rgb).size();
  state.counters["faces"] = double(faces);
}
BENCHMARK_CAPTURE(BM_Detect, lbp, false)->Unit(benchmark::kMillisecond)->MinTime(3)->UseRealTime();
BENCHMARK_CAPTURE(BM_Detect, cnn, true)->Unit(benchmark::kMillisecond)->MinTime(3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
