#include "emopost/predict/predictor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <numeric>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "emopost/core/error.h"
#include "emopost/core/worker.h"
#include "emopost/models/face_detector.h"
#include "emopost/models/folder.h"
#include "emopost/models/threads.h"
#include "emopost/predict/stages.h"

namespace emopost::predict {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

Scores row(const torch::Tensor& logits, int64_t r) {
  Scores out;
  std::memcpy(out.data(), logits[r].data_ptr<double>(), sizeof(Scores));
  return out;
}

}  // namespace

struct Predictor::Impl {
  PredictorOptions opt;
  // forward() is not const in libtorch, but inference changes no state, so calls may overlap.
  mutable std::optional<models::TextModelFolder> text;
  mutable std::optional<models::FaceModelFolder> face;
  std::unique_ptr<vision::FaceDetector> detector;
  fusion::FusionModel fusion;
  // Runs the text model beside the image decoder, on one torch thread of its own.
  mutable Worker text_worker;
  bool text_beside_decode = false;

  // Mean logits over each input's windows. Windows of all inputs are grouped by length so that
  // padding stays small.
  std::vector<Scores> run_text(const std::vector<const text::TextInput*>& inputs) const {
    std::vector<const std::vector<int64_t>*> windows;
    std::vector<size_t> owner;
    for (size_t t = 0; t < inputs.size(); ++t)
      for (const auto& w : inputs[t]->windows) windows.push_back(&w), owner.push_back(t);
    std::vector<size_t> order(windows.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return windows[a]->size() < windows[b]->size(); });
    std::vector<Scores> out(inputs.size(), Scores{});
    torch::InferenceMode guard;
    for (size_t begin = 0; begin < order.size(); begin += opt.batch_size) {
      const size_t end = std::min(order.size(), begin + size_t(opt.batch_size));
      std::vector<const std::vector<int64_t>*> part;
      for (size_t r = begin; r < end; ++r) part.push_back(windows[order[r]]);
      auto batch = text->reader.batch(part);
      auto ids = torch::from_blob(batch.ids.data(), {batch.rows, batch.cols}, torch::kLong);
      auto mask = torch::from_blob(batch.mask.data(), {batch.rows, batch.cols}, torch::kLong);
      auto logits = text->model->forward(ids, mask).to(torch::kDouble).contiguous();
      for (size_t r = begin; r < end; ++r) {
        const size_t t = owner[order[r]];
        const auto l = row(logits, int64_t(r - begin));
        for (int c = 0; c < kNumLabels; ++c) out[t][c] += l[c] / double(inputs[t]->windows.size());
      }
    }
    if (text->expert)  // the n-gram expert's verdict, fused in (models/ngram_expert.h)
      for (size_t t = 0; t < inputs.size(); ++t) out[t] = text->expert->fuse(out[t], inputs[t]->normalized);
    return out;
  }

  std::vector<Scores> run_faces(const std::vector<cv::Mat>& crops) const {
    std::vector<Scores> out(crops.size());
    const auto& pre = face->preprocess;
    const int64_t C = pre.channels, H = pre.height, W = pre.width;
    torch::InferenceMode guard;
    for (size_t begin = 0; begin < crops.size(); begin += opt.batch_size) {
      size_t end = std::min(crops.size(), begin + size_t(opt.batch_size));
      auto pixels = torch::empty({int64_t(end - begin), C, H, W});
      for (size_t r = begin; r < end; ++r) {
        auto chw = vision::preprocess(crops[r], pre);
        std::memcpy(pixels[int64_t(r - begin)].data_ptr<float>(), chw.data(), chw.size() * sizeof(float));
      }
      auto logits = face->model.forward(pixels).to(torch::kDouble).contiguous();
      for (size_t r = begin; r < end; ++r) out[r] = row(logits, int64_t(r - begin));
    }
    return out;
  }

  TextModel text_model() const {
    return [this](const std::vector<const text::TextInput*>& in) { return run_text(in); };
  }
};

Predictor::Predictor(PredictorOptions options) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.opt = std::move(options);
  auto or_default = [&](const fs::path& given, const char* part) {
    return given.empty() ? m.opt.models_dir / part : given;
  };
  m.text = models::load_text_folder(or_default(m.opt.text_model, "text"), m.opt.cldr_dir);
  if (!m.opt.text_ngrams) m.text->expert.reset();
  m.face = models::load_face_folder(or_default(m.opt.face_model, "face"));
  m.text->model->eval();
  m.face->model.module().eval();
  m.face->model.set_mirror_average(m.opt.face_mirror.value_or(m.face->mirror));  // the option, else the folder's
  m.face->model.prepare_inference();
  if (m.opt.int8) {
    m.text->model->quantize_int8();
    m.face->model.quantize_int8();
  }
  m.detector = models::make_face_detector(m.opt.detector, m.opt.cascade, or_default(m.opt.detector_model, "detector"),
                                          or_default(m.opt.landmarks_model, "landmarks"));
  m.text_beside_decode =
      m.opt.text_beside_decode && m.text_worker.submit([] { return models::limit_threads_here(1); }).get();
  const fs::path fusion_file = or_default(m.opt.fusion_file, "fusion.json");
  if (fs::exists(fusion_file)) m.fusion = fusion::FusionModel::load(fusion_file);
  else spdlog::warn("{} not found: fusing uncalibrated, with equal weights", fusion_file.string());
}

Predictor::~Predictor() = default;

const fusion::FusionModel& Predictor::fusion() const { return impl_->fusion; }
void Predictor::set_fusion(fusion::FusionModel model) { impl_->fusion = std::move(model); }
const vision::FaceDetector& Predictor::detector() const { return *impl_->detector; }
const text::TextReader& Predictor::reader() const { return impl_->text->reader; }
const PredictorOptions& Predictor::options() const { return impl_->opt; }

nlohmann::json Predictor::info() const {
  const auto& m = *impl_;
  return {{"labels", std::vector<std::string>(kLabels.begin(), kLabels.end())},
          {"text", {{"path", m.text->dir.string()}, {"config", m.text->config}, {"card", m.text->card},
                    {"ngrams", m.text->expert ? nlohmann::json{{"model_weight", m.text->expert->model_weight()},
                                                               {"expert_weight", m.text->expert->expert_weight()},
                                                               {"num_features", m.text->expert->num_features()}}
                                              : nlohmann::json(nullptr)}}},
          {"face", {{"path", m.face->dir.string()}, {"config", m.face->config},
                    {"mirror_average", m.face->model.mirror_average()}, {"card", m.face->card}}},
          {"fusion", m.fusion.to_json()}};
}

std::vector<Scores> Predictor::text_logits(const std::vector<text::TextInput>& texts) const {
  std::vector<const text::TextInput*> refs;
  for (const auto& t : texts) {
    if (t.empty()) throw Error("text_logits: a text has no words to read");
    refs.push_back(&t);
  }
  return impl_->run_text(refs);
}

std::vector<Scores> Predictor::face_logits(const std::vector<cv::Mat>& faces) const {
  return impl_->run_faces(faces);
}

Prediction Predictor::predict(const Post& post, bool explain) const {
  auto out = predict_many({post}, explain).front();
  if (!out.prediction) throw Error(out.error_message, out.error_code);
  return std::move(*out.prediction);
}

std::vector<Outcome> Predictor::predict_many(const std::vector<Post>& posts, bool explain) const {
  const auto& m = *impl_;
  const auto start = Clock::now();
  std::vector<PostWork> work(posts.size());

  auto t = Clock::now();
  prepare_texts(posts, m.text->reader, m.opt.max_text_bytes, work);
  const double normalize_ms = ms_since(t);

  // With pictures to read, the text model runs beside the JPEG decoder, on one thread: decoding keeps
  // one core busy, and on tweet-length texts one thread is nearly as fast as two. Detection waits for
  // both: beside it, OpenCV's and torch's threads fought and both got slower (bench/RESULTS.md).
  double text_ms = 0;
  auto texts = texts_to_read(work);
  auto run_text = [&] {
    auto t0 = Clock::now();
    read_texts(texts, m.text_model());
    text_ms = ms_since(t0);
  };
  const bool any_image = std::any_of(posts.begin(), posts.end(), [](const Post& p) { return p.image.has_value(); });
  std::future<void> text_job;
  // The job reads this call's `texts`: should anything below throw, wait for it before they go.
  struct WaitFor {
    std::future<void>& job;
    ~WaitFor() {
      if (job.valid()) job.wait();
    }
  } wait_for_text{text_job};
  if (m.text_beside_decode && any_image && !texts.inputs.empty()) text_job = m.text_worker.submit(run_text);
  else run_text();

  const bool grey = m.face->preprocess.channels == 1 && !m.detector->reads_colour();
  PictureReading how{m.opt.decode, m.opt.decode_min_side, grey, m.opt.face_margin,
                     m.opt.max_request_pixels};
  // Detection waits for the text model; its result (or its exception) is taken once, below.
  const auto pictures = read_pictures(posts, how, *m.detector, work, [&] {
    if (text_job.valid()) text_job.wait();
  });
  if (text_job.valid()) text_job.get();
  hand_back(texts, work);
  const double decode_ms = pictures.decode_ms, detect_ms = pictures.detect_ms;

  t = Clock::now();
  read_faces(work, [&](const std::vector<cv::Mat>& crops) { return m.run_faces(crops); });
  const double face_ms = ms_since(t);

  t = Clock::now();
  std::vector<Outcome> outcomes;
  for (size_t i = 0; i < posts.size(); ++i) {
    outcomes.push_back(fuse(posts[i], work[i], m.fusion));
    auto& p = outcomes.back().prediction;
    if (explain && p && p->text)
      p->attribution = predict::explain(work[i].text.normalized, *p->text, m.text->reader, m.text_model(), m.fusion);
  }
  const double fusion_ms = ms_since(t);
  const double total_ms = ms_since(start);
  for (auto& o : outcomes)
    if (o.prediction)
      o.prediction->timings_ms = {{"normalize", normalize_ms}, {"decode", decode_ms}, {"detect", detect_ms},
                                  {"text_model", text_ms},     {"face_model", face_ms}, {"fusion", fusion_ms},
                                  {"total", total_ms}};
  return outcomes;
}

}  // namespace emopost::predict
