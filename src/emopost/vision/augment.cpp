#include "emopost/vision/augment.h"

#include <opencv2/imgproc.hpp>

namespace emopost::vision {

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
  return out;
}

}  // namespace emopost::vision
