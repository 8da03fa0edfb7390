#pragma once
// The real-photo evaluation set (samples/photos, README there): every face a person can see, its
// box checked by hand, and its expression where that is plain to see. `study-faces --photos`
// measures a detector and the face model on it, as `predict` reads the photos.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "emopost/predict/predictor.h"

namespace emopost::predict {

struct PhotoFace {
  cv::Rect box;
  std::optional<int> label;  // the expression, where it is plain to see
  bool close_up = false;     // fills the frame or is cut by it
};

struct AnnotatedPhoto {
  std::string file;
  std::vector<PhotoFace> faces;
};

// faces.json: {"FILE": {"faces": [{"box": [x, y, w, h], "expression": "joy" | null, "close_up": bool}]}}.
// Throws emopost::Error naming the entry that is malformed.
std::vector<AnnotatedPhoto> read_photo_set(const std::filesystem::path& dir);

// Whether a found box is the hand-checked face: each box holds the other's centre. Detectors frame a
// face differently (the cascade tighter, the CNN looser), so overlap ratios would judge the framing
// convention rather than whether the face was found.
bool same_face(const cv::Rect& found, const cv::Rect& truth);

// Recall and precision of the predictor's detector, the face model's accuracy on the labelled faces,
// and the time per photo, over the set in `dir`.
nlohmann::json study_photos(const Predictor& predictor, const std::filesystem::path& dir);

}  // namespace emopost::predict
