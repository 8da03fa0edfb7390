#pragma once
// Late fusion of the text and face verdicts: each modality is temperature-calibrated on its own
// validation split, then the two are pooled log-linearly, p ∝ p_text^w_text · p_image^w_image, with
// weights fitted on validation posts. No torch here.
#include <array>
#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "emopost/core/labels.h"

namespace emopost::fusion {

using Scores = std::array<double, kNumLabels>;  // logits or probabilities over kLabels

Scores softmax(const Scores& logits, double temperature = 1.0);
Scores log_softmax(const Scores& logits);
int argmax(const Scores& s);

// log(p), floored at 1e-12 as fuse() floors it, so that pooling weights are fitted for the rule that uses them.
Scores floored_log(const Scores& probabilities);

// Mean negative log-likelihood of the true labels.
double nll(const std::vector<Scores>& probabilities, const std::vector<int>& labels);

// The temperature T > 0 that minimises the NLL of softmax(logits / T) (golden-section search on
// log T; the NLL is convex in 1/T).
double fit_temperature(const std::vector<Scores>& logits, const std::vector<int>& labels);

struct FusionModel {
  double text_temperature = 1.0, image_temperature = 1.0;
  double text_weight = 1.0, image_weight = 1.0;
  nlohmann::json report = nlohmann::json::object();  // how the weights were fitted and scored

  // Calibrated probabilities of one modality from its logits.
  Scores text_probabilities(const Scores& logits) const { return softmax(logits, text_temperature); }
  Scores image_probabilities(const Scores& logits) const { return softmax(logits, image_temperature); }
  // Pools calibrated probabilities. With one modality present its probabilities pass through; with
  // none this throws emopost::Error.
  Scores fuse(const std::optional<Scores>& text, const std::optional<Scores>& image) const;

  nlohmann::json to_json() const;
  static FusionModel from_json(const nlohmann::json& j);
  static FusionModel load(const std::filesystem::path& file);  // throws emopost::Error naming the file
  void save(const std::filesystem::path& file) const;
};

// Weights lo, lo + step, ..., hi (counted, so that a step like 0.05 does not drift).
struct WeightGrid {
  double lo, hi, step;
};

// The mean NLL of log-linear pooling, p ∝ exp(wa·la + wb·lb), over rows (la, lb: two readings'
// log-probabilities of row i, label labels[i]); each row's pooled argmax goes to `predicted` if given.
double pooled_nll(const std::vector<Scores>& la, const std::vector<Scores>& lb, const std::vector<int>& labels,
                  double wa, double wb, std::vector<int>* predicted = nullptr);

// Log-linear pooling's weights, by grid search: the pair (wa, wb) that minimises the mean NLL of
// p ∝ exp(wa·la + wb·lb) over validation rows (la, lb: two readings' log-probabilities of row i,
// label labels[i]), among the pairs `allowed` admits (all when empty); ties keep the first pair.
// Serves the post fusion (text and face) and the text verdict (transformer and n-gram expert).
std::pair<double, double> fit_pool_weights(const std::vector<Scores>& la, const std::vector<Scores>& lb,
                                           const std::vector<int>& labels, WeightGrid ga, WeightGrid gb,
                                           const std::function<bool(double, double)>& allowed = {});

// Grid search of (text_weight, image_weight) in [0, 3]^2 minimising the NLL of the fused
// probabilities on validation posts (row i of text and image belongs to one post, label labels[i]).
// The text leads by design: the image weight stays below the text weight. Validation posts pair
// each caption with a face that always shows the caption's label; real posts' pictures agree with
// their captions far less often, so a face model as good as the text on these posts must not
// outvote it.
std::pair<double, double> fit_weights(const std::vector<Scores>& text, const std::vector<Scores>& image,
                                      const std::vector<int>& labels);

}  // namespace emopost::fusion
