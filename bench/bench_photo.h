#pragma once
// What the benchmarks share: the 1280x720 bench photo and percentiles of timings.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "emopost/vision/preprocess.h"

namespace emopost::bench {

// A 1280x720 JPEG: samples/photos/group6.jpg scaled to 1280 wide and cut to 16:9 around the faces.
inline const std::string& photo_1280x720() {
  static const std::string bytes = [] {
    cv::Mat rgb = vision::read_rgb(std::filesystem::path(EMOPOST_SOURCE_DIR) / "samples/photos/group6.jpg"), bgr;
    cv::cvtColor(rgb(cv::Rect(0, 100, 1280, 720)), bgr, cv::COLOR_RGB2BGR);
    std::vector<uchar> buf;
    cv::imencode(".jpg", bgr, buf, {cv::IMWRITE_JPEG_QUALITY, 90});
    return std::string(buf.begin(), buf.end());
  }();
  return bytes;
}

// The value at fraction q of `v` (0 for no values).
inline double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, size_t(q * double(v.size())))];
}

}  // namespace emopost::bench
