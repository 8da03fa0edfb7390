#pragma once
// Classification metrics as model cards report them. No torch here.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace emopost::eval {

struct ClassScores {
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;
};

struct Report {
  int num_classes = 0;
  int64_t total = 0;
  double accuracy = 0;
  double macro_f1 = 0;
  double weighted_f1 = 0;
  std::vector<ClassScores> per_class;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]

  std::vector<std::vector<double>> confusion_normalized() const;  // rows sum to 1 (or 0)
  nlohmann::json to_json(const std::vector<std::string>& labels) const;
  std::string to_markdown(const std::vector<std::string>& labels) const;
};

// Precision/recall/F1 of a class with no predictions or no support count as 0 (sklearn's
// zero_division=0), and macro-F1 averages over classes with support > 0 or predictions > 0.
Report classification_report(const std::vector<int>& truth, const std::vector<int>& predicted,
                             int num_classes);

// Equal-width bins of the top probability, (b/B, (b+1)/B]: how many examples fall in each, their
// mean confidence and their accuracy (the reliability diagram). Every bin is listed, empty ones too.
struct ReliabilityBin {
  double from = 0, to = 0;
  int64_t count = 0;
  double confidence = 0, accuracy = 0;  // 0 for an empty bin
};
std::vector<ReliabilityBin> reliability_bins(const std::vector<std::vector<double>>& probabilities,
                                             const std::vector<int>& truth, int bins = 15);

// Expected calibration error with the same bins.
double expected_calibration_error(const std::vector<std::vector<double>>& probabilities,
                                  const std::vector<int>& truth, int bins = 15);

}  // namespace emopost::eval
