// Temperature calibration and log-linear fusion on toy cases whose answers are known.
#include "emopost/fusion/fusion.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "support.h"

using namespace emopost::fusion;
using namespace emopost::test;

namespace {
Scores logits_for(int label, double margin) {
  Scores s{};
  s[label] = margin;
  return s;
}
}  // namespace

TEST(Fusion, SoftmaxAndTemperature) {
  auto p = softmax(logits_for(2, std::log(6.0)));  // e^m = 6 against six 1s: p = 6 / 12
  EXPECT_NEAR(p[2], 0.5, 1e-12);
  EXPECT_NEAR(p[0], 1.0 / 12, 1e-12);
  auto q = softmax(logits_for(2, std::log(6.0) * 2), 2.0);  // temperature undoes the scaling
  EXPECT_NEAR(q[2], 0.5, 1e-12);
  EXPECT_EQ(argmax(p), 2);
}

TEST(Fusion, LogSoftmaxIsTheLogOfSoftmaxAndHoldsFarOut) {
  const Scores logits{1, -2, 0.5, 3, 0, -1, 2};
  const auto lp = log_softmax(logits), p = softmax(logits);
  for (size_t k = 0; k < lp.size(); ++k) EXPECT_NEAR(lp[k], std::log(p[k]), 1e-12);
  const auto far = log_softmax(logits_for(3, 2000.0));  // exp(2000) overflows; the shift keeps it finite
  EXPECT_NEAR(far[3], 0.0, 1e-12);
  EXPECT_NEAR(far[0], -2000.0, 1e-9);
}

TEST(Fusion, FitTemperatureRecoversAKnownScale) {
  // Labels drawn from softmax(z), logits given as 3z: the NLL-optimal temperature is 3.
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 1.5);
  std::vector<Scores> logits;
  std::vector<int> labels;
  for (int i = 0; i < 20000; ++i) {
    Scores z;
    for (auto& v : z) v = noise(rng);
    auto p = softmax(z);
    std::discrete_distribution<int> draw(p.begin(), p.end());
    labels.push_back(draw(rng));
    for (auto& v : z) v *= 3;
    logits.push_back(z);
  }
  EXPECT_NEAR(fit_temperature(logits, labels), 3.0, 0.15);
}

TEST(Fusion, OneModalityPassesThroughAndNoneIsAnError) {
  FusionModel m;
  m.text_weight = 2, m.image_weight = 0.5;
  auto t = softmax(logits_for(3, 2.0)), i = softmax(logits_for(5, 1.0));
  EXPECT_EQ(m.fuse(t, std::nullopt), t);
  EXPECT_EQ(m.fuse(std::nullopt, i), i);
  expect_error_code([&] { m.fuse(std::nullopt, std::nullopt); }, "empty_post");
}

TEST(Fusion, LogLinearPoolingWeighsTheModalities) {
  FusionModel m;
  Scores t{}, i{};
  t.fill(0.1), i.fill(0.1);
  t[0] = 0.4, i[1] = 0.4;  // text says anger, image says disgust, equally sure
  m.text_weight = 1, m.image_weight = 1;
  auto even = m.fuse(t, i);
  EXPECT_NEAR(even[0], even[1], 1e-12);
  m.text_weight = 2;
  EXPECT_EQ(argmax(m.fuse(t, i)), 0);  // trusting text more tips the verdict
  double sum = 0;
  for (double v : m.fuse(t, i)) sum += v;
  EXPECT_NEAR(sum, 1.0, 1e-12);
}

namespace {

// 2000 built posts whose text (image) names the true label with probability text_right
// (image_right), else a random label; 0 = pure noise.
struct Posts {
  std::vector<Scores> text, image;
  std::vector<int> labels;
};
Posts built_posts(uint32_t seed, int text_right_in_10, int image_right_in_10) {
  std::mt19937 rng(seed);
  Posts p;
  auto say = [&](int y, int right_in_10) { return rng() % 10 < unsigned(right_in_10) ? y : int(rng() % 7); };
  for (int k = 0; k < 2000; ++k) {
    int y = int(rng() % 7);
    p.text.push_back(softmax(logits_for(say(y, text_right_in_10), 2.0)));
    p.image.push_back(softmax(logits_for(say(y, image_right_in_10), 2.0)));
    p.labels.push_back(y);
  }
  return p;
}

}  // namespace

TEST(Fusion, FitWeightsPrefersTheInformativeModality) {
  // Text is right 80% of the time, the image is noise: the image should get (near) zero weight.
  auto p = built_posts(3, 8, 0);
  auto [wt, wi] = fit_weights(p.text, p.image, p.labels);
  EXPECT_GT(wt, 0.5);
  EXPECT_LE(wi, 0.1);
}

TEST(Fusion, FitWeightsNeverLetsTheImageOutweighTheText) {
  // Now the image is the better signal (90% vs 60%): it gets a real weight, still below the text's.
  auto p = built_posts(4, 6, 9);
  auto [wt, wi] = fit_weights(p.text, p.image, p.labels);
  EXPECT_GT(wi, 0.5);
  EXPECT_LT(wi, wt);
}

TEST(Fusion, PoolWeightsUndoAReadingsWrongSharpnessAndKeepToTheGrid) {
  // Labels drawn from softmax(2z) while reading a says log_softmax(z): the best weight for a is 2,
  // since 2·log_softmax(z) pools to softmax(2z); reading b is noise and gets (near) none.
  std::mt19937 rng(5);
  std::normal_distribution<double> n01;
  std::vector<Scores> la, lb;
  std::vector<int> labels;
  for (int r = 0; r < 3000; ++r) {
    Scores z, noise;
    for (size_t k = 0; k < z.size(); ++k) z[k] = n01(rng), noise[k] = n01(rng);
    const auto p = softmax(z, 0.5);
    labels.push_back(int(std::discrete_distribution<int>(p.begin(), p.end())(rng)));
    la.push_back(log_softmax(z)), lb.push_back(log_softmax(noise));
  }
  const auto [wa, wb] = fit_pool_weights(la, lb, labels, {0.25, 4, 0.25}, {0, 2, 0.25});
  EXPECT_NEAR(wa, 2.0, 0.25);
  EXPECT_LE(wb, 0.25);
  // Only grid points, and only those allowed.
  const auto [ca, cb] = fit_pool_weights(la, lb, labels, {0.25, 1.5, 0.125}, {0, 2, 0.125});
  EXPECT_DOUBLE_EQ(ca, 1.5);  // the grid's top: 2 is off it
  EXPECT_DOUBLE_EQ(std::fmod(cb, 0.125), 0.0);
  const auto [fa, fb] = fit_pool_weights(la, lb, labels, {0, 4, 0.25}, {0, 2, 0.25},
                                         [](double a, double b) { return b >= 1.0 && a <= 1.0; });
  EXPECT_LE(fa, 1.0);
  EXPECT_GE(fb, 1.0);
  EXPECT_THROW(fit_pool_weights(la, {}, labels, {0, 1, 0.5}, {0, 1, 0.5}), emopost::Error);
}

TEST(Fusion, PooledNllIsTheNllOfOneReadingAtWeightsOneAndZeroAndGivesItsArgmax) {
  const std::vector<Scores> la{floored_log(softmax(logits_for(2, 3.0))), floored_log(softmax(logits_for(5, 1.0)))};
  const std::vector<Scores> lb{floored_log(softmax(logits_for(0, 9.0))), floored_log(softmax(logits_for(0, 9.0)))};
  const std::vector<int> labels{2, 4};
  std::vector<int> predicted{6, 6, 6};
  const double expected = -(la[0][2] + la[1][4]) / 2;
  EXPECT_NEAR(pooled_nll(la, lb, labels, 1.0, 0.0, &predicted), expected, 1e-12);
  EXPECT_EQ(predicted, (std::vector<int>{2, 5}));
  pooled_nll(la, lb, labels, 0.0, 1.0, &predicted);  // reading b alone says anger twice
  EXPECT_EQ(predicted, (std::vector<int>{0, 0}));
  EXPECT_THROW(pooled_nll(la, {}, labels, 1, 1), emopost::Error);
  // The floor: a zero probability reads as log(1e-12), as fuse() reads it.
  Scores p{};
  p[3] = 1.0;
  EXPECT_DOUBLE_EQ(floored_log(p)[0], std::log(1e-12));
  EXPECT_DOUBLE_EQ(floored_log(p)[3], 0.0);
}

TEST(Fusion, JsonRoundTripAndBadFiles) {
  FusionModel m;
  m.text_temperature = 1.5, m.image_temperature = 0.8, m.text_weight = 1.2, m.image_weight = 0.6;
  m.report = {{"fused_accuracy", 0.9}};
  auto path = fs::temp_directory_path() / "emopost_test_fusion.json";
  m.save(path);
  auto back = FusionModel::load(path);
  EXPECT_EQ(back.text_temperature, 1.5);
  EXPECT_EQ(back.image_weight, 0.6);
  EXPECT_EQ(back.report["fused_accuracy"], 0.9);
  std::ofstream(path) << "{\"text_temperature\": -1, \"image_temperature\": 1, \"text_weight\": 1, \"image_weight\": 1}";
  expect_error_code([&] { FusionModel::load(path); }, "bad_model", "temperatures must be > 0");
  std::ofstream(path) << "{\"text_temperature\": 1";
  expect_error_code([&] { FusionModel::load(path); }, "bad_model", path.string());
  fs::remove(path);
}
