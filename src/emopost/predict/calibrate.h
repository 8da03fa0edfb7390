#pragma once
// Fitting the fusion on held-out data, and measuring the face detector, so that models/fusion.json
// and the model cards carry measured numbers.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "emopost/fusion/fusion.h"
#include "emopost/predict/predictor.h"

namespace emopost::predict {

struct CalibrationRequest {
  std::filesystem::path data_root = "../shared/data";
  std::string recipe = "all";
  uint32_t seed = 13;
  size_t limit = 0;  // use only the first N texts and faces of each split (smoke runs)
  // The faces' labels: FER2013's own, or FER+'s majority (faces without a usable one left out), as
  // `eval image --labels` scores them. A face model that learnt FER+'s votes is calibrated on those.
  std::string face_labels = "fer2013";
};

// Temperatures from the validation splits (CARER+GoEmotions val, FER2013 PublicTest), weights from
// validation posts (each text paired with a face of its label), scores on test posts built the same
// way from the test splits and PrivateTest. The returned model's report holds every figure.
fusion::FusionModel fit_fusion(const Predictor& predictor, const CalibrationRequest& request);

// Posts pairing each text with a random face of the same label (seeded); returns face indices.
std::vector<size_t> pair_faces(const std::vector<int>& text_labels, const std::vector<int>& face_labels,
                               uint32_t seed);

// Fused-vs-single-modality scores of posts; `fusion` supplies temperatures and weights.
nlohmann::json score_posts(const fusion::FusionModel& fusion, const std::vector<fusion::Scores>& text_logits,
                           const std::vector<fusion::Scores>& image_logits, const std::vector<int>& labels);

struct FaceStudyRequest {
  std::filesystem::path data_root = "../shared/data";
  // Margins are chosen on validation (PublicTest, or photos-val's real photos), never on PrivateTest.
  std::string split = "val";
  std::vector<double> margins{0.0, 0.1, 0.2, 0.3, 0.4};
  size_t limit = 0;
};

// Detector recall on FER2013 images (or photos-val's) and face-model accuracy by crop margin.
nlohmann::json study_faces(const Predictor& predictor, const FaceStudyRequest& request);

// Where the eyes of FER2013's faces sit in its 48x48 frame: the landmark net (a folder as in
// models/landmarks) on each whole image of `split` ("train"; `limit` images spread evenly, 0 = all),
// the median of each eye centre's coordinates, as fractions of the side. The framing.json that
// aligned crops follow (vision::FaceFraming), with the spread and the command's inputs.
nlohmann::json measure_face_framing(const std::filesystem::path& landmarks, const std::filesystem::path& data_root,
                                    const std::string& split, size_t limit);

}  // namespace emopost::predict
