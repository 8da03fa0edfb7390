#pragma once
// The report's long steps: evaluating a model over a split, the attribution of figure 8 and the
// ablation of figure 10. Each result is cached under the report's folder by the hash of everything
// that shapes it, so that a report run again with only a chart changed takes seconds. No torch here.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "emopost/report/figures.h"
#include "emopost/train/evaluation.h"

namespace emopost::report {

// What identifies a folder's contents for the cache: each regular file's path, size and time, less
// the model cards (*.md) and training logs, which shape no number of the report.
nlohmann::json files_identity(const std::filesystem::path& dir);

// `compute()`, or its value kept in `dir` under `key` (whose "step" names it in the log).
nlohmann::json cached(const std::filesystem::path& dir, const nlohmann::json& key,
                      const std::function<nlohmann::json()>& compute);

// train::run_evaluation's prediction rows, cached; `step` names it in the log.
nlohmann::json cached_evaluation(const std::string& step, const train::EvalRequest& request,
                                 const std::filesystem::path& cache_dir);

// Labels, predictions and probabilities of an evaluation's prediction rows, with each text's words
// and each face's file where the rows name them.
struct Evaluated {
  std::vector<int> truth, predicted;
  std::vector<std::vector<double>> probabilities;
  std::vector<size_t> words;
  std::vector<std::string> texts, files;
};
Evaluated evaluated(const nlohmann::json& predictions);

// Figure 8's rows: occlusion over every text, as `predict --explain` computes it, summed per
// predicted class (top_attributed_words).
Rows attributed_words(const std::filesystem::path& models_dir, const std::vector<std::string>& texts, int k);

// Figure 10: the text model without some words. The shipped model is fine-tuned for `steps` on the
// training texts twice, once as they are and once with the words dropped, and each copy is tested
// on the test texts read the same way; the shipped model is also tested without the words, as it is.
struct AblationRequest {
  std::filesystem::path text_model;  // the shipped text model folder
  std::filesystem::path data_root;
  std::filesystem::path cache_dir;
  std::vector<std::string> words;
  std::string eval_split = "test";
  int steps = 300;
  double learning_rate = 1e-4;
  size_t limit = 0;  // examples per split (0: all), for a quick report
};

struct Ablation {
  Rows confusion = Rows::array();  // {model, true, predicted, count, share}: the two fine-tuned copies
  Rows scores = Rows::array();     // {model, trained_on, tested_on, examples, accuracy, macro_f1}
  std::vector<std::string> notes;  // what happened, in numbers
};

Ablation run_ablation(const AblationRequest& request);

}  // namespace emopost::report
