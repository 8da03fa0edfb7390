// The CNN face detector against face-api itself: the package's Tiny Face Detector run in Node on
// the pure-JavaScript tfjs CPU backend (scripts/detector-goldens/make_goldens.cjs) gave the boxes,
// scores and one raw output grid in tests/data/detector/goldens.json. The C++ detector, on the
// same PNG pixels, must match them: every box at IoU >= 0.99999 (as the README claims), every score
// within 1e-5 (both measured at 1.000000 and 3.4e-7 on 33 faces). The landmark
// and expression nets likewise, face by face. Also the tfjs weights reader, the conversions, and
// corrupt checkpoints.
#include <torch/torch.h>  // before gtest: torch defines glog-style CHECK macros

#include <gtest/gtest.h>

#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "emopost/core/json.h"
#include "emopost/core/labels.h"
#include "emopost/io/tfjs.h"
#include "emopost/models/checkpoint.h"
#include "emopost/models/expression_net.h"
#include "emopost/models/face_api.h"
#include "emopost/models/face_detector.h"
#include "emopost/models/folder.h"
#include "emopost/models/image_classifier.h"
#include "emopost/vision/preprocess.h"
#include "support.h"

using namespace emopost;
using namespace emopost::test;

namespace {

const fs::path kData = fs::path(EMOPOST_TEST_DATA) / "detector";
const fs::path kManifest = kData / "tfjs/tiny_face_detector_model-weights_manifest.json";

const models::TinyFaceDetector& detector() {
  static const auto d = models::TinyFaceDetector::load(kRoot / "models/detector");
  return d;
}

cv::Mat read_rgb(const fs::path& p) {
  cv::Mat bgr = cv::imread(p.string(), cv::IMREAD_COLOR), rgb;
  EXPECT_FALSE(bgr.empty()) << p;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

double iou(const cv::Rect2d& a, const cv::Rect2d& b) {
  const double inter = (a & b).area();
  return inter / (a.area() + b.area() - inter);
}

fs::path scratch(const std::string& what) {
  const auto dir = fs::temp_directory_path() / ("emopost_detector_" + what + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Calls fn(picture, face) for every face face-api found at input 416 in the golden photos; returns their count.
template <class Fn>
size_t for_each_golden_face(Fn&& fn) {
  const auto goldens = read_json_file(kData / "goldens.json");
  size_t faces = 0;
  for (const auto& photo : goldens["photos"]) {
    const auto rgb = read_rgb(kData / photo["file"].get<std::string>());
    for (const auto& face : photo["runs"][0]["faces"]) fn(rgb, face), ++faces;
  }
  return faces;
}

}  // namespace

TEST(Tfjs, ReadsQuantisedWeightsAsTfjsExpandsThem) {
  const auto weights = io::read_tfjs_weights(kManifest);
  ASSERT_EQ(weights.size(), 19u);
  EXPECT_EQ(weights[0].name, "conv0/filters");
  EXPECT_EQ(weights[0].shape, (std::vector<int64_t>{3, 3, 3, 16}));
  // The first byte of the shard, expanded by hand: q * scale + min.
  const auto shard = read_bytes(kData / "tfjs/tiny_face_detector_model.bin");
  const auto manifest = read_json_file(kManifest);
  const double scale = manifest[0]["weights"][0]["quantization"]["scale"], min = manifest[0]["weights"][0]["quantization"]["min"];
  EXPECT_FLOAT_EQ(weights[0].values[0], float(uint8_t(shard[0]) * scale + min));
  size_t total = 0;
  for (const auto& w : weights) total += w.values.size();
  EXPECT_EQ(total, shard.size());  // every weight is stored as uint8
}

TEST(Tfjs, CorruptWeightsAreClearErrors) {
  const auto dir = scratch("tfjs");
  const auto manifest = read_bytes(kManifest), shard = read_bytes(kData / "tfjs/tiny_face_detector_model.bin");
  auto write = [&](const std::string& m, const std::string& bin) {
    std::ofstream(dir / "m.json") << m;
    std::ofstream(dir / "tiny_face_detector_model.bin", std::ios::binary) << bin;
  };
  write(manifest, shard.substr(0, shard.size() / 2));
  expect_error_code([&] { io::read_tfjs_weights(dir / "m.json"); }, "bad_model", "the shards end early");
  write(manifest, shard + "xx");
  expect_error_code([&] { io::read_tfjs_weights(dir / "m.json"); }, "bad_model", "not named by any weight");
  fs::remove(dir / "tiny_face_detector_model.bin");
  expect_error_code([&] { io::read_tfjs_weights(dir / "m.json"); }, "bad_model", "(a weights shard)");
  write(R"([{"paths": ["../secret.bin"], "weights": []}])", "");
  expect_error_code([&] { io::read_tfjs_weights(dir / "m.json"); }, "bad_model", "beside the manifest");
  write(R"([{"paths": ["tiny_face_detector_model.bin"], "weights": [{"name": "w", "shape": [2], "dtype": "complex64"}]}])", "12345678");
  expect_error_code([&] { io::read_tfjs_weights(dir / "m.json"); }, "bad_model", "unsupported dtype");
  write("{", "");
  expect_error_code([&] { io::read_tfjs_weights(dir / "m.json"); }, "bad_model", "");
  fs::remove_all(dir);
}

TEST(Detector, ConversionGivesTheShippedWeights) {
  const auto dir = scratch("convert");
  models::convert_tiny_face_detector(kManifest, dir);
  const auto fresh = models::load_tensors(dir / "model.safetensors");
  const auto shipped = models::load_tensors(kRoot / "models/detector/model.safetensors");
  ASSERT_EQ(fresh.size(), 19u);
  ASSERT_EQ(fresh.size(), shipped.size());
  for (const auto& [name, t] : fresh) EXPECT_TRUE(torch::equal(t, shipped.at(name))) << name;
  // Layouts: TensorFlow's HWIO filters become torch's OIHW, depthwise HWI1 becomes I1HW.
  EXPECT_EQ(fresh.at("conv0.weight").sizes(), (std::vector<int64_t>{16, 3, 3, 3}));
  EXPECT_EQ(fresh.at("conv1.depthwise.weight").sizes(), (std::vector<int64_t>{16, 1, 3, 3}));
  EXPECT_EQ(fresh.at("head.weight").sizes(), (std::vector<int64_t>{25, 512, 1, 1}));
  const auto tfjs = io::read_tfjs_weights(kManifest);
  EXPECT_FLOAT_EQ(fresh.at("conv0.weight")[5][2][1][0].item<float>(), tfjs[0].values[((1 * 3 + 0) * 3 + 2) * 16 + 5]);
  fs::remove_all(dir);
}

TEST(Detector, RawOutputMatchesFaceApi) {
  const auto goldens = read_json_file(kData / "goldens.json");
  const auto& photo = goldens["photos"][0];
  const auto raw = detector().raw_output(read_rgb(kData / photo["file"].get<std::string>()), 416);
  const auto expected = photo["raw_416"]["values"].get<std::vector<float>>();
  ASSERT_EQ(raw.size(), expected.size());
  double worst = 0;
  for (size_t i = 0; i < raw.size(); ++i) worst = std::max(worst, double(std::abs(raw[i] - expected[i])));
  EXPECT_LT(worst, 1e-3);
  std::printf("raw output: %zu values, largest difference from face-api %.2e\n", raw.size(), worst);
}

TEST(Detector, BoxesAndScoresMatchFaceApi) {
  const auto goldens = read_json_file(kData / "goldens.json");
  size_t faces = 0;
  double lowest_iou = 1, worst_score = 0;
  for (const auto& photo : goldens["photos"]) {
    const auto rgb = read_rgb(kData / photo["file"].get<std::string>());
    for (const auto& run : photo["runs"]) {
      const auto found = detector().detect(rgb, run["input_size"], run["score_threshold"]);
      const auto& expected = run["faces"];
      SCOPED_TRACE(photo["file"].get<std::string>() + " at " + std::to_string(run["input_size"].get<int>()));
      ASSERT_EQ(found.size(), expected.size());
      for (size_t i = 0; i < found.size(); ++i) {
        const auto b = expected[i]["box"];
        const double overlap = iou(found[i].box, cv::Rect2d(b[0], b[1], b[2], b[3]));
        const double score_diff = std::abs(found[i].score - expected[i]["score"].get<double>());
        EXPECT_GE(overlap, 0.99999) << "face " << i;
        EXPECT_LE(score_diff, 1e-5) << "face " << i;
        lowest_iou = std::min(lowest_iou, overlap), worst_score = std::max(worst_score, score_diff);
      }
      faces += found.size();
    }
  }
  EXPECT_GE(faces, 20u);  // the goldens hold real faces, not only empty pictures
  std::printf("%zu faces: lowest IoU with face-api's box %.6f, largest score difference %.2e\n", faces, lowest_iou,
              worst_score);
}

TEST(Detector, CorruptOrTruncatedCheckpointsAreBadModel) {
  const auto dir = scratch("corrupt");
  fs::copy(kRoot / "models/detector", dir / "d");
  const auto weights = read_bytes(dir / "d/model.safetensors");
  std::ofstream(dir / "d/model.safetensors", std::ios::binary) << weights.substr(0, weights.size() / 3);
  expect_error_code([&] { models::TinyFaceDetector::load(dir / "d"); }, "bad_model", "model.safetensors");
  std::ofstream(dir / "d/model.safetensors", std::ios::binary) << weights;
  std::ofstream(dir / "d/config.json") << R"({"model_type": "resnet"})";
  expect_error_code([&] { models::TinyFaceDetector::load(dir / "d"); }, "bad_model", "tiny_face_detector");
  fs::remove_all(dir);
}

TEST(Detector, TinyHugeAndOddPicturesWork) {
  EXPECT_TRUE(detector().detect(cv::Mat(16, 16, CV_8UC3, cv::Scalar(128, 128, 128))).empty());
  EXPECT_NO_THROW(detector().detect(cv::Mat(1, 600, CV_8UC3, cv::Scalar(10, 200, 30))));
  expect_error_code([&] { detector().detect(cv::Mat(10, 10, CV_8UC1)); }, "bad_image", "RGB");
  expect_error_code([&] { detector().detect(cv::Mat(10, 10, CV_8UC3), 100); }, "invalid_field", "multiple of 32");
}

// Close-ups: a face that fills the picture, forehead and chin cut by its edges, is the commonest
// selfie and what detectors trained on scenes miss. Cut from the group photo (faces as the CNN
// boxes them there), grey, 350x350: the network alone finds none of the four, the detector finds
// each through a bordered copy. (2 of these 4, and 2 of 12 at three tightnesses, for the cascade.)
TEST(CnnDetector, CloseUpsCutByTheFrameAreFoundThroughABorder) {
  const models::CnnDetector cnn(kRoot / "models/detector");
  const auto photo = vision::read_rgb(kRoot / "samples/photos/group6.jpg");
  for (const cv::Rect face : {cv::Rect(130, 345, 211, 188), cv::Rect(416, 254, 192, 177), cv::Rect(734, 242, 189, 168),
                              cv::Rect(960, 210, 198, 190)}) {
    const cv::Rect tight(face.x + face.width * 15 / 200, face.y + face.height * 15 / 100, face.width * 85 / 100,
                         face.height * 775 / 1000);
    cv::Mat close_up, grey, rgb;
    cv::resize(photo(tight), close_up, {350, 350});
    cv::cvtColor(close_up, grey, cv::COLOR_RGB2GRAY);
    cv::cvtColor(grey, rgb, cv::COLOR_GRAY2RGB);
    EXPECT_TRUE(detector().detect(rgb).empty()) << face;
    const auto found = cnn.detect(rgb, /*crop_fallback=*/false);
    ASSERT_EQ(found.size(), 1u) << face;
    EXPECT_FALSE(found[0].whole_image);
    EXPECT_EQ(found[0].box & cv::Rect(0, 0, 350, 350), found[0].box);  // clipped to the picture
    EXPECT_GT(found[0].box.area(), 350 * 350 / 4);
  }
}

TEST(CnnDetector, NoFaceAbstainsAndSmallCropsAreTakenWhole) {
  const models::CnnDetector cnn(kRoot / "models/detector");
  EXPECT_TRUE(cnn.detect(vision::read_rgb(kRoot / "samples/photos/no_face_fruits.jpg")).empty());
  const auto small = cnn.detect(cv::Mat(16, 16, CV_8UC3, cv::Scalar(90, 90, 90)));
  ASSERT_EQ(small.size(), 1u);
  EXPECT_TRUE(small[0].whole_image);
  EXPECT_EQ(cnn.detect(cv::Mat(40, 40, CV_8UC1, cv::Scalar(90))).size(), 1u);  // grey pictures too
}

// The tiny 68-point landmark net against face-api's own run: for every face the package found at
// 416, the same crop, and each of the 68 points within 0.05 pixels of the package's.
TEST(Landmarks, MatchFaceApiOnEveryGoldenFace) {
  const auto landmarker = models::FaceLandmarker::load(kRoot / "models/landmarks");
  double worst = 0;
  const size_t faces = for_each_golden_face([&](const cv::Mat& rgb, const nlohmann::json& face) {
    const auto b = face["box"], c = face["crop"];
    const auto found = landmarker.detect(rgb, cv::Rect2d(b[0], b[1], b[2], b[3]));
    EXPECT_EQ(found.crop, cv::Rect(c[0], c[1], c[2], c[3]));
    for (size_t i = 0; i < 68; ++i) {
      const cv::Point2d expected(face["landmarks"][i][0].get<double>() + found.crop.x,
                                 face["landmarks"][i][1].get<double>() + found.crop.y);
      worst = std::max(worst, cv::norm(found.points[i] - expected));
    }
  });
  EXPECT_GE(faces, 15u);
  EXPECT_LT(worst, 0.05);
  std::printf("%zu faces x 68 landmarks: largest distance from face-api's %.2e pixels\n", faces, worst);
}

TEST(Landmarks, ConversionAndBadInput) {
  const auto dir = scratch("landmarks");
  models::convert_face_landmarks_tiny(kData / "tfjs/face_landmark_68_tiny_model-weights_manifest.json", dir);
  const auto fresh = models::load_tensors(dir / "model.safetensors");
  const auto shipped = models::load_tensors(kRoot / "models/landmarks/model.safetensors");
  ASSERT_EQ(fresh.size(), shipped.size());
  for (const auto& [name, t] : fresh) EXPECT_TRUE(torch::equal(t, shipped.at(name))) << name;
  EXPECT_EQ(fresh.at("fc.weight").sizes(), (std::vector<int64_t>{136, 128}));  // TensorFlow's [in, out] turned
  // The detector's weights are not the landmark net's.
  expect_error_code([&] { models::convert_face_landmarks_tiny(kManifest, dir / "x"); }, "bad_model", "landmark net");
  const auto landmarker = models::FaceLandmarker::load(kRoot / "models/landmarks");
  const cv::Mat picture(100, 100, CV_8UC3, cv::Scalar(100, 100, 100));
  expect_error_code([&] { landmarker.detect(picture, cv::Rect2d(150, 20, 30, 30)); }, "bad_image", "outside");
  const auto edge = landmarker.detect(picture, cv::Rect2d(-20, 80, 50, 50));  // clamped, never out of bounds
  EXPECT_EQ(edge.crop, cv::Rect(0, 80, 30, 20));
  expect_error_code([&] { models::FaceLandmarker::load(kRoot / "models/detector"); }, "bad_model", "face_landmark_68_tiny");
  fs::remove_all(dir);
}

// With the landmark net and its framing, the CNN detector cuts each face aligned: 96 x 96, eyes
// level where FER2013's sit; without them, the margin crop.
TEST(CnnDetector, CutsFacesAlignedWhenItHasLandmarks) {
  const models::CnnDetector plain(kRoot / "models/detector");
  const models::CnnDetector aligned(kRoot / "models/detector", {}, kRoot / "models/landmarks");
  const auto photo = vision::read_rgb(kRoot / "samples/photos/group3.jpg");
  const auto faces = aligned.detect(photo);
  ASSERT_GE(faces.size(), 3u);
  for (const auto& f : faces) {
    EXPECT_EQ(aligned.cut(photo, f, 0.1).size(), cv::Size(96, 96));
    EXPECT_EQ(plain.cut(photo, f, 0.1).size(), vision::crop_with_margin(photo, f.box, 0.1).size());
  }
  const auto framing = vision::FaceFraming::load(kRoot / "models/landmarks/framing.json");
  EXPECT_NEAR(framing.left_eye.y, framing.right_eye.y, 0.02);  // FER2013's eyes are level
}

// face-api's expression net, converted to an emopost face model: on every face the package found at
// 416, the same crop read the package's way, the 7 probabilities within 1e-4 of the package's own
// (whose order is neutral, happy, sad, angry, fearful, disgusted, surprised).
TEST(ExpressionNet, MatchesFaceApiOnEveryGoldenFace) {
  const auto dir = scratch("expression");
  models::convert_face_expression(kData / "tfjs/face_expression_model-weights_manifest.json", dir);
  auto net = models::load_expression_net(dir);
  const std::array<float, 3> mean{122.782f, 117.001f, 104.298f};
  const int ours[] = {4, 3, 5, 0, 2, 1, 6};  // face-api's i-th expression is emopost's label ours[i]
  double worst = 0;
  const size_t faces = for_each_golden_face([&](const cv::Mat& rgb, const nlohmann::json& face) {
    const auto c = face["crop"];
    const cv::Mat crop = rgb(cv::Rect(c[0], c[1], c[2], c[3]));
    torch::NoGradGuard no_grad;
    const auto probs = torch::softmax(net->forward_face_api(models::face_api::input(crop, 112, mean, true)), 1)[0];
    ASSERT_EQ(face["expressions"].size(), 7u);
    for (int i = 0; i < 7; ++i)
      worst = std::max(worst, std::abs(probs[ours[i]].item<double>() - face["expressions"][i].get<double>()));
  });
  EXPECT_GE(faces, 15u);
  EXPECT_LT(worst, 1e-4);
  std::printf("%zu faces x 7 expressions: largest difference from face-api's %.2e\n", faces, worst);
  fs::remove_all(dir);
}

// As a face model: emopost's labels, grey faces at the face models' side, a save that loads back to
// the same logits, and a member of a ResNet ensemble.
TEST(ExpressionNet, IsAFaceModelLikeTheOthers) {
  const auto dir = scratch("expression_model");
  models::convert_face_expression(kData / "tfjs/face_expression_model-weights_manifest.json", dir / "converted");
  auto model = models::ImageClassifier::load(dir / "converted");
  EXPECT_EQ(model.model_type(), "face_expression");
  EXPECT_EQ(model.labels(), std::vector<std::string>(kLabels.begin(), kLabels.end()));
  EXPECT_EQ(model.num_channels(), 1);
  const auto processor = models::read_processor_config(dir / "converted", model);
  EXPECT_EQ(processor.height, 64);
  EXPECT_EQ(models::load_face_folder(dir / "converted").model.model_type(), "face_expression");  // as predict loads it
  torch::manual_seed(3);
  const auto faces = torch::rand({2, 1, 64, 64}) * 2 - 1;
  model.module().eval();
  torch::NoGradGuard no_grad;
  const auto logits = model.forward(faces);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 7}));
  // A batch past the inference slice reads as its rows do.
  const auto many = torch::rand({40, 1, 64, 64}) * 2 - 1;
  EXPECT_TRUE(torch::allclose(model.forward(many), torch::cat({model.forward(many.slice(0, 0, 20)),
                                                               model.forward(many.slice(0, 20))}), 1e-5, 1e-5));
  model.save(dir / "saved", torch::kFloat);
  auto back = models::ImageClassifier::load(dir / "saved");
  back.module().eval();
  EXPECT_TRUE(torch::allclose(back.forward(faces), logits, 1e-5, 1e-5));
  // A grey face at 64 reads as the package reads the same face in RGB at 112.
  const auto grey = torch::full({1, 1, 64, 64}, 0.2);
  const auto rgb = (torch::full({1, 3, 112, 112}, 0.6) -
                    torch::tensor({122.782f, 117.001f, 104.298f}).view({1, 3, 1, 1}) / 255.0).contiguous();
  auto net = models::load_expression_net(dir / "saved");
  EXPECT_TRUE(torch::allclose(model.forward(grey), net->forward_face_api(rgb), 1e-4, 1e-4));
  // It joins an ensemble of grey models that take any side.
  auto resnet = models::ImageClassifier::load(kRoot / "models/face-ensemble/member-c");
  resnet.add_member(std::move(model));
  resnet.module().eval();
  EXPECT_EQ(resnet.forward(faces).sizes(), (std::vector<int64_t>{2, 7}));
  fs::remove_all(dir);
}

TEST(ExpressionNet, CorruptCheckpointsAndWrongWeightsAreBadModel) {
  const auto dir = scratch("expression_bad");
  expect_error_code([&] { models::convert_face_expression(kManifest, dir / "x"); }, "bad_model", "expression net");
  models::convert_face_expression(kData / "tfjs/face_expression_model-weights_manifest.json", dir / "m");
  const auto bytes = read_bytes(dir / "m/model.safetensors");
  std::ofstream(dir / "m/model.safetensors", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  expect_error_code([&] { models::ImageClassifier::load(dir / "m"); }, "bad_model", "");
  auto config = read_json_file(dir / "m/config.json");
  config["num_channels"] = 2;
  write_json_file(dir / "m/config.json", config);
  expect_error_code([&] { models::ImageClassifier::load(dir / "m"); }, "bad_model", "num_channels");
  fs::remove_all(dir);
}

// The net turns its input back into pixels with config.json's pixel_mean and pixel_std, so a
// preprocessor that normalises otherwise would feed it shifted faces: refused by name.
TEST(ExpressionNet, PreprocessorMustNormaliseAsTheNetUndoes) {
  const auto dir = scratch("expression_norm");
  models::convert_face_expression(kData / "tfjs/face_expression_model-weights_manifest.json", dir);
  const auto model = models::ImageClassifier::load(dir);
  ASSERT_EQ(model.pixel_normalization(), (std::pair{0.5, 0.5}));
  EXPECT_EQ(models::read_processor_config(dir, model).image_mean, std::vector<double>{0.5});
  auto processor = read_json_file(dir / "preprocessor_config.json");
  processor["image_mean"] = {0.485};
  write_json_file(dir / "preprocessor_config.json", processor);
  expect_error_code([&] { models::read_processor_config(dir, model); }, "bad_model", "pixel_mean 0.5");
  expect_error_code([&] { models::load_face_folder(dir); }, "bad_model", "0.485");
  processor["image_mean"] = {0.5};
  processor["do_normalize"] = false;
  write_json_file(dir / "preprocessor_config.json", processor);
  expect_error_code([&] { models::read_processor_config(dir, model); }, "bad_model", "std [1]");
  // A ResNet takes whatever normalisation its folder names.
  EXPECT_FALSE(models::ImageClassifier::load(kRoot / "models/face-ensemble/member-c").pixel_normalization());
  fs::remove_all(dir);
}
