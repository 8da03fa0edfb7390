#pragma once
// Training and evaluation faces read as `predict` reads a picture: through the same detector and
// cut (aligned, for the CNN), so that the face model learns the faces it will be shown. Reading
// FER2013's 36k faces through the CNN takes a while, so the faces read are cached on disk under a
// key of everything that shapes them. No torch here.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "emopost/data/datasets.h"

namespace emopost::train {

struct FaceReading {
  std::string detector;  // "": faces as they are; "cnn" or "lbp": through that detector
  std::filesystem::path detector_model = "models/detector", landmarks_model = "models/landmarks";
  std::filesystem::path cache = "runs/face-cache";
  double margin = 0.1;  // as PredictorOptions::face_margin (the CNN's aligned cut has its own framing)
  // Evaluation only: each face, once cut, damaged as the photo augmentations damage training faces
  // (vision::AugmentOptions::for_photos), seeded by this and the face's place, so that a held-out split
  // can stand in for faces cut from real photos. Applied after the cache, which keeps clean faces.
  std::optional<unsigned> photo_damage;
};

// The faces of `examples`, 8-bit with `channels` channels (1: grey, 3: RGB), in order. `split` names
// the cache file and the progress bar. With a detector, `found` (when given) says per example whether
// a face was found in it; where none was, its picture is read whole, as `predict` reads a small crop.
std::vector<cv::Mat> read_faces(const std::vector<data::FaceExample>& examples, int channels, const FaceReading& how,
                                const std::string& split, std::vector<char>* found = nullptr);

}  // namespace emopost::train
