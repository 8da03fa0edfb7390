#pragma once
// A bag-of-n-grams expert beside the text model (issue 15): TF-IDF over word 1- and 2-grams and
// character 2- to 5-grams, and a multinomial logistic regression, fused log-linearly with the
// transformer,
//   scores = a * log p_transformer + b * log p_expert,
// with a and b fitted on validation (train/ngram_training.h). Word and character counts hold up
// where the transformer, trained from scratch on two data sets, reads other writing as noise. No
// torch here.
//
// On disk, a folder `ngrams/` inside the text model's: config.json (labels, fusion weights, how it
// was fitted), ngrams.txt (feature i on line i) and model.safetensors (weight [7, F], bias [7],
// idf [F]). transformers ignores the folder.
#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "emopost/core/labels.h"
#include "emopost/fusion/fusion.h"

namespace emopost::models {

inline constexpr const char* kNgramFolder = "ngrams";

// The n-grams of a normalised text: its words (text::words_of), each pair of neighbours "a b",
// and the character 2- to 5-grams of each word padded with a space on each side, marked "#"
// (which no word holds), as sklearn's char_wb analyser reads them. Characters catch what words
// share across sources ("lov" in love, loved, lovely) and typos the respelling leaves.
inline constexpr size_t kCharGramMin = 2, kCharGramMax = 5;
inline constexpr const char* kCharGramMark = "#";
std::vector<std::string> ngrams_of(std::string_view normalized);

struct SparseRow {
  std::vector<int32_t> index;
  std::vector<float> value;
};

class NgramExpert {
 public:
  NgramExpert(std::vector<std::string> vocab, std::vector<float> idf, std::vector<float> weight,
              fusion::Scores bias, double model_weight, double expert_weight, nlohmann::json info = {});
  // Throws emopost::Error (bad_model) naming the file and the problem.
  static NgramExpert load(const std::filesystem::path& dir);
  void save(const std::filesystem::path& dir) const;

  // TF-IDF of the text's known n-grams: (1 + ln count) * idf, L2-normalised.
  SparseRow features(std::string_view normalized) const;
  fusion::Scores log_probabilities(std::string_view normalized) const;
  // The fused scores of a text from the transformer's logits (mean over its windows).
  fusion::Scores fuse(const fusion::Scores& model_logits, std::string_view normalized) const;

  size_t num_features() const { return vocab_.size(); }
  double model_weight() const { return model_weight_; }
  double expert_weight() const { return expert_weight_; }
  void set_fusion(double model_weight, double expert_weight);
  const nlohmann::json& info() const { return info_; }
  nlohmann::json& info() { return info_; }

 private:
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int32_t> index_;
  std::vector<bool> is_char_;  // per feature: a character n-gram (normalised apart from words)
  std::vector<float> idf_, weight_;  // weight_: [kNumLabels][F], row-major
  fusion::Scores bias_{};
  double model_weight_ = 1, expert_weight_ = 0;
  nlohmann::json info_;  // config.json's other keys: how it was fitted
};

}  // namespace emopost::models
