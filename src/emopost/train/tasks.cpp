#include "emopost/train/tasks.h"

#include <cstring>
#include <numeric>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "emopost/core/error.h"
#include "emopost/core/labels.h"
#include "emopost/core/progress.h"
#include "emopost/data/datasets.h"
#include "emopost/io/hf_config.h"
#include "emopost/models/checkpoint.h"
#include "emopost/models/folder.h"
#include "emopost/models/image_classifier.h"
#include "emopost/models/ngram_expert.h"
#include "emopost/text/perturb.h"
#include "emopost/text/reading.h"
#include "emopost/text/words.h"
#include "emopost/vision/augment.h"
#include "emopost/vision/preprocess.h"

namespace emopost::train {

namespace fs = std::filesystem;

const SplitData& Task::split(const std::string& name) const {
  auto it = splits_.find(name);
  if (it == splits_.end()) throw Error("no data loaded for split \"" + name + "\"");
  return it->second;
}

void copy_state(torch::nn::Module& to, const torch::nn::Module& from) {
  torch::NoGradGuard no_grad;
  auto src = from.named_parameters();
  for (auto& p : to.named_parameters()) p.value().copy_(src[p.key()]);
  auto buffers = from.named_buffers();
  for (auto& b : to.named_buffers()) b.value().copy_(buffers[b.key()]);
}

namespace {

std::vector<std::string> all_labels() { return {kLabels.begin(), kLabels.end()}; }

template <typename T>
void limit(std::vector<T>& v, size_t n) {
  if (n && v.size() > n) v.resize(n);
}

// What training does to the texts as it draws them (TrainConfig's fields of the same names).
struct TextTraining {
  double text_augment = 0;
  double word_dropout = 0;
  bool from_scratch = false;  // rows no batch showed then take [UNK]'s row (with word dropout)
};

// Texts are read as the predictor reads them (text::TextReader): normalised, in windows whose
// logits are averaged, so the model is trained and measured on the reading it is used with.
class TextTask : public Task {
 public:
  TextTask(models::DistilBert model, text::TextReader reader, fs::path vocab, const std::vector<std::string>& drop = {},
           TextTraining how = {})
      : model_(std::move(model)), reader_(std::move(reader)), vocab_(std::move(vocab)), how_(how),
        trained_(reader_.tokenizer().vocab_size(), false) {
    for (const auto& w : drop)  // as text::words_of reads words: "Feeling" drops "feeling"
      for (auto& part : text::words_of(w)) drop_.insert(std::move(part));
  }

  void add_split(const std::string& name, std::vector<data::TextExample> examples) {
    auto& s = splits_[name];
    auto& inputs = inputs_[name];
    size_t unreadable = 0;
    for (auto& e : examples) {
      if (!drop_.empty()) e.text = text::drop_words(e.text, drop_);
      auto in = reader_.read(e.text);
      if (in.empty()) {  // nothing left after normalisation: the predictor abstains on these too
        ++unreadable;
        continue;
      }
      if (expert_) normalized_[name].push_back(in.normalized);
      inputs.push_back(std::move(in.windows));
      s.labels.push_back(e.label);
      s.sources.push_back(e.source);
      s.texts.push_back(std::move(e.text));
    }
    if (unreadable) spdlog::warn("{}: {} texts have no readable words and are left out", name, unreadable);
  }

  torch::nn::Module& module() override { return *model_; }
  std::string model_type() const override { return "distilbert"; }
  size_t cost(const std::string& split, size_t i) const override {
    size_t n = 0;
    for (const auto& w : inputs_.at(split)[i]) n += w.size();
    return n;
  }

  torch::Tensor logits(const std::string& split, const std::vector<size_t>& idx, bool augment,
                       std::mt19937& rng) override {
    const auto& all = inputs_.at(split);
    const auto& data = splits_.at(split);
    std::vector<const std::vector<int64_t>*> windows;
    std::vector<int64_t> owner;
    std::vector<text::TextInput> changed(idx.size());  // holds the windows of the texts perturbed here
    const bool may_change = augment && how_.text_augment > 0;
    std::bernoulli_distribution change(may_change ? how_.text_augment : 0.0);
    for (size_t r = 0; r < idx.size(); ++r) {
      const std::vector<std::vector<int64_t>>* text_windows = &all[idx[r]];
      if (may_change && change(rng)) {
        changed[r] = reader_.read(text::perturb(data.texts[idx[r]], data.labels[idx[r]], rng));
        if (!changed[r].empty()) text_windows = &changed[r].windows;
      }
      for (const auto& w : *text_windows) windows.push_back(&w), owner.push_back(int64_t(r));
    }
    auto batch = reader_.batch(windows);
    if (augment && how_.word_dropout > 0) drop_and_mark(batch.ids, rng);
    auto ids = torch::from_blob(batch.ids.data(), {batch.rows, batch.cols}, torch::kLong);
    auto mask = torch::from_blob(batch.mask.data(), {batch.rows, batch.cols}, torch::kLong);
    auto per_window = model_->forward(ids, mask);
    auto per_text = per_window;
    if (size_t(batch.rows) != idx.size()) {  // mean over each text's windows
      auto index = torch::tensor(owner, torch::kLong);
      auto sums = torch::zeros({int64_t(idx.size()), per_window.size(1)}, per_window.options()).index_add(0, index, per_window);
      auto counts = torch::zeros({int64_t(idx.size())}, per_window.options()).index_add(0, index, torch::ones({batch.rows}, per_window.options()));
      per_text = sums / counts.unsqueeze(1);
    }
    return expert_ ? fused(per_text, normalized_.at(split), idx) : per_text;
  }

  // Evaluating a folder with an n-gram expert: its fused scores, as the predictor reads them.
  void set_expert(models::NgramExpert expert) { expert_.emplace(std::move(expert)); }

  void save(const fs::path& dir, torch::ScalarType dtype) override {
    models::save_pretrained(model_, dir, dtype);
    models::save_tokenizer(dir, vocab_, reader_.max_length());
  }

  void load_weights(const fs::path& dir) override { copy_state(*model_, *models::load_distilbert(dir)); }
  void quantize_int8() override { model_->quantize_int8(); }

  // A model trained from scratch has random rows for the word pieces its data never showed; they
  // would push texts of other sources anywhere. With word dropout they take [UNK]'s row instead.
  void end_epoch() override {
    if (!how_.from_scratch || how_.word_dropout <= 0) return;
    std::vector<int64_t> untrained;
    for (size_t id = 0; id < trained_.size(); ++id)
      if (!trained_[id] && int64_t(id) != reader_.tokenizer().pad_id()) untrained.push_back(int64_t(id));
    if (untrained.empty()) return;
    torch::NoGradGuard no_grad;
    auto w = model_->word_embeddings_weight();
    w.index_copy_(0, torch::tensor(untrained, torch::kLong),
                  w[reader_.tokenizer().unk_id()].unsqueeze(0).expand({int64_t(untrained.size()), w.size(1)}));
  }

 private:
  torch::Tensor fused(const torch::Tensor& logits, const std::vector<std::string>& normalized,
                      const std::vector<size_t>& idx) const {
    auto in = logits.detach().to(torch::kDouble).contiguous();
    auto out = torch::empty_like(in);
    for (size_t r = 0; r < idx.size(); ++r) {
      fusion::Scores l;
      std::copy_n(in[int64_t(r)].data_ptr<double>(), l.size(), l.begin());
      const auto f = expert_->fuse(l, normalized[idx[r]]);
      std::copy(f.begin(), f.end(), out[int64_t(r)].data_ptr<double>());
    }
    return out.to(logits.scalar_type());
  }

  // Word dropout on a training batch's ids (never [CLS], [SEP] or padding), and which rows it used.
  void drop_and_mark(std::vector<int64_t>& ids, std::mt19937& rng) {
    const auto& tok = reader_.tokenizer();
    std::bernoulli_distribution drop(how_.word_dropout);
    for (auto& id : ids) {
      trained_[size_t(id)] = true;  // before the dropout: a word of the data is not an untrained row
      const bool special = id == tok.cls_id() || id == tok.sep_id() || id == tok.pad_id();
      if (!special && drop(rng)) id = tok.unk_id();
    }
  }

  models::DistilBert model_;
  text::TextReader reader_;
  fs::path vocab_;
  std::set<std::string> drop_;  // words left out of every text (the report's ablation)
  TextTraining how_;
  std::optional<models::NgramExpert> expert_;
  std::map<std::string, std::vector<std::string>> normalized_;  // per split, with an expert only
  std::vector<bool> trained_;  // word-piece rows that a training batch has used (with word dropout)
  std::map<std::string, std::vector<std::vector<std::vector<int64_t>>>> inputs_;  // windows per example
};

class ImageTask : public Task {
 public:
  ImageTask(models::ImageClassifier model, vision::PreprocessOptions pre, std::optional<vision::AugmentOptions> augment)
      : model_(std::move(model)), pre_(std::move(pre)), augment_(std::move(augment)) {}

  void add_split(const std::string& name, const std::vector<data::FaceExample>& examples, const FaceReading& how) {
    auto& s = splits_[name];
    images_[name] = read_faces(examples, pre_.channels, how, name, &s.face_found);
    for (const auto& e : examples) {
      s.labels.push_back(e.label);
      s.sources.push_back(e.source);
      s.files.push_back(e.path.string());
      if (!e.target.empty()) s.targets.push_back(e.target);
    }
    if (!s.targets.empty() && s.targets.size() != s.size())
      throw Error(fmt::format("{}: some faces have a label distribution and some do not", name));
  }

  torch::nn::Module& module() override { return model_.module(); }
  std::string model_type() const override { return model_.model_type(); }

  torch::Tensor logits(const std::string& split, const std::vector<size_t>& idx, bool augment,
                       std::mt19937& rng) override {
    return model_.forward(pixels(split, idx, augment, rng));
  }

  torch::Tensor mixed_logits(const std::string& split, const std::vector<size_t>& idx,
                             const std::vector<size_t>& partner, float lambda, std::mt19937& rng) override {
    auto mixed = pixels(split, idx, true, rng) * lambda + pixels(split, partner, true, rng) * (1 - lambda);
    return model_.forward(mixed);
  }

  void save(const fs::path& dir, torch::ScalarType dtype) override {
    model_.save(dir, dtype);
    write_json_file(dir / "preprocessor_config.json", vision::to_processor_config(pre_).to_json());
  }

  void load_weights(const fs::path& dir) override {
    copy_state(model_.module(), models::ImageClassifier::load(dir).module());
  }

  // Knowledge distillation: each training face's target becomes `weight` times the teacher's
  // probabilities for it (a face folder, an ensemble too, with the mirror where its folder says, as predict reads)
  // plus 1 - `weight` times its labels. The teacher reads the clean face once, at the start.
  void distil_from(const fs::path& teacher_dir, double weight) {
    auto teacher = models::load_face_folder(teacher_dir);
    teacher.model.set_mirror_average(teacher.mirror);
    teacher.model.prepare_inference();
    torch::NoGradGuard no_grad;
    auto& s = splits_.at("train");
    std::vector<std::vector<float>> targets(s.size(), std::vector<float>(kNumLabels));
    ProgressBar bar(s.size(), "teacher " + teacher_dir.string(), "img");
    for (size_t start = 0; start < s.size(); start += 64) {
      std::vector<size_t> idx(std::min<size_t>(64, s.size() - start));
      std::iota(idx.begin(), idx.end(), start);
      const auto probs =
          torch::softmax(teacher.model.forward(to_pixels(images_.at("train"), idx, teacher.preprocess)), 1).contiguous();
      const auto p = probs.accessor<float, 2>();
      for (size_t r = 0; r < idx.size(); ++r) {
        const size_t i = idx[r];
        for (int c = 0; c < kNumLabels; ++c) {
          const float label = s.targets.empty() ? float(s.labels[i] == c) : s.targets[i][size_t(c)];
          targets[i][size_t(c)] = float(weight) * p[int64_t(r)][c] + float(1 - weight) * label;
        }
      }
      bar.update(idx.size());
    }
    bar.finish();
    s.targets = std::move(targets);
  }
  void quantize_int8() override { model_.quantize_int8(); }
  void set_mirror_average(bool on) override { model_.set_mirror_average(on); }

 private:
  torch::Tensor pixels(const std::string& split, const std::vector<size_t>& idx, bool augment, std::mt19937& rng) {
    return to_pixels(images_.at(split), idx, pre_, augment && augment_ ? &*augment_ : nullptr, &rng);
  }

  // The model's input [B, C, H, W] for images[idx], augmented when `augment` is given.
  static torch::Tensor to_pixels(const std::vector<cv::Mat>& images, const std::vector<size_t>& idx,
                                 const vision::PreprocessOptions& pre, const vision::AugmentOptions* augment = nullptr,
                                 std::mt19937* rng = nullptr) {
    auto out = torch::empty({static_cast<int64_t>(idx.size()), pre.channels, pre.height, pre.width});
    for (size_t r = 0; r < idx.size(); ++r) {
      cv::Mat img = images[idx[r]];
      if (augment) img = vision::augment(img, *rng, *augment);
      auto chw = vision::preprocess(img, pre);
      std::memcpy(out[r].data_ptr<float>(), chw.data(), chw.size() * sizeof(float));
    }
    return out;
  }

  models::ImageClassifier model_;
  vision::PreprocessOptions pre_;
  std::optional<vision::AugmentOptions> augment_;
  std::map<std::string, std::vector<cv::Mat>> images_;
};

std::unique_ptr<TextTask> text_task(models::DistilBert model, text::TextReader reader, const fs::path& vocab,
                                    const fs::path& data_root, const std::string& recipe,
                                    const std::vector<std::string>& splits, size_t n,
                                    const std::vector<std::string>& drop, TextTraining how = {},
                                    std::optional<models::NgramExpert> expert = std::nullopt) {
  auto task = std::make_unique<TextTask>(std::move(model), std::move(reader), vocab, drop, how);
  if (expert) task->set_expert(std::move(*expert));
  for (const auto& s : splits) {
    auto examples = data::read_text_recipe(data_root, recipe, s);
    limit(examples, n);
    task->add_split(s, std::move(examples));
  }
  return task;
}

std::unique_ptr<ImageTask> image_task(models::ImageClassifier model, vision::PreprocessOptions pre,
                                      std::optional<vision::AugmentOptions> augment, const fs::path& data_root,
                                      const std::vector<std::string>& splits, size_t n, const FaceReading& how,
                                      const std::string& labels = "fer2013") {
  auto task = std::make_unique<ImageTask>(std::move(model), std::move(pre), std::move(augment));
  // Validation and test score the majority label even when training learns the votes.
  for (const auto& s : splits)
    task->add_split(s, face_examples(data_root, s, s == "train" || labels != "ferplus-votes" ? labels : "ferplus", n),
                    how);
  return task;
}

}  // namespace

std::unique_ptr<Task> make_task(const TrainConfig& c, const std::vector<std::string>& splits) {
  models::LoadOptions labels{.labels = all_labels()};
  if (c.task == "text") {
    models::DistilBert model{nullptr};
    if (!c.init_from.empty()) {
      model = models::load_distilbert(c.init_from, labels);
    } else {
      auto config = io::DistilBertConfig::from_json(c.model_config);
      config.id2label = all_labels();
      model = models::DistilBert(config);
    }
    if (c.max_length > model->config().max_position_embeddings)
      throw Error(fmt::format("max_length {} exceeds the model's max_position_embeddings {}",
                              c.max_length, model->config().max_position_embeddings));
    return text_task(model, text::TextReader::from_vocab(c.vocab, size_t(c.max_length)), c.vocab, c.data_root,
                     c.recipe, splits, c.limit_examples, c.drop_words,
                     {.text_augment = c.text_augment, .word_dropout = c.word_dropout, .from_scratch = c.init_from.empty()});
  }
  auto model = c.init_from.empty() ? models::ImageClassifier::create(c.model_config, all_labels())
                                    : models::ImageClassifier::load(c.init_from, labels);
  if (model.num_channels() != c.image_channels)
    throw Error(fmt::format("image_channels {} disagrees with the model's num_channels {}",
                            c.image_channels, model.num_channels()));
  const int side = c.image_size ? c.image_size : model.image_size();
  if (side == 0) throw Error("a " + model.model_type() + " model takes any input size: give \"image_size\"");
  if (model.image_size() && side != model.image_size())
    throw Error(fmt::format("image_size {} disagrees with the model's image_size {}", side, model.image_size()));
  io::ImageProcessorConfig processor;
  processor.height = processor.width = side;
  processor.image_mean = c.image_mean, processor.image_std = c.image_std;
  models::check_normalization(model, processor, "the training config's image_mean and image_std");
  auto pre = vision::from_processor_config(processor, c.image_channels);
  std::optional<vision::AugmentOptions> augment;
  if (c.augment) augment = c.photo_augment ? vision::AugmentOptions::for_photos() : vision::AugmentOptions{};
  FaceReading how{.detector = c.face_detector, .detector_model = c.detector_model,
                  .landmarks_model = c.landmarks_model, .cache = c.face_cache};
  auto task = image_task(std::move(model), pre, augment, c.data_root, splits, c.limit_examples, how, c.face_labels);
  if (!c.teacher.empty()) task->distil_from(c.teacher, c.teacher_weight);
  return task;
}

std::unique_ptr<Task> load_task(const std::string& kind, const fs::path& model_dir,
                                const fs::path& data_root, const std::string& recipe,
                                const std::vector<std::string>& splits, size_t n, const FaceReading& faces,
                                const std::vector<std::string>& drop_words) {
  if (kind == "text") {
    auto folder = models::load_text_folder(model_dir);
    return text_task(folder.model, std::move(folder.reader), model_dir / "vocab.txt", data_root, recipe, splits, n,
                     drop_words, {}, std::move(folder.expert));
  }
  if (kind == "image") {
    auto folder = models::load_face_folder(model_dir);
    return image_task(std::move(folder.model), folder.preprocess, std::nullopt, data_root, splits, n, faces);
  }
  throw Error("unknown model kind \"" + kind + "\" (use text or image)");
}

std::vector<data::FaceExample> face_examples(const fs::path& data_root, const std::string& split,
                                             const std::string& labels, size_t n, size_t* left_out) {
  auto examples = data::read_face_split(data_root, split);
  size_t dropped = 0;
  if (labels != "fer2013" && split != "photos-val") {
    dropped = data::relabel_ferplus(examples, data_root, labels == "ferplus-votes");
    spdlog::info("{}: FER+ labels for {} faces; {} without a usable FER+ label left out", split, examples.size(),
                 dropped);
  }
  if (left_out) *left_out = dropped;
  data::take_evenly(examples, n);  // the list is sorted by class folder
  return examples;
}

std::unique_ptr<Task> load_image_task(const fs::path& model_dir, const std::string& split,
                                      const std::vector<data::FaceExample>& examples, const FaceReading& faces) {
  auto folder = models::load_face_folder(model_dir);
  auto task = std::make_unique<ImageTask>(std::move(folder.model), folder.preprocess, std::nullopt);
  task->add_split(split, examples, faces);
  return task;
}

std::unique_ptr<Task> load_text_task(const fs::path& model_dir, const std::string& split,
                                     std::vector<data::TextExample> examples, const std::vector<std::string>& drop_words,
                                     bool with_expert) {
  auto folder = models::load_text_folder(model_dir);
  auto task = std::make_unique<TextTask>(folder.model, std::move(folder.reader), model_dir / "vocab.txt", drop_words);
  if (with_expert && folder.expert) task->set_expert(std::move(*folder.expert));
  task->add_split(split, std::move(examples));
  return task;
}

}  // namespace emopost::train
