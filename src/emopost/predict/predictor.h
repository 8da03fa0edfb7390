#pragma once
// From a post (caption and/or picture) to one calibrated verdict. The models are loaded once; every
// method is safe to call from several threads. This header keeps torch out of its users (the CLI
// and the server).
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "emopost/fusion/fusion.h"
#include "emopost/predict/post.h"
#include "emopost/text/reading.h"
#include "emopost/vision/faces.h"
#include "emopost/vision/preprocess.h"

namespace emopost::predict {

struct PredictorOptions {
  std::filesystem::path models_dir = "models";  // text/, face/ and fusion.json
  // Each one, when given, replaces its part of models_dir (e.g. models/face-vit as the face model;
  // a fusion fitted for the other pair then belongs beside it: `emopost calibrate`).
  std::filesystem::path text_model, face_model, fusion_file;
  std::filesystem::path cldr_dir = text::kCldrAnnotationsDir;
  std::filesystem::path cascade = vision::kDefaultCascade;  // detector.kind "lbp"
  std::filesystem::path detector_model;   // detector.kind "cnn"; empty: models_dir/detector
  std::filesystem::path landmarks_model;  // with it, "cnn" cuts faces aligned; empty: models_dir/landmarks
  vision::DetectorOptions detector;
  vision::DecodeLimits decode;
  // Big JPEGs are decoded at 1/2, 1/4 or 1/8 size while their longer side stays at least this
  // (vision::decode_for_faces). Twice the detection side: on samples/photos a copy reduced to 640
  // before the 480-pixel detection copy gave the cascade 2 false faces more, one reduced to 960 or
  // more the same faces as a full decode.
  int decode_min_side = 960;
  // Of the detector's box, on every side. FER2013's crops show a little more than the LBP cascade's
  // brow-to-chin box: with the shipped ResNet, margins 0 / 0.1 / 0.2 / 0.3 scored PrivateTest macro-F1
  // 0.604 / 0.630 / 0.608 / 0.507 on detected faces (`emopost study-faces`, samples/photos/README.md).
  double face_margin = 0.1;
  size_t max_text_bytes = 20'000;  // longer captions are refused, not cut
  // Decoded pixels of all the pictures of one call together (stages.h, read_pictures): ten pictures
  // at the 40-megapixel limit. Pictures are held one at a time; this bounds what one call decodes.
  int64_t max_request_pixels = 400'000'000;
  int batch_size = 32;             // examples per forward pass
  // Dynamic int8 transformer linears (models/int8.h): on the test splits the shipped models score
  // within 0.1 point of fp32 and run faster (bench/RESULTS.md). Off by default because activations
  // are quantised per batch: a post's probabilities then move slightly (~0.3 points) with the
  // other posts and the padding in its batch, and the default keeps every answer reproducible.
  bool int8 = false;
  // Average each face's logits with its mirror image's, at the cost of a second face-model pass.
  // Unset: as the face folder's config.json says (models::kTestTimeMirror), a choice made on validation.
  std::optional<bool> face_mirror;
  // Run the text model on a thread of its own (one torch thread) while pictures are decoded, rather
  // than before them: 31.8 -> 29 ms a post on 2 cores (bench/RESULTS.md). Off only to compare.
  bool text_beside_decode = true;
  // Fuse the text model's folder's n-gram expert (ngrams/, models/ngram_expert.h) into its verdict,
  // when it has one. Off only to compare.
  bool text_ngrams = true;
};

class Predictor : public PostReader {
 public:
  // Throws emopost::Error (code "bad_model") when a model folder or fusion.json is missing or corrupt.
  explicit Predictor(PredictorOptions options = {});
  ~Predictor();
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  // Throws emopost::Error whose code names the problem (empty_post, invalid_utf8, bad_image,
  // image_too_large, text_too_long).
  Prediction predict(const Post& post, bool explain = false) const;
  // Several posts at once: their texts and faces go through the models together (predict/stages.h);
  // a bad post gets its error and the others go on.
  std::vector<Outcome> predict_many(const std::vector<Post>& posts, bool explain = false) const override;

  // Raw model outputs, for calibration and evaluation. Texts are read by reader() first (every
  // input needs at least one window).
  std::vector<Scores> text_logits(const std::vector<text::TextInput>& texts) const;
  std::vector<Scores> face_logits(const std::vector<cv::Mat>& faces) const;  // 8-bit RGB or grey crops

  const fusion::FusionModel& fusion() const;
  void set_fusion(fusion::FusionModel model);
  const vision::FaceDetector& detector() const;
  const text::TextReader& reader() const;
  const PredictorOptions& options() const;
  nlohmann::json info() const override;  // labels, model configs and cards, fusion

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emopost::predict
