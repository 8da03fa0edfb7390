#pragma once
// Fits the n-gram expert (models/ngram_expert.h) beside a trained text model: TF-IDF over the
// training texts as the model reads them (normalised), logistic regression with C and class
// weights chosen on validation macro-F1, then the fusion weights on validation log-loss.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace emopost::train {

struct NgramFitRequest {
  std::filesystem::path model_dir;  // the text model the expert joins
  std::filesystem::path out_dir;    // default: model_dir/ngrams
  std::filesystem::path data_root = "../shared/data";
  std::string recipe = "all";
  std::vector<double> inverse_l2{1, 4, 16};  // sklearn's C: data term weight against 1/2 |W|^2
  int min_df = 2;                            // n-grams in fewer training texts are left out
  int max_iter = 200;                        // L-BFGS iterations per fit
  size_t limit_examples = 0;                 // > 0: the first N of each split (smoke runs)
  int batch_size = 256;                      // the transformer's validation pass
};

// Writes the expert folder and returns what config.json records (choices and validation figures).
nlohmann::json fit_ngram_expert(const NgramFitRequest& request);

}  // namespace emopost::train
