#pragma once
// The numbers behind the analysis report's figures (issue 17), each as rows of a table: a JSON
// array of flat objects, which the report writes as JSON and CSV and draws with Vega-Lite. They are
// computed from the library's own readers and metrics (data/, eval/), never a second copy of them.
// No torch here: the model outputs come in as labels and probabilities.
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "emopost/data/datasets.h"
#include "emopost/eval/scores.h"
#include "emopost/text/words.h"

namespace emopost::report {

using Rows = nlohmann::json;  // [{"column": value, ...}, ...]

// Rows as CSV: the header from the first row's keys, in their order; strings quoted as needed.
std::string to_csv(const Rows& rows);

// Figure 1: examples per label of each named data set: {dataset, label, count}.
Rows class_counts(const std::vector<std::pair<std::string, std::vector<size_t>>>& sets);

// Figure 2: text length per label as box-plot statistics, in words and in `tokens` (a tokenizer's
// count): {label, unit, count, min, q1, median, q3, max, mean}.
Rows length_distribution(const std::vector<data::TextExample>& examples,
                         const std::function<size_t(const std::string&)>& tokens);

using text::words_of;  // words as every figure counts them
// English stop words (the report's default; its config may replace them).
std::set<std::string> default_stop_words();
// Figure 3: the `k` most frequent words of each label, stop words left out: {label, rank, word, count}.
Rows top_words(const std::vector<data::TextExample>& examples, const std::set<std::string>& stop_words, int k = 7);

// Figure 8: the words the text model leans on for each class it predicts: each example's occlusion
// scores (how much its verdict's probability falls without the word), summed per predicted label,
// the `k` largest kept: {label, rank, word, score, examples}. Words are counted as words_of()
// reads them (lower case, no punctuation). `attributions[i]` belongs to an
// example predicted `predicted[i]`.
Rows top_attributed_words(const std::vector<std::vector<std::pair<std::string, double>>>& attributions,
                          const std::vector<int>& predicted, int k = 7);

// The fusion's own figures, from the report `emopost calibrate` wrote into fusion.json: where text
// and face disagree, whom the fused verdict follows and how often each is right:
// {group, measure, value}; and the ECE of each modality before and after calibration:
// {modality, stage, ece}. Missing parts are skipped.
Rows fusion_disagreement(const nlohmann::json& fusion_json);
Rows calibration_ece(const nlohmann::json& fusion_json);

// Figures 5 and 6: a training run's epochs from its log.jsonl: {epoch, train_loss, val_loss,
// val_accuracy, val_macro_f1}. A line that is not JSON or not an epoch row is noted, not fatal.
struct Curves {
  Rows rows = Rows::array();
  std::vector<std::string> notes;  // "log.jsonl:7: not JSON", a missing file...
};
Curves training_curves(const std::filesystem::path& log_jsonl);

// Figures 7 and 12: {true, predicted, count, share} (share: of the true label's row).
Rows confusion_rows(const eval::Report& report);
// Per-class precision, recall, F1 and support: {label, precision, recall, f1, support}.
Rows per_class_rows(const eval::Report& report);
// The `k` largest off-diagonal cells: {true, predicted, count, share}, largest first.
Rows most_confused(const eval::Report& report, int k = 5);

// Figure 11: accuracy and macro-F1 per length bin (words): bins [edges[i], edges[i+1]), the last
// open-ended: {bin, from, to, count, accuracy, macro_f1}. Empty bins are kept with count 0.
Rows quality_by_length(const std::vector<size_t>& lengths, const std::vector<int>& truth, const std::vector<int>& predicted,
                       const std::vector<size_t>& edges = {0, 5, 10, 20, 40, 80});

// The gallery of the worst mistakes: the `k` examples wrong with the highest confidence, most
// confident first: {index, label, predicted, confidence} (the report adds the text or picture).
Rows most_confident_mistakes(const std::vector<int>& truth, const std::vector<int>& predicted,
                             const std::vector<std::vector<double>>& probabilities, int k = 10);

// Reliability diagram: equal-width confidence bins of the top probability: {bin, from, to, count,
// confidence, accuracy}; empty bins are left out. The ECE of the same bins is eval's.
Rows reliability(const std::vector<std::vector<double>>& probabilities, const std::vector<int>& truth, int bins = 15);

// Probabilities at temperature T: softmax(log p / T), which is softmax(logits / T) for p = softmax(logits),
// so that fusion.json's temperatures calibrate the probabilities an evaluation wrote. One row per
// example, one probability per label (emopost::Error otherwise).
std::vector<std::vector<double>> tempered(const std::vector<std::vector<double>>& probabilities, double temperature);

}  // namespace emopost::report
