#pragma once
// Face augmentation for training: small geometric and photometric changes that keep the expression,
// and, with `photo`, the damage faces cut from real photos carry (blur, low resolution, JPEG
// artefacts, odd exposure, a hand or hair over part of the face).
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

  // Photo damage, each applied with its probability.
  bool photo = false;
  double blur_probability = 0.2, max_blur_sigma = 1.5;          // in pixels of a 48-pixel face
  double downscale_probability = 0.2, min_downscale = 0.35;     // shrunk to this fraction and back
  double jpeg_probability = 0.25;
  int min_jpeg_quality = 15;
  double gamma_probability = 0.3, max_log_gamma = 0.5;          // gamma in [e^-g, e^g]
  double cutout_probability = 0.3, max_cutout = 0.4;            // a rectangle of up to this side fraction

  // The photo-like set used to train faces read from real photos.
  static AugmentOptions for_photos();
};

// A randomly perturbed copy of an 8-bit image (any channel count), same size.
cv::Mat augment(const cv::Mat& image, std::mt19937& rng, const AugmentOptions& options = {});

}  // namespace emopost::vision
