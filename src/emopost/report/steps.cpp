#include "emopost/report/steps.h"

#include <chrono>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/core/labels.h"
#include "emopost/core/progress.h"
#include "emopost/predict/predictor.h"
#include "emopost/text/words.h"
#include "emopost/train/trainer.h"

namespace emopost::report {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A model card or a training log can be edited without changing what a model computes: editing
// them must not throw away the cached evaluations.
bool shapes_results(const fs::path& file) {
  return file.extension() != ".md" && file.filename() != "log.jsonl";
}

}  // namespace

json files_identity(const fs::path& dir) {
  json out = json::array();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return json(dir.string() + " (absent)");
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end; !ec && it != end;
       it.increment(ec))
    if (it->is_regular_file(ec) && shapes_results(it->path())) files.push_back(it->path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files)
    out.push_back({fs::relative(f, dir, ec).string(), fs::file_size(f, ec),
                   std::chrono::duration_cast<std::chrono::seconds>(fs::last_write_time(f, ec).time_since_epoch()).count()});
  return out;
}

namespace {

fs::path cache_file(const fs::path& dir, const json& key, const char* ext) {
  return dir / fmt::format("{:016x}{}", std::hash<std::string>{}(key.dump()), ext);
}

}  // namespace

json cached(const fs::path& dir, const json& key, const std::function<json()>& compute) {
  const auto file = cache_file(dir, key, ".json");
  std::error_code ec;
  if (fs::exists(file, ec)) {
    try {
      auto j = read_json_file(file);
      if (j.is_object() && j.value("key", json()) == key && j.contains("value")) {
        spdlog::info("{}: from the cache ({})", key.value("step", "step"), file.string());
        return std::move(j["value"]);
      }
    } catch (const std::exception&) {
      // A damaged cache entry is computed again.
    }
  }
  json value = compute();
  fs::create_directories(dir);
  write_json_file(file, {{"key", key}, {"value", value}});
  return value;
}

json cached_evaluation(const std::string& step, const train::EvalRequest& q, const fs::path& cache_dir) {
  const fs::path data = q.kind == "text"            ? q.data_root / "text"
                        : q.split == "photos-val"   ? q.data_root / "faces/photos-val"
                                                    : q.data_root / "faces/fer2013" / q.split;
  json key = {{"step", step}, {"model", files_identity(q.model_dir)}, {"data", files_identity(data)},
              {"split", q.split}, {"limit", q.limit}, {"mirror", q.mirror ? nlohmann::json(*q.mirror) : nlohmann::json()}, {"detector", q.faces.detector}};
  if (!q.drop_words.empty()) key["drop_words"] = q.drop_words;
  if (q.face_labels != "fer2013") key["face_labels"] = q.face_labels;
  if (!q.faces.detector.empty())
    key["detector_models"] = {files_identity(q.faces.detector_model), files_identity(q.faces.landmarks_model)};
  return cached(cache_dir, key, [&] { return json(train::run_evaluation(q).predictions); });
}

Evaluated evaluated(const json& predictions) {
  Evaluated e;
  for (const auto& p : predictions) {
    e.truth.push_back(*label_id(p["label"].get<std::string>()));
    e.predicted.push_back(*label_id(p["predicted"].get<std::string>()));
    e.probabilities.push_back(p["probabilities"].get<std::vector<double>>());
    if (p.contains("text")) {
      e.texts.push_back(p["text"].get<std::string>());
      e.words.push_back(text::words_of(e.texts.back()).size());
    }
    if (p.contains("file")) e.files.push_back(p["file"].get<std::string>());
  }
  return e;
}

Rows attributed_words(const fs::path& models_dir, const std::vector<std::string>& texts, int k) {
  predict::PredictorOptions po;
  po.models_dir = models_dir;
  const predict::Predictor predictor(po);
  std::vector<std::vector<std::pair<std::string, double>>> attributions;
  std::vector<int> predicted;
  ProgressBar bar(texts.size(), "attribution", "texts");
  constexpr size_t kBatch = 64;
  for (size_t begin = 0; begin < texts.size(); begin += kBatch) {
    std::vector<predict::Post> posts;
    for (size_t i = begin; i < std::min(texts.size(), begin + kBatch); ++i) posts.push_back({"", texts[i], std::nullopt});
    for (const auto& o : predictor.predict_many(posts, /*explain=*/true)) {
      if (!o.prediction || !o.prediction->text) continue;
      std::vector<std::pair<std::string, double>> words;
      for (const auto& w : o.prediction->attribution) words.emplace_back(w.word, w.score);
      attributions.push_back(std::move(words));
      predicted.push_back(fusion::argmax(*o.prediction->text));
    }
    bar.update(posts.size());
  }
  bar.finish();
  return top_attributed_words(attributions, predicted, k);
}

namespace {

eval::Report scored(const json& predictions) {
  const auto e = evaluated(predictions);
  return eval::classification_report(e.truth, e.predicted, kNumLabels);
}

// The share of texts holding at least one of the words.
double share_with(const std::vector<std::string>& texts, const std::set<std::string>& words) {
  size_t n = 0;
  for (const auto& t : texts)
    for (const auto& w : text::words_of(t))
      if (words.count(w)) {
        ++n;
        break;
      }
  return texts.empty() ? 0.0 : double(n) / double(texts.size());
}

// The shipped text model fine-tuned `r.steps` on the training texts (without `words` when given),
// then tested as `test` tests the shipped one: its prediction rows. The run's folder goes once it is
// tested; the rows are cached.
json fine_tuned(const AblationRequest& r, const train::EvalRequest& test, const std::vector<std::string>& words) {
  const json key = {{"step", words.empty() ? "ablation: fine-tuning on the full texts" : "ablation: fine-tuning without the words"},
                    {"model", files_identity(r.text_model)}, {"data", files_identity(r.data_root / "text")},
                    {"words", words}, {"steps", r.steps}, {"learning_rate", r.learning_rate}, {"limit", r.limit},
                    {"split", r.eval_split}};
  return cached(r.cache_dir, key, [&] {
    spdlog::info("{} ({} steps)", key["step"].get<std::string>(), r.steps);
    train::TrainConfig c;
    try {  // the shipped model's own recipe (batch size, class weights, text length), where it is kept
      c = train::TrainConfig::load(r.text_model / "training_config.json");
    } catch (const std::exception& e) {
      spdlog::warn("ablation: the text model's recipe was not read ({}); fine-tuning with the defaults", e.what());
    }
    c.task = "text";
    c.output_dir = cache_file(r.cache_dir, key, ".run");
    c.data_root = r.data_root;
    c.init_from = r.text_model;
    c.vocab = r.text_model / "vocab.txt";
    c.drop_words = words;
    c.max_steps = r.steps;
    c.epochs = std::max(1, r.steps);  // max_steps ends it; a small sample needs several epochs
    c.early_stopping_patience = 0;
    c.learning_rate = r.learning_rate;
    c.warmup_ratio = 0.1;
    c.limit_examples = r.limit;
    c.threads = 0;
    c.save_dtype = "float32";
    fs::remove_all(c.output_dir);
    train::fit(c, /*resume=*/false);
    train::EvalRequest q = test;
    q.model_dir = c.output_dir / "best";
    q.drop_words = words;
    json rows = train::run_evaluation(q).predictions;
    fs::remove_all(c.output_dir);
    return rows;
  });
}

}  // namespace

Ablation run_ablation(const AblationRequest& r) {
  std::set<std::string> drop;
  for (const auto& w : r.words)
    for (const auto& part : text::words_of(w)) drop.insert(part);
  if (drop.empty()) throw Error("the config's \"ablation_words\" names no word to drop", Errc::invalid_input);
  if (r.steps <= 0) throw Error("the config's \"ablation_steps\" must be positive", Errc::invalid_input);
  const std::vector<std::string> words(drop.begin(), drop.end());

  train::EvalRequest q;
  q.kind = "text";
  q.model_dir = r.text_model;
  q.data_root = r.data_root;
  q.split = r.eval_split;
  q.limit = r.limit;
  const json shipped = cached_evaluation("evaluating the text model", q, r.cache_dir);  // figure 7's
  const json tuned = fine_tuned(r, q, {}), tuned_without = fine_tuned(r, q, words);
  q.drop_words = words;
  const json shipped_without = cached_evaluation("ablation: the shipped text model without the words", q, r.cache_dir);

  Ablation a;
  const std::string steps = fmt::format("shipped + {} steps", r.steps);
  struct Row { std::string model, trained_on, tested_on; const json& predictions; };
  const std::vector<Row> rows = {{"shipped", "full texts", "full texts", shipped},
                                 {"shipped", "full texts", "without the words", shipped_without},
                                 {steps, "full texts", "full texts", tuned},
                                 {steps, "without the words", "without the words", tuned_without}};
  std::vector<eval::Report> reports;
  for (const auto& row : rows) {
    reports.push_back(scored(row.predictions));
    a.scores.push_back({{"model", row.model}, {"trained_on", row.trained_on}, {"tested_on", row.tested_on},
                        {"examples", reports.back().total}, {"accuracy", reports.back().accuracy},
                        {"macro_f1", reports.back().macro_f1}});
  }
  for (const auto& [name, report] : {std::pair{"fine-tuned on the full texts", &reports[2]},
                                     std::pair{"fine-tuned without the words", &reports[3]}})
    for (auto cell : confusion_rows(*report)) {
      cell["model"] = name;
      a.confusion.push_back(std::move(cell));
    }

  std::vector<std::string> test_texts;
  for (const auto& p : shipped) test_texts.push_back(p.value("text", ""));
  std::string training_share;
  try {
    std::vector<std::string> train_texts;
    for (auto& e : data::read_text_recipe(r.data_root, "all", "train")) train_texts.push_back(std::move(e.text));
    training_share = fmt::format("{:.1f}% of the training texts and ", 100 * share_with(train_texts, drop));
  } catch (const std::exception&) {
    // Without a training split the fine-tuning failed already; the test share is still worth telling.
  }
  a.notes.push_back(fmt::format("Words dropped: {} (in {}{:.1f}% of the {} texts).", fmt::join(words, ", "), training_share,
                                100 * share_with(test_texts, drop), r.eval_split));
  a.notes.push_back(fmt::format("Fine-tuned for {} steps (learning rate {:g}) on each version of the training texts: "
                                "accuracy {:.2f}% without the words against {:.2f}% with them ({:+.2f} points), "
                                "macro-F1 {:.3f} against {:.3f} ({:+.3f}).",
                                r.steps, r.learning_rate, 100 * reports[3].accuracy, 100 * reports[2].accuracy,
                                100 * (reports[3].accuracy - reports[2].accuracy), reports[3].macro_f1, reports[2].macro_f1,
                                reports[3].macro_f1 - reports[2].macro_f1));
  a.notes.push_back(fmt::format("The shipped model, tested without the words and not retrained: accuracy {:.2f}% "
                                "({:+.2f} points), macro-F1 {:.3f} ({:+.3f}).",
                                100 * reports[1].accuracy, 100 * (reports[1].accuracy - reports[0].accuracy),
                                reports[1].macro_f1, reports[1].macro_f1 - reports[0].macro_f1));
  return a;
}

}  // namespace emopost::report
