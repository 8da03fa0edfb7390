#include "emopost/vision/faces.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "emopost/core/error.h"

namespace emopost::vision {

CascadeDetector::CascadeDetector(const std::filesystem::path& cascade, DetectorOptions options)
    : options_(options) {
  if (!std::filesystem::exists(cascade))
    throw Error(fmt::format("face cascade {} not found (install opencv-data)", cascade.string()));
  if (!cascade_.load(cascade.string()))
    throw Error(fmt::format("face cascade {} could not be loaded", cascade.string()));
}

std::vector<FaceBox> CascadeDetector::detect(const cv::Mat& image, bool crop_fallback) const {
  if (image.empty()) return {};
  cv::Mat grey;
  if (image.channels() == 3) cv::cvtColor(image, grey, cv::COLOR_RGB2GRAY);
  else grey = image;
  // Big photos shrink for speed; small crops grow (up to 4x) so that the cascade's 24-pixel window fits.
  const int longer = std::max(grey.cols, grey.rows);
  const double scale = std::min(4.0, double(options_.detect_side) / longer);
  cv::Mat small;
  cv::resize(grey, small, {}, scale, scale, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::equalizeHist(small, small);
  const int min_face = std::max(options_.min_face_pixels,
                                int(std::min(small.cols, small.rows) * options_.min_face_fraction));

  std::vector<cv::Rect> rects;
  std::vector<int> neighbors;
  {
    std::lock_guard lock(mutex_);
    cascade_.detectMultiScale(small, rects, neighbors, options_.scale_factor, options_.min_neighbors,
                              0, {min_face, min_face});
  }
  std::vector<FaceBox> faces;
  for (size_t i = 0; i < rects.size(); ++i) {
    const auto& r = rects[i];
    cv::Rect box(int(std::lround(r.x / scale)), int(std::lround(r.y / scale)),
                 int(std::lround(r.width / scale)), int(std::lround(r.height / scale)));
    faces.push_back({box & cv::Rect(0, 0, image.cols, image.rows), neighbors[i], false});
  }
  // A cascade sometimes reports a face and a second box around it (or a part of it): of two boxes
  // that overlap by more than half of the smaller, keep the one more raw detections agreed on.
  std::stable_sort(faces.begin(), faces.end(), [](auto& a, auto& b) { return a.neighbors > b.neighbors; });
  std::vector<FaceBox> kept;
  for (const auto& f : faces) {
    bool overlaps = std::any_of(kept.begin(), kept.end(), [&](const FaceBox& k) {
      return (k.box & f.box).area() > 0.5 * std::min(f.box.area(), k.box.area());
    });
    if (!overlaps) kept.push_back(f);
  }
  std::stable_sort(kept.begin(), kept.end(), [](auto& a, auto& b) { return a.box.area() > b.box.area(); });
  if (kept.empty() && crop_fallback && taken_as_crop(image, options_))
    kept.push_back({cv::Rect(0, 0, image.cols, image.rows), 0, true});
  return kept;
}

cv::Mat FaceDetector::cut(const cv::Mat& image, const FaceBox& face, double margin) const {
  return crop_with_margin(image, face.box, margin);
}

bool taken_as_crop(const cv::Mat& image, const DetectorOptions& options) {
  const int longer = std::max(image.cols, image.rows);
  return !image.empty() && longer <= options.crop_max_side && 4 * std::min(image.cols, image.rows) >= 3 * longer;
}

cv::Mat crop_with_margin(const cv::Mat& image, const cv::Rect& box, double margin) {
  const double cx = box.x + box.width / 2.0, cy = box.y + box.height / 2.0;
  // Faces are square: no face box is longer than the picture's shorter side, so neither is its crop
  // (with the margin). A long thin box, which no detector gives but a caller might, would otherwise
  // ask for a square crop of its length (fuzzing found a 1-pixel-high picture asking for 6 GB).
  const double longest = std::min(std::max(box.width, box.height), std::min(image.cols, image.rows));
  const int side = std::max(1, int(std::lround(longest * (1 + 2 * margin))));
  cv::Rect want(int(std::lround(cx - side / 2.0)), int(std::lround(cy - side / 2.0)), side, side);
  cv::Rect inside = want & cv::Rect(0, 0, image.cols, image.rows);
  if (inside.area() == 0) throw Error("face box lies outside the image");
  cv::Mat out;
  cv::copyMakeBorder(image(inside), out, inside.y - want.y, want.br().y - inside.br().y,
                     inside.x - want.x, want.br().x - inside.br().x, cv::BORDER_REPLICATE);
  return out;
}

FacesInPicture find_faces(const ScaledImage& picture, const FaceDetector& detector, double margin) {
  FacesInPicture out;
  out.size = picture.full;
  out.boxes = detector.detect(picture.pixels);
  const double k = 1.0 / picture.scale;
  for (auto& f : out.boxes) {
    out.crops.push_back(f.whole_image ? picture.pixels : detector.cut(picture.pixels, f, margin));
    f.box = cv::Rect(int(std::lround(f.box.x * k)), int(std::lround(f.box.y * k)), int(std::lround(f.box.width * k)),
                     int(std::lround(f.box.height * k))) &
            cv::Rect({0, 0}, picture.full);
  }
  return out;
}

cv::Mat read_face(const cv::Mat& image, const FaceDetector& detector, double margin) {
  auto faces = find_faces({image, 1.0, image.size()}, detector, margin);
  return faces.crops.empty() ? image : faces.crops.front();
}

}  // namespace emopost::vision
