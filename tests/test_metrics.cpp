// Metrics on toy cases whose values were worked out by hand (in the comments) or taken from
// sklearn's own documentation examples.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "emopost/core/error.h"
#include "emopost/eval/scores.h"
#include "emopost/eval/offsets.h"

using namespace emopost;
using namespace emopost::eval;

namespace {
constexpr double kEps = 1e-12;
const std::vector<std::string> kSix = {"a", "b", "c", "d", "e", "f"};
}  // namespace

// sklearn's f1_score docstring example: y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1]
// gives macro F1 0.2666..., weighted F1 0.2666..., and precision_score(average='macro') 0.2222...
TEST(MetricsTest, MatchesSklearnDocExample) {
  auto r = classification_report({0, 1, 2, 0, 1, 2}, {0, 2, 1, 0, 0, 1}, 3);
  EXPECT_NEAR(r.macro_f1, 0.8 / 3, kEps);  // class 0: P 2/3, R 1, F1 0.8; classes 1, 2: 0
  EXPECT_NEAR(r.weighted_f1, 0.8 / 3, kEps);
  EXPECT_NEAR(r.accuracy, 1.0 / 3, kEps);
  EXPECT_NEAR((r.per_class[0].precision + r.per_class[1].precision + r.per_class[2].precision) / 3,
              2.0 / 9, kEps);
}

// truth     = 0 0 0 1 1 1 2 2 3 3
// predicted = 0 0 1 1 1 4 2 0 2 2      with 6 classes (class 5 never occurs)
// confusion rows (true): 0:[2,1,0,0,0,0] 1:[0,2,0,0,1,0] 2:[1,0,1,0,0,0] 3:[0,0,2,0,0,0] 4,5: 0
// predicted totals: 3, 3, 3, 0, 1, 0
//   class 0: tp 2, P 2/3, R 2/3, F1 2/3        class 1: same as class 0
//   class 2: tp 1, P 1/3, R 1/2, F1 2*1/(2+2+1) = 0.4
//   class 3: never predicted -> P 0 (zero_division=0), R 0, F1 0
//   class 4: predicted once, no support -> P 0, R 0 (zero_division=0), F1 0
//   class 5: neither -> all 0, and left out of the macro average (sklearn's labels=None)
// accuracy 5/10; macro F1 over {0..4} = (2/3 + 2/3 + 0.4 + 0 + 0)/5 = 0.34666...
// weighted F1 = (2/3*3 + 2/3*3 + 0.4*2 + 0*2)/10 = 0.48
TEST(MetricsTest, HandComputedWithMissingClasses) {
  auto r = classification_report({0, 0, 0, 1, 1, 1, 2, 2, 3, 3}, {0, 0, 1, 1, 1, 4, 2, 0, 2, 2}, 6);
  EXPECT_EQ(r.num_classes, 6);
  EXPECT_EQ(r.total, 10);
  EXPECT_NEAR(r.accuracy, 0.5, kEps);
  EXPECT_NEAR(r.per_class[0].precision, 2.0 / 3, kEps);
  EXPECT_NEAR(r.per_class[0].f1, 2.0 / 3, kEps);
  EXPECT_NEAR(r.per_class[2].precision, 1.0 / 3, kEps);
  EXPECT_NEAR(r.per_class[2].recall, 0.5, kEps);
  EXPECT_NEAR(r.per_class[2].f1, 0.4, kEps);
  EXPECT_EQ(r.per_class[3].support, 2);  // never predicted
  EXPECT_EQ(r.per_class[3].precision, 0.0);
  EXPECT_EQ(r.per_class[3].f1, 0.0);
  EXPECT_EQ(r.per_class[4].support, 0);  // no support
  EXPECT_EQ(r.per_class[4].recall, 0.0);
  EXPECT_EQ(r.per_class[4].f1, 0.0);
  EXPECT_NEAR(r.macro_f1, (2.0 / 3 + 2.0 / 3 + 0.4) / 5, kEps);
  EXPECT_NEAR(r.weighted_f1, 0.48, kEps);
  EXPECT_EQ(r.confusion[0], (std::vector<int64_t>{2, 1, 0, 0, 0, 0}));
  EXPECT_EQ(r.confusion[1], (std::vector<int64_t>{0, 2, 0, 0, 1, 0}));
  EXPECT_EQ(r.confusion[3], (std::vector<int64_t>{0, 0, 2, 0, 0, 0}));

  auto n = r.confusion_normalized();
  ASSERT_EQ(n.size(), 6u);
  EXPECT_NEAR(n[0][0], 2.0 / 3, kEps);
  EXPECT_NEAR(n[0][1], 1.0 / 3, kEps);
  EXPECT_NEAR(n[2][0], 0.5, kEps);
  EXPECT_EQ(n[3][2], 1.0);
  EXPECT_EQ(n[4], std::vector<double>(6, 0.0));  // a class with no support keeps a zero row
  for (int k = 0; k < 4; ++k) {
    double sum = 0;
    for (double v : n[k]) sum += v;
    EXPECT_NEAR(sum, 1.0, kEps);
  }
}

TEST(MetricsTest, PerfectPredictions) {
  std::vector<int> y = {0, 1, 2, 2, 1, 0, 2};
  auto r = classification_report(y, y, 3);
  EXPECT_EQ(r.accuracy, 1.0);
  EXPECT_EQ(r.macro_f1, 1.0);
  EXPECT_EQ(r.weighted_f1, 1.0);
  for (auto& s : r.per_class) {
    EXPECT_EQ(s.precision, 1.0);
    EXPECT_EQ(s.recall, 1.0);
  }
  EXPECT_EQ(r.confusion, (std::vector<std::vector<int64_t>>{{2, 0, 0}, {0, 2, 0}, {0, 0, 3}}));
}

TEST(MetricsTest, BadInputsAreErrors) {
  EXPECT_THROW(classification_report({0, 1}, {0}, 2), Error);      // lengths differ
  EXPECT_THROW(classification_report({0, 2}, {0, 1}, 2), Error);   // truth out of range
  EXPECT_THROW(classification_report({0, 1}, {0, -1}, 2), Error);  // prediction out of range
  EXPECT_THROW(classification_report({}, {}, 2), Error);
  EXPECT_THROW(classification_report({0}, {0}, 0), Error);
  auto r = classification_report({0, 1}, {0, 1}, 2);
  EXPECT_THROW(r.to_json({"only one"}), Error);
  EXPECT_THROW(r.to_markdown({"x", "y", "z"}), Error);
  EXPECT_THROW(r.to_json({"same", "same"}), Error);
}

TEST(MetricsTest, JsonHasLabelsAsKeys) {
  auto r = classification_report({0, 0, 0, 1, 1, 1, 2, 2, 3, 3}, {0, 0, 1, 1, 1, 4, 2, 0, 2, 2}, 6);
  auto j = r.to_json(kSix);
  for (const char* key : {"num_classes", "total", "accuracy", "macro_f1", "weighted_f1", "labels",
                          "macro_f1_classes", "per_class", "confusion", "confusion_normalized"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["total"], 10);
  EXPECT_DOUBLE_EQ(j["macro_f1"].get<double>(), r.macro_f1);
  EXPECT_EQ(j["labels"], nlohmann::json(kSix));
  EXPECT_EQ(j["macro_f1_classes"], nlohmann::json({"a", "b", "c", "d", "e"}));
  for (auto& l : kSix) {
    EXPECT_TRUE(j["per_class"].contains(l)) << l;
    EXPECT_TRUE(j["confusion"].contains(l)) << l;
  }
  EXPECT_DOUBLE_EQ(j["per_class"]["c"]["f1"].get<double>(), 0.4);
  EXPECT_EQ(j["per_class"]["d"]["support"], 2);
  EXPECT_EQ(j["confusion"]["b"]["e"], 1);  // [true][predicted]
  EXPECT_EQ(j["confusion"]["e"]["b"], 0);
  EXPECT_DOUBLE_EQ(j["confusion_normalized"]["c"]["a"].get<double>(), 0.5);
}

TEST(MetricsTest, MarkdownIsReadable) {
  const std::vector<std::string> labels = {"anger", "joy", "sadness"};
  auto r = classification_report({0, 1, 1, 2, 2, 2}, {0, 1, 2, 2, 2, 1}, 3);
  std::string md = r.to_markdown(labels);
  for (auto& l : labels) {
    EXPECT_NE(md.find("| " + l + " |"), std::string::npos) << l;  // a row per class
    EXPECT_NE(md.find(" " + l + " |"), std::string::npos) << l;
  }
  EXPECT_NE(md.find("| true \\ predicted | anger | joy | sadness |"), std::string::npos) << md;
  EXPECT_NE(md.find("66.67%"), std::string::npos) << md;  // accuracy 4/6
  EXPECT_NE(md.find("| sadness | 0 | 1 | 2 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| joy | 0.0% | 50.0% | 50.0% |"), std::string::npos) << md;
  EXPECT_NE(md.find("0.6667"), std::string::npos) << md;
}

// Two classes, 10 bins; predictions with confidence 0.9 fall in (0.8, 0.9], those with 0.6 in
// (0.5, 0.6]. ECE = sum_b n_b/N * |acc_b - conf_b|, each bin holding half of the 4 predictions:
//   both 0.9 right, one 0.6 right: 0.5*|1 - 0.9| + 0.5*|0.5 - 0.6| = 0.05 + 0.05 = 0.1
//   all four right:                0.5*|1 - 0.9| + 0.5*|1 - 0.6|   = 0.05 + 0.2  = 0.25
//   all four wrong:                0.5*0.9 + 0.5*0.6                = 0.75
TEST(MetricsTest, CalibrationErrorToyCase) {
  const std::vector<std::vector<double>> p = {{0.9, 0.1}, {0.1, 0.9}, {0.6, 0.4}, {0.4, 0.6}};
  // argmax: 0, 1, 0, 1
  EXPECT_NEAR(expected_calibration_error(p, {0, 1, 0, 0}, 10), 0.1, kEps);
  EXPECT_NEAR(expected_calibration_error(p, {0, 1, 0, 1}, 10), 0.25, kEps);
  EXPECT_NEAR(expected_calibration_error(p, {1, 0, 1, 0}, 10), 0.75, kEps);
  // One bin hides the miscalibration: accuracy 3/4 equals the mean confidence 0.75.
  EXPECT_NEAR(expected_calibration_error(p, {0, 1, 0, 0}, 1), 0.0, kEps);
}

// Bins are (b/B, (b+1)/B]: with B = 5, 0.6 belongs to (0.4, 0.6], not with 0.7 in (0.6, 0.8].
// 0.6 right and 0.7 wrong in separate bins: 0.5*|1 - 0.6| + 0.5*|0 - 0.7| = 0.55
// (in one bin it would be |0.5 - 0.65| = 0.15).
TEST(MetricsTest, CalibrationBinEdges) {
  EXPECT_NEAR(expected_calibration_error({{0.6, 0.4}, {0.7, 0.3}}, {0, 1}, 5), 0.55, kEps);
  // Likewise 0.7 sits in (0.6, 0.7], apart from 0.8 in (0.7, 0.8]:
  // 0.5*|1 - 0.7| + 0.5*|0 - 0.8| = 0.55 (in one bin: |0.5 - 0.75| = 0.25).
  EXPECT_NEAR(expected_calibration_error({{0.7, 0.3}, {0.8, 0.2}}, {0, 1}, 10), 0.55, kEps);
  // Confidence 0 goes to the first bin, confidence 1 to the last.
  EXPECT_NEAR(expected_calibration_error({{0.0, 0.0}}, {0}, 15), 1.0, kEps);
  EXPECT_NEAR(expected_calibration_error({{1.0, 0.0}}, {0}, 15), 0.0, kEps);
  EXPECT_NEAR(expected_calibration_error({{1.0, 0.0}, {1.0, 0.0}}, {0, 1}, 15), 0.5, kEps);
}

TEST(MetricsTest, CalibrationBadInputsAreErrors) {
  const std::vector<std::vector<double>> p = {{0.9, 0.1}, {0.2, 0.8}};
  EXPECT_THROW(expected_calibration_error(p, {0}), Error);     // lengths differ
  EXPECT_THROW(expected_calibration_error(p, {0, 2}), Error);  // label out of range
  EXPECT_THROW(expected_calibration_error(p, {0, -1}), Error);
  EXPECT_THROW(expected_calibration_error(p, {0, 1}, 0), Error);                 // no bins
  EXPECT_THROW(expected_calibration_error({{0.5, 0.5}, {1.0}}, {0, 0}), Error);  // ragged
  EXPECT_THROW(expected_calibration_error({{1.5, 0.0}}, {0}), Error);  // not a probability
  EXPECT_THROW(expected_calibration_error({}, {}), Error);
}

// Decision offsets (eval/offsets.h). Three classes; the model leans to class 1: class-0 examples
// read 0.45 / 0.55, so they go to class 1 until class 0's offset passes ln(0.55 / 0.45) = 0.20.
// Class-1 examples (0.2 / 0.8) stay right until the offset passes ln 4 = 1.39, so on a 0.1 grid
// the first offset that makes every decision right is 0.3.
TEST(OffsetsTest, FindsTheShiftThatUndoesALean) {
  std::vector<std::vector<double>> p;
  std::vector<int> truth;
  for (int i = 0; i < 4; ++i) p.push_back({0.45, 0.55, 0.0}), truth.push_back(0);
  for (int i = 0; i < 4; ++i) p.push_back({0.2, 0.8, 0.0}), truth.push_back(1);
  for (int i = 0; i < 4; ++i) p.push_back({0.0, 0.1, 0.9}), truth.push_back(2);
  auto fit = fit_decision_offsets(p, truth);
  ASSERT_EQ(fit.offsets.size(), 3u);
  EXPECT_NEAR(fit.offsets[0], 0.3, kEps);
  EXPECT_EQ(fit.offsets[1], 0.0);
  EXPECT_EQ(fit.offsets[2], 0.0);
  EXPECT_NEAR(fit.accuracy_before, 8.0 / 12.0, kEps);
  EXPECT_NEAR(fit.macro_f1_after, 1.0, kEps);
  EXPECT_NEAR(fit.accuracy_after, 1.0, kEps);
  EXPECT_EQ(decide(p, fit.offsets), truth);
}

TEST(OffsetsTest, RightDecisionsAreLeftAlone) {
  std::vector<std::vector<double>> p = {{0.9, 0.1}, {0.3, 0.7}, {0.6, 0.4}};
  std::vector<int> truth = {0, 1, 0};
  auto fit = fit_decision_offsets(p, truth);
  EXPECT_EQ(fit.offsets, (std::vector<double>{0.0, 0.0}));
  EXPECT_EQ(fit.macro_f1_before, fit.macro_f1_after);
  EXPECT_EQ(decide(p, {}), truth);  // no offsets: the plain argmax
}

// Strict gains only, so the fitted offsets never score below the plain argmax.
TEST(OffsetsTest, NeverWorseThanThePlainArgmax) {
  std::vector<std::vector<double>> p;
  std::vector<int> truth;
  unsigned state = 7;
  auto next = [&] { return (state = state * 1103515245u + 12345u) % 1000 / 1000.0 + 1e-3; };
  for (int i = 0; i < 200; ++i) {
    std::vector<double> row = {next(), next(), next(), next()};
    double sum = row[0] + row[1] + row[2] + row[3];
    for (auto& v : row) v /= sum;
    p.push_back(row);
    truth.push_back(static_cast<int>(next() * 4) % 4);
  }
  auto fit = fit_decision_offsets(p, truth, {.range = 0.5, .step = 0.25, .sweeps = 2});
  EXPECT_GE(fit.macro_f1_after, fit.macro_f1_before);
  for (double o : fit.offsets) EXPECT_LE(std::abs(o), 0.5 + kEps);
  auto report = classification_report(truth, decide(p, fit.offsets), 4);
  EXPECT_NEAR(report.macro_f1, fit.macro_f1_after, kEps);
}

TEST(OffsetsTest, BadInputsAreErrors) {
  EXPECT_THROW(fit_decision_offsets({}, {}), Error);
  EXPECT_THROW(fit_decision_offsets({{0.5, 0.5}}, {0, 1}), Error);
  EXPECT_THROW(fit_decision_offsets({{0.5, 0.5}, {1.0}}, {0, 1}), Error);
  EXPECT_THROW(fit_decision_offsets({{0.5, 0.5}}, {0}, {.range = 1, .step = 0, .sweeps = 1}), Error);
}
