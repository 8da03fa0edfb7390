#include "emopost/predict/predictor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <numeric>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "emopost/core/error.h"
#include "emopost/core/worker.h"
#include "emopost/io/hf_config.h"
#include "emopost/models/checkpoint.h"
#include "emopost/models/image_classifier.h"
#include "emopost/models/runtime.h"
#include "emopost/text/tokenizer.h"

namespace emopost::predict {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

nlohmann::json label_map(const Scores& s) {
  nlohmann::json j = nlohmann::json::object();
  for (int i = 0; i < kNumLabels; ++i) j[std::string(kLabels[i])] = s[i];
  return j;
}

std::string read_text_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A model folder that fails to load is the installation's problem, not the request's.
template <typename F>
auto load_model(const fs::path& dir, const char* what, F&& load) {
  if (!fs::is_directory(dir))
    throw Error(fmt::format("no {} model at {} (expected config.json and model.safetensors)", what,
                            dir.string()), "bad_model");
  try {
    return load();
  } catch (const Error& e) {
    throw Error(fmt::format("{} model {}: {}", what, dir.string(), e.what()), "bad_model");
  }
}

}  // namespace

struct Predictor::Impl {
  PredictorOptions opt;
  // forward() is not const in libtorch, but inference changes no state, so calls may overlap.
  mutable models::DistilBert text_model{nullptr};
  mutable std::optional<models::ImageClassifier> face_model;
  std::optional<text::WordPieceTokenizer> tokenizer;
  std::optional<text::TextNormalizer> normalizer;
  std::optional<vision::FaceDetector> detector;
  vision::PreprocessOptions face_pre;
  fusion::FusionModel fusion;
  size_t max_length = 128;
  nlohmann::json info;
  // Runs the text model beside the image decoder, on one torch thread of its own.
  mutable Worker text_worker;
  bool text_beside_decode = false;

  // [CLS] body [SEP] windows of at most max_length tokens, each overlapping the next by half.
  std::vector<std::vector<int64_t>> windows(const std::string& normalized) const {
    auto ids = tokenizer->encode(normalized);
    if (ids.size() <= max_length) return {ids};
    const std::vector<int64_t> body(ids.begin() + 1, ids.end() - 1);
    const size_t width = max_length - 2, stride = width / 2;
    std::vector<std::vector<int64_t>> out;
    for (size_t start = 0;; start += stride) {
      size_t end = std::min(body.size(), start + width);
      std::vector<int64_t> w{tokenizer->cls_id()};
      w.insert(w.end(), body.begin() + start, body.begin() + end);
      w.push_back(tokenizer->sep_id());
      out.push_back(std::move(w));
      if (end == body.size()) break;
    }
    return out;
  }

  // Logits per sequence; sequences are grouped by length so that padding stays small.
  std::vector<Scores> run_text(const std::vector<std::vector<int64_t>>& seqs) const {
    std::vector<Scores> out(seqs.size());
    std::vector<size_t> order(seqs.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return seqs[a].size() < seqs[b].size(); });
    torch::InferenceMode guard;
    for (size_t begin = 0; begin < order.size(); begin += opt.batch_size) {
      size_t end = std::min(order.size(), begin + size_t(opt.batch_size));
      size_t cols = seqs[order[end - 1]].size();
      auto ids = torch::full({int64_t(end - begin), int64_t(cols)}, tokenizer->pad_id(), torch::kLong);
      auto mask = torch::zeros_like(ids);
      auto ia = ids.accessor<int64_t, 2>();
      auto ma = mask.accessor<int64_t, 2>();
      for (size_t r = begin; r < end; ++r)
        for (size_t c = 0; c < seqs[order[r]].size(); ++c) ia[r - begin][c] = seqs[order[r]][c], ma[r - begin][c] = 1;
      auto logits = text_model->forward(ids, mask).to(torch::kDouble).contiguous();
      for (size_t r = begin; r < end; ++r)
        std::memcpy(out[order[r]].data(), logits[int64_t(r - begin)].data_ptr<double>(), sizeof(Scores));
    }
    return out;
  }

  std::vector<Scores> run_faces(const std::vector<cv::Mat>& crops) const {
    std::vector<Scores> out(crops.size());
    const int64_t C = face_pre.channels, H = face_pre.height, W = face_pre.width;
    torch::InferenceMode guard;
    for (size_t begin = 0; begin < crops.size(); begin += opt.batch_size) {
      size_t end = std::min(crops.size(), begin + size_t(opt.batch_size));
      auto pixels = torch::empty({int64_t(end - begin), C, H, W});
      for (size_t r = begin; r < end; ++r) {
        auto chw = vision::preprocess(crops[r], face_pre);
        std::memcpy(pixels[int64_t(r - begin)].data_ptr<float>(), chw.data(), chw.size() * sizeof(float));
      }
      auto logits = face_model->forward(pixels).to(torch::kDouble).contiguous();
      for (size_t r = begin; r < end; ++r)
        std::memcpy(out[r].data(), logits[int64_t(r - begin)].data_ptr<double>(), sizeof(Scores));
    }
    return out;
  }

  // Mean logits over each text's windows.
  std::vector<Scores> text_logits_of(const std::vector<std::vector<std::vector<int64_t>>>& per_text) const {
    std::vector<std::vector<int64_t>> flat;
    for (const auto& ws : per_text) flat.insert(flat.end(), ws.begin(), ws.end());
    auto logits = run_text(flat);
    std::vector<Scores> out(per_text.size(), Scores{});
    size_t k = 0;
    for (size_t t = 0; t < per_text.size(); ++t) {
      for (size_t w = 0; w < per_text[t].size(); ++w, ++k)
        for (int c = 0; c < kNumLabels; ++c) out[t][c] += logits[k][c] / double(per_text[t].size());
    }
    return out;
  }

  std::vector<WordAttribution> explain(const std::string& normalized, const Scores& probs) const {
    // Occlusion: how much the text verdict's probability falls when one word is left out.
    std::istringstream in(normalized);
    std::vector<std::string> words{std::istream_iterator<std::string>(in), {}};
    constexpr size_t kMaxWords = 64;
    if (words.size() > kMaxWords) words.resize(kMaxWords);
    std::vector<std::vector<std::vector<int64_t>>> variants;
    for (size_t i = 0; i < words.size(); ++i) {
      std::string s;
      for (size_t j = 0; j < words.size(); ++j)
        if (j != i) s += words[j] + " ";
      variants.push_back(windows(s));
    }
    auto logits = text_logits_of(variants);
    const int label = fusion::argmax(probs);
    std::vector<WordAttribution> out;
    for (size_t i = 0; i < words.size(); ++i)
      out.push_back({words[i], probs[label] - fusion.text_probabilities(logits[i])[label]});
    return out;
  }
};

Predictor::Predictor(PredictorOptions options) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.opt = std::move(options);
  auto or_default = [&](const fs::path& given, const char* part) {
    return given.empty() ? m.opt.models_dir / part : given;
  };
  const fs::path text_dir = or_default(m.opt.text_model, "text"), face_dir = or_default(m.opt.face_model, "face");
  m.text_model = load_model(text_dir, "text", [&] { return models::load_distilbert(text_dir); });
  m.face_model = load_model(face_dir, "face", [&] { return models::ImageClassifier::load(face_dir); });
  m.text_model->eval();
  m.face_model->module().eval();
  m.face_model->set_mirror_average(m.opt.face_mirror);
  m.face_model->prepare_inference();
  if (m.opt.int8) {
    m.text_model->quantize_int8();
    m.face_model->quantize_int8();
  }
  load_model(text_dir, "text", [&] {
    m.tokenizer = text::WordPieceTokenizer::from_file(text_dir / "vocab.txt");
    auto tok = io::read_json_file(text_dir / "tokenizer_config.json");
    m.max_length = tok.value("model_max_length", m.text_model->config().max_position_embeddings);
    m.max_length = std::min<size_t>(m.max_length, m.text_model->config().max_position_embeddings);
    return 0;
  });
  load_model(face_dir, "face", [&] {
    auto p = models::read_processor_config(face_dir, *m.face_model);
    m.face_pre = vision::from_processor_config(p, m.face_model->num_channels());
    return 0;
  });
  std::vector<std::string> vocab;
  for (size_t i = 0; i < m.tokenizer->vocab_size(); ++i) vocab.push_back(m.tokenizer->id_to_token(int64_t(i)));
  m.normalizer = text::TextNormalizer::from_cldr(m.opt.cldr_dir, text::hashtag_words(vocab));
  m.detector.emplace(m.opt.cascade, m.opt.detector);
  m.text_beside_decode =
      m.opt.text_beside_decode && m.text_worker.submit([] { return models::limit_threads_here(1); }).get();
  const fs::path fusion_file = or_default(m.opt.fusion_file, "fusion.json");
  if (fs::exists(fusion_file)) m.fusion = fusion::FusionModel::load(fusion_file);
  else spdlog::warn("{} not found: fusing uncalibrated, with equal weights", fusion_file.string());

  auto card = [](const fs::path& dir) { return fs::exists(dir / "README.md") ? read_text_file(dir / "README.md") : ""; };
  m.info = {{"labels", std::vector<std::string>(kLabels.begin(), kLabels.end())},
            {"text", {{"path", text_dir.string()}, {"config", io::read_json_file(text_dir / "config.json")},
                      {"card", card(text_dir)}}},
            {"face", {{"path", face_dir.string()}, {"config", io::read_json_file(face_dir / "config.json")},
                      {"mirror_average", m.opt.face_mirror}, {"card", card(face_dir)}}}};
}

Predictor::~Predictor() = default;

const fusion::FusionModel& Predictor::fusion() const { return impl_->fusion; }
void Predictor::set_fusion(fusion::FusionModel model) { impl_->fusion = std::move(model); }
const vision::FaceDetector& Predictor::detector() const { return *impl_->detector; }
const text::TextNormalizer& Predictor::normalizer() const { return *impl_->normalizer; }
const PredictorOptions& Predictor::options() const { return impl_->opt; }

nlohmann::json Predictor::info() const {
  auto j = impl_->info;
  j["fusion"] = impl_->fusion.to_json();
  return j;
}

std::vector<Scores> Predictor::text_logits(const std::vector<std::string>& texts) const {
  std::vector<std::vector<std::vector<int64_t>>> per_text;
  for (const auto& t : texts) per_text.push_back(impl_->windows(impl_->normalizer->normalize(t)));
  return impl_->text_logits_of(per_text);
}

std::vector<Scores> Predictor::face_logits(const std::vector<cv::Mat>& faces) const {
  return impl_->run_faces(faces);
}

Prediction Predictor::predict(const Post& post, bool explain) const {
  auto out = predict_batch({post}, explain).front();
  if (!out.prediction) throw Error(out.error_message, out.error_code);
  return std::move(*out.prediction);
}

std::vector<Outcome> Predictor::predict_batch(const std::vector<Post>& posts, bool explain) const {
  const auto& m = *impl_;
  const auto start = Clock::now();
  struct Work {
    std::string error_code, error_message;
    std::string normalized;
    bool has_text = false;
    std::vector<std::vector<int64_t>> windows;
    cv::Mat image;  // as decoded for faces: maybe grey, maybe reduced
    cv::Size full;
    double scale = 1;  // image's size / full
    std::vector<vision::FaceBox> boxes;
    std::vector<cv::Mat> crops;
  };
  std::vector<Work> work(posts.size());
  auto fail = [&](size_t i, const Error& e) {
    if (work[i].error_code.empty()) work[i].error_code = e.code(), work[i].error_message = e.what();
  };

  auto t = Clock::now();
  std::vector<std::vector<std::vector<int64_t>>> per_text;
  std::vector<size_t> text_owner;
  for (size_t i = 0; i < posts.size(); ++i) {
    const auto& text = posts[i].text;
    if (!text) continue;
    try {
      if (text->size() > m.opt.max_text_bytes)
        throw Error(fmt::format("text is {} bytes, over the limit of {}", text->size(), m.opt.max_text_bytes),
                    "text_too_long");
      work[i].normalized = m.normalizer->normalize(*text);
      if (work[i].normalized.empty()) continue;
      work[i].windows = m.windows(work[i].normalized);
      work[i].has_text = true;
      per_text.push_back(work[i].windows);
      text_owner.push_back(i);
    } catch (const Error& e) {
      fail(i, e);
    }
  }
  const double normalize_ms = ms_since(t);

  // With pictures to read, the text model runs beside the JPEG decoder, on one thread: decoding keeps
  // one core busy, and on tweet-length texts one thread is nearly as fast as two. Detection waits for
  // both: beside it, OpenCV's and torch's threads fought and both got slower (bench/RESULTS.md).
  double text_ms = 0;
  auto run_text = [&] {
    auto t0 = Clock::now();
    auto logits = m.text_logits_of(per_text);
    text_ms = ms_since(t0);
    return logits;
  };
  const bool any_image = std::any_of(posts.begin(), posts.end(), [](const Post& p) { return p.image.has_value(); });
  std::future<std::vector<Scores>> text_job;
  std::vector<Scores> text_logits;
  // The job reads this call's locals: should anything below throw, wait for it before they go.
  struct WaitFor {
    std::future<std::vector<Scores>>& job;
    ~WaitFor() {
      if (job.valid()) job.wait();
    }
  } wait_for_text{text_job};
  if (m.text_beside_decode && any_image && !per_text.empty())
    text_job = m.text_worker.submit(run_text);
  else
    text_logits = run_text();

  auto image_failed = [&](size_t i, const cv::Exception& e) {
    fail(i, Error(std::string("image processing failed: ") + e.what(), "bad_image"));
  };
  t = Clock::now();
  for (size_t i = 0; i < posts.size(); ++i) {
    if (!posts[i].image) continue;
    try {
      auto decoded = vision::decode_for_faces(*posts[i].image, m.opt.decode, m.opt.decode_min_side,
                                              m.face_pre.channels == 1);
      work[i].image = decoded.pixels;
      work[i].full = decoded.full;
      work[i].scale = decoded.scale;
    } catch (const Error& e) {
      fail(i, e);
    } catch (const cv::Exception& e) {
      image_failed(i, e);
    }
  }
  const double decode_ms = ms_since(t);
  if (text_job.valid()) text_logits = text_job.get();

  t = Clock::now();
  for (size_t i = 0; i < posts.size(); ++i) {
    if (work[i].image.empty() || !work[i].error_code.empty()) continue;
    try {
      work[i].boxes = m.detector->detect(work[i].image);
      for (auto& f : work[i].boxes) {
        work[i].crops.push_back(f.whole_image ? work[i].image
                                              : vision::crop_with_margin(work[i].image, f.box, m.opt.face_margin));
        // Boxes are reported in the picture's own pixels, not the reduced copy's.
        const double k = 1.0 / work[i].scale;
        f.box = cv::Rect(int(std::lround(f.box.x * k)), int(std::lround(f.box.y * k)),
                         int(std::lround(f.box.width * k)), int(std::lround(f.box.height * k))) &
                cv::Rect({0, 0}, work[i].full);
      }
    } catch (const Error& e) {
      fail(i, e);
    } catch (const cv::Exception& e) {
      image_failed(i, e);
    }
  }
  const double detect_ms = ms_since(t);

  t = Clock::now();
  std::vector<cv::Mat> crops;
  for (const auto& w : work)
    if (w.error_code.empty()) crops.insert(crops.end(), w.crops.begin(), w.crops.end());
  auto face_logits = m.run_faces(crops);
  const double face_ms = ms_since(t);

  t = Clock::now();
  std::vector<Outcome> outcomes(posts.size());
  size_t next_text = 0, next_face = 0;
  for (size_t i = 0; i < posts.size(); ++i) {
    auto& w = work[i];
    auto& o = outcomes[i];
    o.id = posts[i].id;
    std::optional<Scores> text_logit;
    if (next_text < text_owner.size() && text_owner[next_text] == i) text_logit = text_logits[next_text++];
    if (w.error_code.empty() && !posts[i].text && !posts[i].image)
      w.error_code = "empty_post", w.error_message = "the post has neither text nor an image";
    if (w.error_code.empty() && !w.has_text && w.image.empty())
      w.error_code = "empty_post", w.error_message = "the post's text is empty or whitespace and it has no image";
    if (!w.error_code.empty()) {
      o.error_code = w.error_code, o.error_message = w.error_message;
      continue;
    }
    Prediction p;
    p.id = posts[i].id;
    p.normalized_text = w.normalized;
    p.text_windows = int(w.windows.size());
    if (text_logit) {
      p.text = m.fusion.text_probabilities(*text_logit);
      p.modalities.push_back("text");
    } else {
      p.notes.push_back(posts[i].text ? "The caption had no words the text model can read, so the text abstained."
                                      : "There is no caption, so the text abstained.");
    }
    if (!w.image.empty()) {
      p.image_width = w.full.width, p.image_height = w.full.height;
      double total = 0;
      for (const auto& box : w.boxes) {
        Face f{box.box, box.whole_image, m.fusion.image_probabilities(face_logits[next_face++]), 0};
        // Bigger and more confident faces speak louder for the picture.
        f.weight = double(box.box.area()) * *std::max_element(f.probabilities.begin(), f.probabilities.end());
        total += f.weight;
        p.faces.push_back(f);
      }
      if (!p.faces.empty()) {
        Scores agg{};
        for (auto& f : p.faces) {
          f.weight /= total;
          for (int c = 0; c < kNumLabels; ++c) agg[c] += f.weight * f.probabilities[c];
        }
        p.image = agg;
        p.modalities.push_back("image");
      } else {
        p.notes.push_back("No face was found in the picture, so the image abstained.");
      }
    } else {
      p.notes.push_back("There is no picture, so the image abstained.");
    }
    if (!p.text && !p.image) {
      o.error_code = "no_signal";
      o.error_message = "neither modality could be read: " + p.notes.front() + " " + p.notes.back();
      continue;
    }
    p.fused = m.fusion.fuse(p.text, p.image);
    p.label = fusion::argmax(p.fused);
    p.confidence = p.fused[p.label];
    if (explain && p.text) p.attribution = m.explain(w.normalized, *p.text);
    o.prediction = std::move(p);
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

nlohmann::json Prediction::to_json() const {
  nlohmann::json faces_json = nlohmann::json::array();
  for (const auto& f : faces)
    faces_json.push_back({{"box", {{"x", f.box.x}, {"y", f.box.y}, {"width", f.box.width}, {"height", f.box.height}}},
                          {"whole_image", f.whole_image},
                          {"label", std::string(kLabels[fusion::argmax(f.probabilities)])},
                          {"probabilities", label_map(f.probabilities)},
                          {"weight", f.weight}});
  nlohmann::json attr = nlohmann::json::array();
  for (const auto& a : attribution) attr.push_back({{"word", a.word}, {"score", a.score}});
  nlohmann::json timings = nlohmann::json::object();
  for (const auto& [k, v] : timings_ms) timings[k] = v;
  auto optional_map = [](const std::optional<Scores>& s) { return s ? label_map(*s) : nlohmann::json(nullptr); };
  nlohmann::json j = {
      {"label", std::string(kLabels[label])},
      {"confidence", confidence},
      {"modalities", modalities},
      {"notes", notes},
      {"probabilities", {{"fused", label_map(fused)}, {"text", optional_map(text)}, {"image", optional_map(image)}}},
      {"text", {{"normalized", normalized_text}, {"windows", text_windows}}},
      {"image", image_width ? nlohmann::json{{"width", image_width}, {"height", image_height}} : nlohmann::json(nullptr)},
      {"faces", faces_json},
      {"timings_ms", timings}};
  if (!id.empty()) j["id"] = id;
  if (!attribution.empty()) j["attribution"] = attr;
  return j;
}

nlohmann::json Outcome::to_json() const {
  if (prediction) return prediction->to_json();
  nlohmann::json j = {{"error", {{"code", error_code}, {"message", error_message}}}};
  if (!id.empty()) j["id"] = id;
  return j;
}

}  // namespace emopost::predict
