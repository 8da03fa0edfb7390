#pragma once
// Decision offsets: one number per class, added to the log-probabilities before the argmax. A
// class-weighted loss shifts the model's decisions by a heuristic amount; fitting the shift on the
// validation split for the metric the project selects by (macro-F1) is the single-label analogue
// of the per-emotion thresholds the GoEmotions paper tunes on its dev set. No torch here.
#include <vector>

namespace emopost::eval {

struct OffsetSearch {
  double range = 1.0;  // each offset within [-range, range]
  double step = 0.1;   // grid spacing
  int sweeps = 3;      // coordinate-ascent passes over the classes
};

struct OffsetFit {
  std::vector<double> offsets;  // per class; all 0 when no shift beats the plain argmax
  double macro_f1_before = 0, macro_f1_after = 0;
  double accuracy_before = 0, accuracy_after = 0;
};

// argmax_k log p[i][k] + offsets[k] for each example.
std::vector<int> decide(const std::vector<std::vector<double>>& probabilities,
                        const std::vector<double>& offsets);

// Coordinate ascent over a grid: each class's offset in turn takes the grid value that most raises
// macro-F1 of `decide` on these examples (strict gains only: a tie keeps the offset it has).
// Throws emopost::Error on empty or ragged input.
OffsetFit fit_decision_offsets(const std::vector<std::vector<double>>& probabilities,
                               const std::vector<int>& truth, const OffsetSearch& search = {});

}  // namespace emopost::eval
