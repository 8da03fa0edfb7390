#pragma once
// A post as emopost reads it, and what it makes of it. No torch here.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "emopost/core/error.h"
#include "emopost/fusion/fusion.h"

namespace emopost::predict {

using fusion::Scores;

struct Post {
  std::string id;
  std::optional<std::string> text;
  std::optional<std::string> image;  // encoded bytes (JPEG, PNG, WebP, BMP)
};

struct Face {
  cv::Rect box;              // in the picture's own pixels
  bool whole_image = false;  // the picture was read as a face crop
  Scores probabilities{};
  double weight = 0;         // share of this face in the image verdict
};

struct WordAttribution {
  std::string word;
  double score = 0;  // drop in the text verdict's probability when the word is left out
};

struct Prediction {
  std::string id;
  std::optional<Scores> text, image;  // calibrated probabilities; absent when a modality abstained
  Scores fused{};
  int label = 0;
  double confidence = 0;
  std::vector<std::string> modalities;  // "text", "image"
  std::vector<std::string> notes;       // why a modality abstained, in plain words
  std::string normalized_text;          // what the text model read
  int text_windows = 0;
  int image_width = 0, image_height = 0;
  std::vector<Face> faces;
  std::vector<WordAttribution> attribution;  // filled when asked to explain
  std::vector<std::pair<std::string, double>> timings_ms;

  nlohmann::json to_json() const;
};

// One result per input post: a prediction, or the error that stopped it.
struct Outcome {
  std::optional<Prediction> prediction;
  std::string id;
  Errc error_code = Errc::internal;  // meaningful only without a prediction
  std::string error_message;

  static Outcome failed(std::string id, const Error& e) { return {std::nullopt, std::move(id), e.errc(), e.what()}; }
  nlohmann::json to_json() const;
};

}  // namespace emopost::predict
