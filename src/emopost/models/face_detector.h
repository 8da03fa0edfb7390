#pragma once
// face-api's Tiny Face Detector in libtorch: a Tiny-YOLOv2 of depthwise-separable convolutions
// that reads a square picture (416 px by default) as 13 x 13 cells of 5 anchor boxes each. The
// weights are face-api's own (npm @vladmandic/face-api, MIT), converted once from its tfjs files
// to models/detector/ (convert_tiny_face_detector). Every step follows the package, so that its
// boxes and scores match the package's run in Node (tests/test_detector.cpp).
#include <array>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "emopost/vision/align.h"
#include "emopost/vision/faces.h"

namespace emopost::models {

struct DetectorConfig {
  int input_size = 416;           // a multiple of 32
  double score_threshold = 0.5;
  double iou_threshold = 0.4;     // non-maximum suppression
  std::array<float, 3> mean_rgb{117.001f, 114.697f, 97.404f};
  std::vector<std::pair<double, double>> anchors;  // in cells
};

struct Detection {
  cv::Rect2d box;  // in the picture's own pixels; may reach past its edges
  double score = 0;
};

class TinyFaceDetector {
 public:
  // A folder with config.json and model.safetensors. Throws emopost::Error (bad_model).
  static TinyFaceDetector load(const std::filesystem::path& dir);
  ~TinyFaceDetector();
  TinyFaceDetector(TinyFaceDetector&&) noexcept;
  TinyFaceDetector& operator=(TinyFaceDetector&&) noexcept;

  const DetectorConfig& config() const;
  // Faces in an 8-bit RGB picture, best first. 0 = the config's input size or threshold.
  std::vector<Detection> detect(const cv::Mat& rgb, int input_size = 0, double score_threshold = 0) const;
  // The network's raw output, NHWC as tfjs gives it: [cells, cells, anchors * 5], flattened.
  std::vector<float> raw_output(const cv::Mat& rgb, int input_size = 0) const;

 private:
  TinyFaceDetector();
  static TinyFaceDetector load_checked(const std::filesystem::path& dir);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// face-api's tiny 68-point landmark net: three dense blocks of separable convolutions and a dense
// layer over a 112-pixel input, converted from its tfjs weights to models/landmarks/.
struct FaceLandmarks {
  cv::Rect crop;                       // what was read: the face box clipped and floored, as face-api cuts it
  std::array<cv::Point2d, 68> points;  // in the picture's own pixels, in the iBUG 300-W order
};

class FaceLandmarker {
 public:
  static FaceLandmarker load(const std::filesystem::path& dir);  // throws emopost::Error (bad_model)
  ~FaceLandmarker();
  FaceLandmarker(FaceLandmarker&&) noexcept;
  FaceLandmarker& operator=(FaceLandmarker&&) noexcept;
  // The landmarks of the face in `box` (a detector's box) of an 8-bit RGB picture. Throws
  // emopost::Error (bad_image) when the box lies outside the picture.
  FaceLandmarks detect(const cv::Mat& rgb, const cv::Rect2d& box) const;

 private:
  FaceLandmarker();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The Tiny Face Detector behind emopost's face-detector interface (`--detector cnn`). Detectors
// trained on scenes miss a face that fills the picture or is cut by its edges, the commonest
// selfie; so when the picture itself shows no face, copies of it framed by a black border (as
// face-api pads to a square) are searched too, and what they find is mapped back and clipped.
class CnnDetector : public vision::FaceDetector {
 public:
  // `dir`: a model folder as written by convert_tiny_face_detector. With `landmarks` (a folder as
  // written by convert_face_landmarks_tiny, holding framing.json), faces are cut aligned.
  CnnDetector(const std::filesystem::path& dir, vision::DetectorOptions options = {},
              const std::filesystem::path& landmarks = {});
  std::vector<vision::FaceBox> detect(const cv::Mat& image, bool crop_fallback = true) const override;
  // Aligned (eyes level, framed as FER2013's faces are) when there are landmarks; else the margin crop.
  cv::Mat cut(const cv::Mat& image, const vision::FaceBox& face, double margin) const override;
  static constexpr int kAlignedSide = 96;  // twice FER2013's 48 pixels
  const vision::DetectorOptions& options() const override { return options_; }
  // The detector and landmarks were trained on colour photos and find fewer faces in grey ones.
  bool reads_colour() const override { return true; }
  // Borders tried, as fractions of the picture's longer side, when the picture itself shows no face.
  static constexpr double kBorders[] = {0.3, 0.6, 1.0};

 private:
  TinyFaceDetector net_;
  vision::DetectorOptions options_;
  std::optional<FaceLandmarker> landmarker_;
  vision::FaceFraming framing_;
};

// The detector `options.kind` names: "lbp" (the cascade file `cascade`) or "cnn" (the folder
// `detector`, cutting aligned when `landmarks` holds a framing.json). Throws emopost::Error
// (invalid_field) for another kind.
std::unique_ptr<vision::FaceDetector> make_face_detector(const vision::DetectorOptions& options,
                                                         const std::filesystem::path& cascade,
                                                         const std::filesystem::path& detector,
                                                         const std::filesystem::path& landmarks);

void convert_face_landmarks_tiny(const std::filesystem::path& manifest, const std::filesystem::path& out_dir);

// face-api's tfjs weights (tiny_face_detector_model-weights_manifest.json and its shard) to a
// model folder: model.safetensors under the names of models/names.h, in torch's layouts, and a
// config.json with the package's anchors, mean and thresholds.
void convert_tiny_face_detector(const std::filesystem::path& manifest, const std::filesystem::path& out_dir);

}  // namespace emopost::models
