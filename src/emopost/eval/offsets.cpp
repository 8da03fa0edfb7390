#include "emopost/eval/offsets.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "emopost/core/error.h"
#include "emopost/eval/scores.h"

namespace emopost::eval {

std::vector<int> decide(const std::vector<std::vector<double>>& probabilities,
                        const std::vector<double>& offsets) {
  std::vector<int> out;
  out.reserve(probabilities.size());
  for (const auto& p : probabilities) {
    int best = 0;
    double best_score = -INFINITY;
    for (size_t k = 0; k < p.size(); ++k) {
      // A probability of exactly 0 stays the last choice whatever its offset.
      double score = std::log(std::max(p[k], 1e-300)) + (k < offsets.size() ? offsets[k] : 0.0);
      if (score > best_score) best_score = score, best = static_cast<int>(k);
    }
    out.push_back(best);
  }
  return out;
}

OffsetFit fit_decision_offsets(const std::vector<std::vector<double>>& probabilities,
                               const std::vector<int>& truth, const OffsetSearch& search) {
  if (probabilities.empty() || probabilities.size() != truth.size())
    throw Error(fmt::format("decision offsets need one label per example ({} examples, {} labels)",
                            probabilities.size(), truth.size()));
  const size_t k_classes = probabilities[0].size();
  for (const auto& p : probabilities)
    if (p.size() != k_classes) throw Error("decision offsets: examples differ in their number of classes");
  if (search.step <= 0 || search.range < 0 || search.sweeps < 1)
    throw Error("decision offsets: the grid needs step > 0, range >= 0 and at least one sweep");

  auto score = [&](const std::vector<double>& offsets) {
    return classification_report(truth, decide(probabilities, offsets), static_cast<int>(k_classes));
  };
  OffsetFit fit;
  fit.offsets.assign(k_classes, 0.0);
  auto start = score(fit.offsets);
  fit.macro_f1_before = start.macro_f1;
  fit.accuracy_before = start.accuracy;
  double best = start.macro_f1;
  const int half = static_cast<int>(std::lround(search.range / search.step));
  for (int sweep = 0; sweep < search.sweeps; ++sweep) {
    bool moved = false;
    for (size_t k = 0; k < k_classes; ++k) {
      for (int g = -half; g <= half; ++g) {
        auto candidate = fit.offsets;
        candidate[k] = std::round(g * search.step * 1e9) / 1e9;  // 0.3, not 0.30000000000000004
        double f1 = score(candidate).macro_f1;
        if (f1 > best + 1e-12) best = f1, fit.offsets = candidate, moved = true;
      }
    }
    if (!moved) break;
  }
  auto end = score(fit.offsets);
  fit.macro_f1_after = end.macro_f1;
  fit.accuracy_after = end.accuracy;
  return fit;
}

}  // namespace emopost::eval
