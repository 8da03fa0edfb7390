#pragma once
// Face augmentation for training: small geometric and photometric changes that keep the expression.
#include <random>

#include <opencv2/core.hpp>

namespace emopost::vision {

struct AugmentOptions {
  double max_rotation_deg = 10.0;
  double max_shift = 0.1;   // fraction of the side
  double max_scale = 0.1;   // zoom in or out by up to 10%
  bool horizontal_flip = true;
  double max_brightness = 0.2;  // fraction of 255
  double max_contrast = 0.2;    // gain in [1 - c, 1 + c]
};

// A randomly perturbed copy of an 8-bit image (any channel count), same size.
cv::Mat augment(const cv::Mat& image, std::mt19937& rng, const AugmentOptions& options = {});

}  // namespace emopost::vision
