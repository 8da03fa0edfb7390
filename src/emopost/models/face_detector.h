#pragma once
// face-api's Tiny Face Detector in libtorch: a Tiny-YOLOv2 of depthwise-separable convolutions
// that reads a square picture (416 px by default) as 13 x 13 cells of 5 anchor boxes each. The
// weights are face-api's own (npm @vladmandic/face-api, MIT), converted once from its tfjs files
// to models/detector/ (convert_tiny_face_detector). Every step follows the package, so that its
// boxes and scores match the package's run in Node (tests/test_detector.cpp).
#include <array>
#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

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

// face-api's tfjs weights (tiny_face_detector_model-weights_manifest.json and its shard) to a
// model folder: model.safetensors under the names of models/names.h, in torch's layouts, and a
// config.json with the package's anchors, mean and thresholds.
void convert_tiny_face_detector(const std::filesystem::path& manifest, const std::filesystem::path& out_dir);

}  // namespace emopost::models
