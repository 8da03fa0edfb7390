#pragma once
// `emopost eval`: a trained model on a held-out split, reported as model cards report it (pooled and,
// for text, per source data set), in JSON for machines and Markdown for people.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "emopost/train/face_reading.h"

namespace emopost::train {

struct EvalRequest {
  std::string kind;  // "text" or "image"
  std::filesystem::path model_dir;
  std::filesystem::path data_root = "../shared/data";  // or, with format "jsonl" or "folder", the file or folder
  // "recipe": a split of the data root; "jsonl": {"text","label"} lines; "folder": labelled face pictures
  // (data::read_labelled_faces)
  std::string format = "recipe";
  std::string split = "val";  // the test split is read once, for the model that ships; faces: also "photos-val"
  std::string face_labels = "fer2013";  // FER2013's splits scored against "fer2013" or "ferplus" (its majority)
  std::string recipe = "all";
  int batch_size = 256;
  bool bf16 = false;
  bool int8 = false;  // dynamic int8 linears (models/int8.h)
  // Image models: average with the mirror image. Unset: as the folder's config.json says, as `predict` reads.
  std::optional<bool> mirror;
  size_t limit = 0;
  std::vector<std::string> drop_words;  // text models: left out of every text (the report's ablation)
  FaceReading faces;  // image models: through a detector, as `predict --detector` reads pictures
};

struct EvalOutput {
  nlohmann::json json;
  std::string markdown;
  // One row per example, in data order: index, source, label, predicted, probabilities (and text, or file).
  std::vector<nlohmann::json> predictions;
};

EvalOutput run_evaluation(const EvalRequest& request);

}  // namespace emopost::train
