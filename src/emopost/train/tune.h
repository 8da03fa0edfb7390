#pragma once
// `emopost tune`: fits per-class decision offsets (eval/offsets.h) on a trained model's validation
// split and folds them into the classifier's bias, so the tuned checkpoint decides the same way in
// emopost and in transformers, with no extra file to honour.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "emopost/eval/offsets.h"

namespace emopost::train {

struct TuneRequest {
  std::string kind;  // "text" or "image"
  std::filesystem::path model_dir;
  std::filesystem::path out_dir;  // a new folder: the source checkpoint is left as it was
  std::filesystem::path data_root = "../shared/data";
  std::string split = "val";
  std::string recipe = "all";
  int batch_size = 256;
  eval::OffsetSearch search;
};

// Writes out_dir as a copy of model_dir with the offsets in classifier.bias (same float dtype),
// plus decision_offsets.json (the offsets, where they were fitted, the scores before and after).
// Returns that JSON.
nlohmann::json tune_decision_offsets(const TuneRequest& request);

}  // namespace emopost::train
