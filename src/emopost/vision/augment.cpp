#include "emopost/vision/augment.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace emopost::vision {

AugmentOptions AugmentOptions::for_photos() {
  AugmentOptions o;
  o.max_rotation_deg = 15.0;  // alignment levels the eyes, but landmarks err by a few degrees
  o.max_scale = 0.15;
  o.photo = true;
  return o;
}

namespace {

bool happens(double probability, std::mt19937& rng) {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng) < probability;
}

double uniform(double lo, double hi, std::mt19937& rng) { return std::uniform_real_distribution<double>(lo, hi)(rng); }

// Sizes are relative to FER2013's 48-pixel faces, so that a 96-pixel aligned crop gets the same damage.
void damage_like_a_photo(cv::Mat& img, std::mt19937& rng, const AugmentOptions& o) {
  const double side = std::min(img.cols, img.rows), k = side / 48.0;
  if (happens(o.downscale_probability, rng)) {
    double f = uniform(o.min_downscale, 1.0, rng);
    cv::Mat small;
    cv::resize(img, small, {std::max(1, int(img.cols * f)), std::max(1, int(img.rows * f))}, 0, 0, cv::INTER_AREA);
    cv::resize(small, img, img.size(), 0, 0, cv::INTER_LINEAR);
  }
  if (happens(o.blur_probability, rng)) {
    double sigma = uniform(0.3, o.max_blur_sigma, rng) * k;
    cv::GaussianBlur(img, img, {0, 0}, sigma);
  }
  if (happens(o.gamma_probability, rng)) {
    double gamma = std::exp(uniform(-o.max_log_gamma, o.max_log_gamma, rng));
    cv::Mat lut(1, 256, CV_8U);
    for (int v = 0; v < 256; ++v) lut.at<uchar>(v) = cv::saturate_cast<uchar>(255.0 * std::pow(v / 255.0, gamma));
    cv::LUT(img, lut, img);
  }
  if (happens(o.cutout_probability, rng)) {
    int w = std::max(1, int(side * uniform(0.1, o.max_cutout, rng)));
    int h = std::max(1, int(side * uniform(0.1, o.max_cutout, rng)));
    int x = std::uniform_int_distribution<int>(0, img.cols - w)(rng);
    int y = std::uniform_int_distribution<int>(0, img.rows - h)(rng);
    img(cv::Rect(x, y, w, h)).setTo(cv::Scalar::all(std::uniform_int_distribution<int>(0, 255)(rng)));
  }
  if (happens(o.jpeg_probability, rng)) {
    std::vector<uchar> bytes;
    int quality = std::uniform_int_distribution<int>(o.min_jpeg_quality, 90)(rng);
    cv::imencode(".jpg", img, bytes, {cv::IMWRITE_JPEG_QUALITY, quality});
    img = cv::imdecode(bytes, img.channels() == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  }
}

}  // namespace

cv::Mat augment(const cv::Mat& image, std::mt19937& rng, const AugmentOptions& o) {
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  const double w = image.cols, h = image.rows;
  double angle = o.max_rotation_deg * unit(rng);
  double scale = 1.0 + o.max_scale * unit(rng);
  cv::Mat m = cv::getRotationMatrix2D({static_cast<float>(w / 2), static_cast<float>(h / 2)}, angle, scale);
  m.at<double>(0, 2) += o.max_shift * w * unit(rng);
  m.at<double>(1, 2) += o.max_shift * h * unit(rng);
  if (o.horizontal_flip && (rng() & 1u)) {
    // Mirror after the affine map: x' = w - 1 - x.
    m.row(0) *= -1.0;
    m.at<double>(0, 2) += w - 1;
  }
  cv::Mat out;
  // Reflection keeps the borders face-like instead of adding black wedges the test set never has.
  cv::warpAffine(image, out, m, image.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
  double gain = 1.0 + o.max_contrast * unit(rng);
  double bias = 255.0 * o.max_brightness * unit(rng) + (1.0 - gain) * cv::mean(out)[0];
  out.convertTo(out, -1, gain, bias);
  if (o.photo) damage_like_a_photo(out, rng, o);
  return out;
}

}  // namespace emopost::vision
