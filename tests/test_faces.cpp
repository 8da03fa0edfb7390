// Face detection on the shipped sample photos (hand-checked faces in samples/photos/faces.json,
// measured recall in samples/photos/README.md) and the crop geometry.
#include "emopost/vision/faces.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include <fstream>

#include "emopost/vision/align.h"
#include "emopost/vision/augment.h"
#include "emopost/vision/preprocess.h"
#include "support.h"

using emopost::vision::CascadeDetector;
using namespace emopost::test;

namespace {
const fs::path kSamples = fs::path(EMOPOST_TEST_DATA).parent_path().parent_path() / "samples";

const CascadeDetector& detector() {
  static const CascadeDetector d;
  return d;
}

size_t faces_in(const std::string& file) {
  return detector().detect(emopost::vision::read_rgb(kSamples / "photos" / file)).size();
}
}  // namespace

TEST(Faces, GroupPhotosWithFrontalFacesAreCountedExactly) {
  EXPECT_EQ(faces_in("group3.jpg"), 3u);
  EXPECT_EQ(faces_in("group5.jpg"), 5u);
  EXPECT_EQ(faces_in("group6.jpg"), 4u);
}

TEST(Faces, TurnedFacesAreMissedButNothingIsInvented) {
  // The cascade reads frontal faces only: in these photos most people look down or sideways. The counts
  // are pinned so that a change in recall shows up here (see samples/photos/README.md).
  auto expected = nlohmann::json::parse(read_bytes(kSamples / "photos/faces.json"));
  size_t found = 0;
  for (const char* f : {"group1.jpg", "group2.jpg", "group4.jpg"}) {
    size_t n = faces_in(f);
    EXPECT_LT(n, expected[f]["faces"].size()) << f;
    found += n;
  }
  EXPECT_EQ(found, 2u);  // 2 of the 10 faces: one in group1, one in group4
}

TEST(Faces, PhotoWithoutFacesHasNone) { EXPECT_EQ(faces_in("no_face_fruits.jpg"), 0u); }

TEST(Faces, DetectedBoxesLieInsideTheImageLargestFirst) {
  auto img = emopost::vision::read_rgb(kSamples / "photos/group6.jpg");
  auto faces = detector().detect(img);
  ASSERT_EQ(faces.size(), 4u);
  for (size_t i = 0; i < faces.size(); ++i) {
    EXPECT_EQ(faces[i].box & cv::Rect(0, 0, img.cols, img.rows), faces[i].box);
    EXPECT_GT(faces[i].box.width, img.cols / 20);
    EXPECT_FALSE(faces[i].whole_image);
    if (i) EXPECT_GE(faces[i - 1].box.area(), faces[i].box.area());
  }
}

TEST(Faces, SmallFaceCropIsReadAsAFace) {
  // A FER-style 48x48 crop: found by the detector or, failing that, taken whole.
  auto img = emopost::vision::read_rgb(kSamples / "face_happy.jpg");
  auto faces = detector().detect(img);
  ASSERT_EQ(faces.size(), 1u);
  // A flat grey square has no face to find, so the crop fallback is what answers here.
  cv::Mat flat(64, 64, CV_8UC3, cv::Scalar(128, 128, 128));
  auto f = detector().detect(flat);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(f[0].whole_image);
  EXPECT_EQ(f[0].box, cv::Rect(0, 0, 64, 64));
  EXPECT_TRUE(detector().detect(flat, /*crop_fallback=*/false).empty());
  // Large or elongated pictures are not taken as crops.
  EXPECT_TRUE(detector().detect(cv::Mat(400, 400, CV_8UC3, cv::Scalar(128, 128, 128))).empty());
  EXPECT_TRUE(detector().detect(cv::Mat(40, 120, CV_8UC3, cv::Scalar(128, 128, 128))).empty());
}

TEST(Faces, CropWithMarginGrowsTheBoxAndPadsAtTheBorder) {
  cv::Mat img(100, 200, CV_8UC3);
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) img.at<cv::Vec3b>(y, x) = {uchar(x), uchar(y), 7};
  auto c = emopost::vision::crop_with_margin(img, {50, 20, 40, 40}, 0.25);
  EXPECT_EQ(c.size(), cv::Size(60, 60));  // 40 * (1 + 2 * 0.25)
  EXPECT_EQ(c.at<cv::Vec3b>(0, 0), (cv::Vec3b{40, 10, 7}));
  // Near the corner the crop reaches outside: the border is replicated, the size kept.
  auto e = emopost::vision::crop_with_margin(img, {0, 0, 20, 30}, 0.5);
  EXPECT_EQ(e.size(), cv::Size(60, 60));
  EXPECT_EQ(e.at<cv::Vec3b>(0, 0), img.at<cv::Vec3b>(0, 0));
  EXPECT_EQ(emopost::vision::crop_with_margin(img, {10, 10, 20, 20}, 0).size(), cv::Size(20, 20));
  expect_error([&] { emopost::vision::crop_with_margin(img, {500, 500, 10, 10}, 0.1); }, "outside the image");
}

TEST(Faces, MissingCascadeIsAClearError) {
  expect_error([] { CascadeDetector d("/nonexistent/cascade.xml"); }, "install opencv-data");
}

// A crop is never longer than the picture's shorter side (with the margin): a long thin box asked
// for a square crop of its length, 6 GB for a one-pixel-high picture (found by fuzz_image).
TEST(Faces, CropsOfThinBoxesStayWithinThePicture) {
  cv::Mat thin(1, 100000, CV_8UC1, cv::Scalar(7));
  auto crop = emopost::vision::crop_with_margin(thin, cv::Rect(0, 0, 50000, 1), 0.2);
  EXPECT_LE(crop.cols, 2);
  EXPECT_EQ(crop.cols, crop.rows);
  cv::Mat photo(300, 400, CV_8UC1, cv::Scalar(7));
  auto face = emopost::vision::crop_with_margin(photo, cv::Rect(100, 100, 100, 100), 0.1);
  EXPECT_EQ(face.cols, 120);  // an ordinary face box is cut as before
}

// Aligned crops: eyes on a tilted line land level, where the framing puts them.
TEST(Align, EyesLandWhereTheFramingPutsThem) {
  cv::Mat picture(300, 400, CV_8UC3, cv::Scalar(0, 0, 0));
  const cv::Point2d left(120, 180), right(220, 120);  // tilted by about 31 degrees
  cv::circle(picture, left, 4, cv::Scalar(255, 0, 0), cv::FILLED);
  cv::circle(picture, right, 4, cv::Scalar(0, 255, 0), cv::FILLED);
  const emopost::vision::FaceFraming framing{{0.3, 0.37}, {0.67, 0.37}};
  const auto out = emopost::vision::align_face(picture, {left, right}, framing, 96);
  ASSERT_EQ(out.size(), cv::Size(96, 96));
  auto centre_of = [&](int channel) {
    cv::Mat plane;
    cv::extractChannel(out, plane, channel);
    const auto m = cv::moments(plane, false);
    return cv::Point2d(m.m10 / m.m00, m.m01 / m.m00);
  };
  EXPECT_LT(cv::norm(centre_of(0) - cv::Point2d(0.3 * 96, 0.37 * 96)), 1.0);
  EXPECT_LT(cv::norm(centre_of(1) - cv::Point2d(0.67 * 96, 0.37 * 96)), 1.0);
  // The eyes come back in the picture's left-right order whichever landmarks are which.
  std::array<cv::Point2d, 68> points{};
  for (int i = 36; i < 42; ++i) points[i] = right;
  for (int i = 42; i < 48; ++i) points[i] = left;
  const auto eyes = emopost::vision::eye_centres(points);
  EXPECT_LT(cv::norm(eyes[0] - left), 1e-9);
  EXPECT_LT(cv::norm(eyes[1] - right), 1e-9);
  EXPECT_THROW(emopost::vision::align_face(picture, {left, left}, framing, 96), emopost::Error);
}

// A big face is area-averaged down before the warp: a pattern finer than the cut's pixels comes out
// as its mean grey, not as the grain that sampling every fifth pixel gives.
TEST(Align, BigFacesAreShrunkWithoutAliasing) {
  cv::Mat picture(1200, 1200, CV_8UC1);
  for (int y = 0; y < picture.rows; ++y)
    for (int x = 0; x < picture.cols; ++x) picture.at<uchar>(y, x) = uchar((x + y) % 2 ? 255 : 0);
  const emopost::vision::FaceFraming framing{{0.3, 0.37}, {0.67, 0.37}};
  const cv::Point2d left(400, 500), right(580, 500);  // 180 pixels apart, 35.5 in the cut: shrunk 5 times
  const auto out = emopost::vision::align_face(picture, {left, right}, framing, 96);
  ASSERT_EQ(out.size(), cv::Size(96, 96));
  cv::Scalar mean, deviation;
  cv::meanStdDev(out, mean, deviation);
  EXPECT_NEAR(mean[0], 127.5, 3.0);
  EXPECT_LT(deviation[0], 3.0);
  // Eyes still land where the framing puts them after the shrink.
  cv::Mat dark(1200, 1200, CV_8UC1, cv::Scalar(0));
  cv::circle(dark, left, 12, cv::Scalar(255), cv::FILLED);
  const auto m = cv::moments(emopost::vision::align_face(dark, {left, right}, framing, 96), false);
  EXPECT_LT(cv::norm(cv::Point2d(m.m10 / m.m00, m.m01 / m.m00) - cv::Point2d(0.3 * 96, 0.37 * 96)), 1.0);
  // Eyes far outside a tiny picture (landmarks of a face cut by the frame): a cut, not a loop.
  for (const cv::Size size : {cv::Size(1, 1), cv::Size(3, 2), cv::Size(1, 40)}) {
    const cv::Mat tiny(size, CV_8UC1, cv::Scalar(9));
    const auto cut = emopost::vision::align_face(tiny, {cv::Point2d(-500, 0), cv::Point2d(500, 7)}, framing, 96);
    EXPECT_EQ(cut.size(), cv::Size(96, 96)) << size;
  }
}

TEST(Align, FramingFilesAreChecked) {
  const auto dir = fs::temp_directory_path() / ("emopost_framing_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "ok.json") << R"({"left_eye": [0.3, 0.37], "right_eye": [0.67, 0.37]})";
  EXPECT_DOUBLE_EQ(emopost::vision::FaceFraming::load(dir / "ok.json").right_eye.x, 0.67);
  std::ofstream(dir / "swapped.json") << R"({"left_eye": [0.67, 0.37], "right_eye": [0.3, 0.37]})";
  expect_error_code([&] { emopost::vision::FaceFraming::load(dir / "swapped.json"); }, "bad_model", "left one");
  std::ofstream(dir / "partial.json") << R"({"left_eye": [0.3]})";
  expect_error_code([&] { emopost::vision::FaceFraming::load(dir / "partial.json"); }, "bad_model", "partial.json");
  fs::remove_all(dir);
}

TEST(Faces, ReadFaceCutsTheFoundFaceOrKeepsThePicture) {
  // As predict reads a picture: the largest face found, cut; a picture with none is read whole.
  auto group = emopost::vision::read_rgb(kSamples / "photos/group6.jpg");
  auto face = emopost::vision::read_face(group, detector(), 0.1);
  EXPECT_LT(face.cols, group.cols / 2);
  EXPECT_EQ(face.cols, face.rows);
  cv::Mat flat(300, 500, CV_8UC3, cv::Scalar(90, 90, 90));
  auto same = emopost::vision::read_face(flat, detector(), 0.1);
  EXPECT_EQ(same.data, flat.data);
}

TEST(Augment, PhotoDamageKeepsSizeAndTypeAndFollowsTheSeed) {
  auto face = emopost::vision::rgb_to_luma(emopost::vision::read_rgb(kSamples / "face_happy.jpg"));
  auto o = emopost::vision::AugmentOptions::for_photos();
  o.blur_probability = o.downscale_probability = o.jpeg_probability = o.gamma_probability = o.cutout_probability = 1;
  for (const cv::Mat& img : {face, cv::Mat(96, 96, CV_8UC3, cv::Scalar(10, 120, 240))}) {
    std::mt19937 a(7), b(7), c(8);
    cv::Mat x = emopost::vision::augment(img, a, o), y = emopost::vision::augment(img, b, o);
    cv::Mat z = emopost::vision::augment(img, c, o);
    EXPECT_EQ(x.size(), img.size());
    EXPECT_EQ(x.type(), img.type());
    EXPECT_EQ(cv::norm(x, y, cv::NORM_INF), 0.0);  // the same seed, the same damage
    EXPECT_GT(cv::norm(x, z, cv::NORM_L1), 0.0);
    EXPECT_GT(cv::norm(x, img, cv::NORM_L1), 0.0);
  }
  // Cutout alone paints one flat rectangle over part of the face.
  emopost::vision::AugmentOptions only_cutout;
  only_cutout.max_rotation_deg = only_cutout.max_shift = only_cutout.max_scale = 0;
  only_cutout.max_brightness = only_cutout.max_contrast = 0;
  only_cutout.horizontal_flip = false;
  only_cutout.photo = true;
  only_cutout.blur_probability = only_cutout.downscale_probability = only_cutout.jpeg_probability = 0;
  only_cutout.gamma_probability = 0;
  only_cutout.cutout_probability = 1;
  std::mt19937 rng(3);
  cv::Mat cut = emopost::vision::augment(face, rng, only_cutout), diff;
  cv::absdiff(cut, face, diff);
  const double changed = cv::countNonZero(diff) / double(face.total());
  EXPECT_GT(changed, 0.0);
  EXPECT_LT(changed, 0.4 * 0.4 + 0.01);
}
