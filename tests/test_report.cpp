// The analysis report's numbers (report/figures.h) on small, hand-checked inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "emopost/core/error.h"
#include "emopost/eval/scores.h"
#include "emopost/report/figures.h"
#include "emopost/text/words.h"

namespace fs = std::filesystem;
using namespace emopost;
using namespace emopost::report;

namespace {

std::vector<data::TextExample> texts() {
  return {{"I feel so happy and happy today", 3, "carer"},
          {"happy happy joy", 3, "carer"},
          {"I am angry, so angry at the bus", 0, "goemotions"},
          {"the bus was late", 4, "goemotions"}};
}

}  // namespace

TEST(ReportFigures, CsvQuotesWhatNeedsIt) {
  Rows rows = Rows::array();
  rows.push_back({{"word", "plain"}, {"count", 3}});
  rows.push_back({{"word", "a, \"quoted\" one"}, {"count", 1.5}});
  EXPECT_EQ(to_csv(rows), "count,word\n3,plain\n1.5,\"a, \"\"quoted\"\" one\"\n");
  EXPECT_EQ(to_csv(Rows::array()), "");
}

TEST(ReportFigures, ClassCountsAndTopWords) {
  const auto counts = class_counts({{"text train", data::label_counts(texts())}});
  ASSERT_EQ(counts.size(), 7u);
  EXPECT_EQ(counts[3]["label"], "joy");
  EXPECT_EQ(counts[3]["count"], 2);
  EXPECT_EQ(counts[3]["dataset"], "text train");

  const auto top = top_words(texts(), default_stop_words(), 2);
  // joy: happy (4), then feel/joy/today (1 each) in alphabetical order; "i", "so", "and" are stop words.
  ASSERT_GE(top.size(), 2u);
  EXPECT_EQ(top[0]["label"], "anger");
  EXPECT_EQ(top[0]["word"], "angry");
  EXPECT_EQ(top[0]["count"], 2);
  bool saw_joy = false;
  for (const auto& r : top) {
    if (r["label"] != "joy") continue;
    if (r["rank"] == 1) {
      saw_joy = true;
      EXPECT_EQ(r["word"], "happy");
      EXPECT_EQ(r["count"], 4);
    } else {
      EXPECT_EQ(r["word"], "feel");
    }
  }
  EXPECT_TRUE(saw_joy);
  for (const auto& r : top) EXPECT_FALSE(default_stop_words().count(r["word"].get<std::string>())) << r;
}

TEST(ReportFigures, LengthsAsBoxStatistics) {
  const auto rows = length_distribution(texts(), [](const std::string& t) { return t.size(); });
  ASSERT_EQ(rows.size(), 14u);  // 7 labels, words and tokens
  const auto& joy_words = rows[3];
  EXPECT_EQ(joy_words["unit"], "words");
  EXPECT_EQ(joy_words["count"], 2);
  EXPECT_DOUBLE_EQ(joy_words["min"].get<double>(), 3);
  EXPECT_DOUBLE_EQ(joy_words["max"].get<double>(), 7);
  EXPECT_DOUBLE_EQ(joy_words["median"].get<double>(), 5);
  EXPECT_DOUBLE_EQ(joy_words["q1"].get<double>(), 4);
  EXPECT_EQ(rows[1]["count"], 0);  // disgust: no examples, no statistics
  EXPECT_FALSE(rows[1].contains("median"));
  EXPECT_EQ(rows[7 + 4]["unit"], "tokens");
  EXPECT_DOUBLE_EQ(rows[7 + 4]["median"].get<double>(), 16);  // "the bus was late"
}

TEST(ReportFigures, TrainingCurvesNoteBrokenLines) {
  const auto dir = fs::temp_directory_path() / ("emopost-report-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "log.jsonl")
      << "{\"type\":\"step\",\"epoch\":1,\"loss\":2.0}\n"
      << "{\"type\":\"epoch\",\"epoch\":1,\"train_loss\":1.5,\"val_loss\":1.2,\"val_accuracy\":0.5,\"val_macro_f1\":0.4}\n"
      << "{\"type\":\"epoch\",\"epoch\":2,\"train_lo\n"
      << "{\"type\":\"epoch\",\"epoch\":3,\"train_loss\":1.0}\n"
      << "{\"type\":\"epoch\",\"epoch\":4,\"train_loss\":0.9,\"val_loss\":1.0,\"val_accuracy\":0.6,\"val_macro_f1\":0.5}\n";
  const auto c = training_curves(dir / "log.jsonl");
  ASSERT_EQ(c.rows.size(), 2u);
  EXPECT_EQ(c.rows[1]["epoch"], 4);
  EXPECT_DOUBLE_EQ(c.rows[1]["val_macro_f1"].get<double>(), 0.5);
  ASSERT_EQ(c.notes.size(), 2u);
  EXPECT_EQ(c.notes[0], "log.jsonl:3: not JSON, skipped");
  EXPECT_NE(c.notes[1].find("log.jsonl:4"), std::string::npos);
  const auto missing = training_curves(dir / "nope.jsonl");
  EXPECT_TRUE(missing.rows.empty());
  EXPECT_NE(missing.notes.at(0).find("no training log"), std::string::npos);
  fs::remove_all(dir);
}

TEST(ReportFigures, ConfusionTablesComeFromTheMetrics) {
  const std::vector<int> truth = {0, 0, 0, 3, 3, 4, 4, 4};
  const std::vector<int> pred = {0, 3, 3, 3, 3, 4, 0, 4};
  const auto rep = eval::classification_report(truth, pred, 7);
  const auto cells = confusion_rows(rep);
  ASSERT_EQ(cells.size(), 49u);
  EXPECT_EQ(cells[3]["true"], "anger");
  EXPECT_EQ(cells[3]["predicted"], "joy");
  EXPECT_EQ(cells[3]["count"], 2);
  EXPECT_NEAR(cells[3]["share"].get<double>(), 2.0 / 3, 1e-12);
  const auto worst = most_confused(rep, 5);
  ASSERT_EQ(worst.size(), 2u);
  EXPECT_EQ(worst[0]["true"], "anger");
  EXPECT_EQ(worst[0]["predicted"], "joy");
  EXPECT_EQ(worst[1]["true"], "neutral");
  const auto classes = per_class_rows(rep);
  EXPECT_DOUBLE_EQ(classes[3]["precision"].get<double>(), rep.per_class[3].precision);
  EXPECT_EQ(classes[3]["support"], 2);
}

TEST(ReportFigures, QualityByLengthEqualsTheMetricsOnEachBin) {
  const std::vector<size_t> lengths = {2, 3, 7, 12, 50, 4};
  const std::vector<int> truth = {0, 3, 3, 4, 5, 0};
  const std::vector<int> pred = {0, 0, 3, 4, 4, 0};
  const auto rows = quality_by_length(lengths, truth, pred, {0, 5, 10});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["bin"], "0-4");
  EXPECT_EQ(rows[0]["count"], 3);
  const auto first = eval::classification_report({0, 3, 0}, {0, 0, 0}, 7);
  EXPECT_DOUBLE_EQ(rows[0]["accuracy"].get<double>(), first.accuracy);
  EXPECT_DOUBLE_EQ(rows[0]["macro_f1"].get<double>(), first.macro_f1);
  EXPECT_EQ(rows[2]["bin"], "10+");
  EXPECT_EQ(rows[2]["count"], 2);
  EXPECT_TRUE(rows[2]["to"].is_null());
  EXPECT_THROW(quality_by_length({1}, {0, 1}, {0, 1}), Error);
}

TEST(ReportFigures, ReliabilityBinsGiveTheMetricsEce) {
  const std::vector<std::vector<double>> probs = {{0.9, 0.1}, {0.8, 0.2}, {0.3, 0.7}, {0.45, 0.55}, {0.6, 0.4}};
  const std::vector<int> truth = {0, 1, 1, 0, 0};
  const auto rows = reliability(probs, truth, 10);
  double ece = 0, n = 0;
  for (const auto& r : rows) n += r["count"].get<double>();
  EXPECT_EQ(n, 5);
  for (const auto& r : rows)
    ece += r["count"].get<double>() / n * std::abs(r["accuracy"].get<double>() - r["confidence"].get<double>());
  EXPECT_NEAR(ece, eval::expected_calibration_error(probs, truth, 10), 1e-12);
  for (const auto& r : rows) EXPECT_GT(r["count"].get<int>(), 0);
}

TEST(ReportFigures, AttributedWordsAreSummedPerPredictedClass) {
  const std::vector<std::vector<std::pair<std::string, double>>> a = {
      {{"feel", 0.2}, {"happy", 0.5}, {"the", -0.1}}, {{"Happy!", 0.3}, {"day", 0.05}, {"...", 0.9}}, {{"angry", 0.6}, {"feel", 0.1}}};
  const auto rows = top_attributed_words(a, {3, 3, 0}, 2);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0]["label"], "anger");
  EXPECT_EQ(rows[0]["word"], "angry");
  EXPECT_EQ(rows[2]["label"], "joy");
  EXPECT_EQ(rows[2]["word"], "happy");
  EXPECT_NEAR(rows[2]["score"].get<double>(), 0.8, 1e-12);
  EXPECT_EQ(rows[2]["examples"], 2);
  EXPECT_EQ(rows[3]["word"], "feel");
  EXPECT_THROW(top_attributed_words(a, {3}, 2), Error);
}

TEST(ReportFigures, FusionFiguresReadCalibratesReport) {
  const nlohmann::json f = {{"disagreement", {{"fused_follows_text", 0.44}, {"fused_follows_image", 0.48},
                                              {"fused_picks_a_third_label", 0.08}, {"text_accuracy", 0.41},
                                              {"image_accuracy", 0.45}, {"fused_accuracy", 0.80}}},
                            {"ece_before_calibration", {{"text", 0.07}, {"image", 0.12}, {"fused", 0.02}}},
                            {"ece_after_calibration", {{"text", 0.02}, {"image", 0.05}}}};
  const auto d = fusion_disagreement(f);
  ASSERT_EQ(d.size(), 6u);
  EXPECT_EQ(d[0]["measure"], "the text");
  EXPECT_DOUBLE_EQ(d[5]["value"].get<double>(), 0.80);
  const auto e = calibration_ece(f);
  ASSERT_EQ(e.size(), 5u);  // "after" has no fused entry here
  EXPECT_EQ(e[1]["modality"], "face");
  EXPECT_EQ(e[3]["stage"], "after");
  EXPECT_TRUE(fusion_disagreement(nlohmann::json::object()).empty());
}

TEST(ReportFigures, TheGalleryListsTheMostConfidentMistakes) {
  const std::vector<std::vector<double>> probs = {{0.9, 0.1}, {0.2, 0.8}, {0.4, 0.6}, {0.3, 0.7}};
  const auto rows = most_confident_mistakes({0, 0, 0, 1}, {0, 1, 1, 1}, probs, 5);
  ASSERT_EQ(rows.size(), 2u);  // two mistakes, the surest first
  EXPECT_EQ(rows[0]["index"], 1);
  EXPECT_DOUBLE_EQ(rows[0]["confidence"].get<double>(), 0.8);
  EXPECT_EQ(rows[0]["label"], "anger");
  EXPECT_EQ(rows[0]["predicted"], "disgust");
  EXPECT_EQ(rows[1]["index"], 2);
}

TEST(ReportFigures, TheAblationDropsWholeWordsInAnyCase) {
  const std::set<std::string> drop = {"feel", "feeling", "like", "de", "en"};
  EXPECT_EQ(text::drop_words("I FEEL like a feeling, Feel-good!", drop), "I a , -good!");
  EXPECT_EQ(text::drop_words("feelings of déjà vu de la vie", drop), "feelings of déjà vu la vie");  // "feelings" is another word
  EXPECT_EQ(text::drop_words("like", drop), "");
  EXPECT_EQ(text::drop_words("  spaced   out  ", {}), "  spaced   out  ");  // nothing to drop: the text as it is
  // Counted as the figures count words: none of the dropped words is left.
  for (const auto& w : words_of(text::drop_words("I feel like I'm feeling it, en route", drop))) EXPECT_EQ(drop.count(w), 0u) << w;
}

TEST(ReportFigures, TemperingIsSoftmaxOfLogitsOverT) {
  // p = softmax(logits); tempered(p, T) must be softmax(logits / T).
  const std::vector<double> logits = {2.0, 0.5, -1.0, 0.0, 1.2, -3.0, 0.3};
  auto softmax = [](std::vector<double> z, double t) {
    double sum = 0;
    for (auto& v : z) sum += v = std::exp(v / t);
    for (auto& v : z) v /= sum;
    return z;
  };
  const auto p = softmax(logits, 1.0);
  for (double t : {0.5, 1.0, 1.7}) {
    const auto got = tempered({p}, t)[0], want = softmax(logits, t);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << "T " << t;
  }
  EXPECT_NEAR(tempered({{1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}}, 2.0)[0][0], 1.0, 1e-12);  // a zero stays (almost) zero
  EXPECT_THROW(tempered({p}, 0.0), Error);
  EXPECT_THROW(tempered({{0.5, 0.5}}, 1.0), Error);  // not one probability per label
}
