#include "emopost/vision/align.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "emopost/core/error.h"
#include "emopost/core/json.h"

namespace emopost::vision {

FaceFraming FaceFraming::load(const std::filesystem::path& file) {
  const auto j = read_json_file(file);
  try {
    FaceFraming f;
    f.left_eye = {j.at("left_eye").at(0).get<double>(), j.at("left_eye").at(1).get<double>()};
    f.right_eye = {j.at("right_eye").at(0).get<double>(), j.at("right_eye").at(1).get<double>()};
    if (!(f.left_eye.x >= 0 && f.right_eye.x <= 1 && f.right_eye.x - f.left_eye.x > 0.05 && f.left_eye.y >= 0 &&
          f.left_eye.y <= 1 && f.right_eye.y >= 0 && f.right_eye.y <= 1))
      throw Error("the eyes must lie in the frame, the left one left of the right one", Errc::bad_model);
    return f;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: {}", file.string(), e.what()), Errc::bad_model);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", file.string(), e.what()), Errc::bad_model);
  }
}

std::array<cv::Point2d, 2> eye_centres(const std::array<cv::Point2d, 68>& p) {
  cv::Point2d a, b;
  for (int i = 36; i < 42; ++i) a += p[i] / 6.0;  // the subject's right eye, on the picture's left
  for (int i = 42; i < 48; ++i) b += p[i] / 6.0;
  return a.x <= b.x ? std::array{a, b} : std::array{b, a};
}

cv::Mat align_face(const cv::Mat& image, const std::array<cv::Point2d, 2>& eyes, const FaceFraming& framing, int side) {
  // The similarity that takes the eyes to the framing's: rotation and scale from the eye vectors.
  const cv::Point2d from = eyes[1] - eyes[0];
  const cv::Point2d to = (framing.right_eye - framing.left_eye) * side;
  const double from_len = std::hypot(from.x, from.y);
  if (from_len < 1e-6) throw Error("the eyes of the face coincide", Errc::bad_image);
  const double scale = std::hypot(to.x, to.y) / from_len;
  // Bilinear sampling reads the 2x2 pixels nearest each output pixel, so a warp that shrinks by more
  // than 2 skips pixels and aliases: a big face in a photo came out grainy. Area-average the picture
  // down first and warp what is left. FER2013's 48-pixel faces are always enlarged, so they are cut
  // as before (and the face cache stays valid). Each shrink makes the picture smaller, so a tiny
  // picture whose eyes the landmark net put far outside it ends at one pixel, not in a loop.
  if (scale < 0.5 && (image.cols > 1 || image.rows > 1)) {
    cv::Mat small;
    const cv::Size size(std::max(1, int(std::lround(image.cols * scale))), std::max(1, int(std::lround(image.rows * scale))));
    cv::resize(image, small, size, 0, 0, cv::INTER_AREA);
    const double fx = double(size.width) / image.cols, fy = double(size.height) / image.rows;
    const auto to_small = [&](const cv::Point2d& p) { return cv::Point2d((p.x + 0.5) * fx - 0.5, (p.y + 0.5) * fy - 0.5); };
    return align_face(small, {to_small(eyes[0]), to_small(eyes[1])}, framing, side);
  }
  const double angle = std::atan2(to.y, to.x) - std::atan2(from.y, from.x);
  const double c = scale * std::cos(angle), s = scale * std::sin(angle);
  const cv::Point2d target = framing.left_eye * side;
  const cv::Matx23d m(c, -s, target.x - (c * eyes[0].x - s * eyes[0].y), s, c, target.y - (s * eyes[0].x + c * eyes[0].y));
  cv::Mat out;
  cv::warpAffine(image, out, m, {side, side}, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  return out;
}

}  // namespace emopost::vision
