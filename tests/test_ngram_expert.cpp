// The n-gram expert beside the text model: its n-grams, TF-IDF features, fusion rule and folder,
// and the folder's errors. Fitting it is in test_train.cpp (it needs a trained text model).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "emopost/core/files.h"
#include "emopost/models/ngram_expert.h"
#include "support.h"

namespace fs = std::filesystem;
using namespace emopost;
using namespace emopost::models;
using emopost::test::expect_error_code;

namespace {

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// Three features: "love", "love it" and the character gram "#lov"; joy's weights favour them.
NgramExpert small(double a = 0.5, double b = 1.0) {
  std::vector<float> weight(3 * kNumLabels, 0.f);
  for (size_t f = 0; f < 3; ++f) weight[3 * 3 + f] = 2.f;  // joy is label 3
  fusion::Scores bias{};
  bias[4] = 0.5;  // neutral, for texts with no known n-gram
  return NgramExpert({"love", "love it", "#lov"}, {1.f, 2.f, 1.5f}, weight, bias, a, b);
}

fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("emopost_ngrams_" + name);
  fs::remove_all(dir);
  return dir;
}

}  // namespace

TEST(NgramExpert, NgramsAreWordsNeighbourPairsAndMarkedCharacterGrams) {
  const auto g = ngrams_of("i love it!");
  for (const char* x : {"i", "love", "it", "i love", "love it", "# l", "#lov", "#love ", "# love", "#it "})
    EXPECT_TRUE(has(g, x)) << x;
  // " it " is 4 long: its 4-gram is the whole padded word, counted once, and it has no 5-gram.
  EXPECT_EQ(std::count(g.begin(), g.end(), "# it "), 1);
  EXPECT_FALSE(has(g, "it!")) << "punctuation is not part of a word";
  EXPECT_TRUE(ngrams_of("").empty());
}

TEST(NgramExpert, FeaturesAreTfIdfNormalisedPerKindAndUnknownGramsAreIgnored) {
  const auto e = small();
  const auto row = e.features("love it love zebra");
  ASSERT_EQ(row.index.size(), 3u);
  double words = 0, chars = 0;
  for (size_t j = 0; j < row.index.size(); ++j) (row.index[j] == 2 ? chars : words) += double(row.value[j]) * row.value[j];
  EXPECT_NEAR(words, 1.0, 1e-6);
  EXPECT_NEAR(chars, 1.0, 1e-6);
  // "love" twice: (1 + ln 2) * idf 1 against "love it" once: 1 * idf 2.
  float love = 0, love_it = 0;
  for (size_t j = 0; j < row.index.size(); ++j) {
    if (row.index[j] == 0) love = row.value[j];
    if (row.index[j] == 1) love_it = row.value[j];
  }
  EXPECT_NEAR(love / love_it, (1 + std::log(2.0)) / 2.0, 1e-5);
  EXPECT_TRUE(e.features("zebra crossing").index.empty());
}

TEST(NgramExpert, FusionIsWeightedLogProbabilities) {
  const auto e = small(0.5, 1.0);
  const auto none = e.log_probabilities("nothing known here");
  const auto known = e.log_probabilities("i love it");
  EXPECT_EQ(std::max_element(none.begin(), none.end()) - none.begin(), 4) << "the bias alone: neutral";
  EXPECT_EQ(std::max_element(known.begin(), known.end()) - known.begin(), 3) << "joy's n-grams";
  double total = 0;
  for (double lp : known) total += std::exp(lp);
  EXPECT_NEAR(total, 1.0, 1e-9);
  fusion::Scores logits{3, 0, 0, 0, 0, 1, 0};  // the transformer says anger
  const auto fused = e.fuse(logits, "i love it");
  const auto model = fusion::log_softmax(logits);
  for (size_t k = 0; k < fused.size(); ++k) EXPECT_NEAR(fused[k], 0.5 * model[k] + 1.0 * known[k], 1e-9);
  EXPECT_EQ(std::max_element(fused.begin(), fused.end()) - fused.begin(), 3) << "here the expert outweighs";
  auto alone = small(1.0, 0.0).fuse(logits, "i love it");
  for (size_t k = 0; k < alone.size(); ++k) EXPECT_NEAR(alone[k], model[k], 1e-12);
}

TEST(NgramExpert, FolderRoundTripsAndBadFoldersAreBadModel) {
  const auto dir = fresh_dir("roundtrip");
  auto e = small(0.625, 0.75);
  e.info() = {{"C", 4}};
  e.save(dir);
  const auto back = NgramExpert::load(dir);
  EXPECT_EQ(back.num_features(), 3u);
  EXPECT_DOUBLE_EQ(back.model_weight(), 0.625);
  EXPECT_DOUBLE_EQ(back.expert_weight(), 0.75);
  EXPECT_EQ(back.info()["C"], 4);
  const auto a = e.log_probabilities("i love it"), b = back.log_probabilities("i love it");
  for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], 1e-6);

  auto broken = [&](const std::string& name, auto&& damage) {
    const auto bad = fresh_dir(name);
    fs::copy(dir, bad);
    damage(bad);
    return bad;
  };
  const auto weights = read_file(dir / "model.safetensors");
  auto truncated = broken("truncated", [&](const fs::path& d) {
    std::ofstream(d / "model.safetensors", std::ios::binary) << weights.substr(0, weights.size() / 2);
  });
  expect_error_code([&] { NgramExpert::load(truncated); }, "bad_model", "model.safetensors");
  auto longer = broken("longer", [](const fs::path& d) { std::ofstream(d / "ngrams.txt", std::ios::app) << "\nhate"; });
  expect_error_code([&] { NgramExpert::load(longer); }, "bad_model", "\"idf\"");
  auto twice = broken("twice", [](const fs::path& d) { std::ofstream(d / "ngrams.txt") << "love\nlove\n#lov"; });
  expect_error_code([&] { NgramExpert::load(twice); }, "bad_model", "listed twice");
  auto no_fusion = broken("nofusion", [](const fs::path& d) { std::ofstream(d / "config.json") << R"({"labels": ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]})"; });
  expect_error_code([&] { NgramExpert::load(no_fusion); }, "bad_model", "config.json");
  auto labels = broken("labels", [](const fs::path& d) { std::ofstream(d / "config.json") << R"({"labels": ["joy"], "fusion": {"model_weight": 1, "expert_weight": 1}})"; });
  expect_error_code([&] { NgramExpert::load(labels); }, "bad_model", "7");
  auto missing = broken("missing", [](const fs::path& d) { fs::remove(d / "ngrams.txt"); });
  expect_error_code([&] { NgramExpert::load(missing); }, "bad_model", "ngrams.txt");
  expect_error_code([] { small(0.0, 1.0); }, "bad_model", "fusion weights");
  expect_error_code([] { small(1.0, std::nan("")); }, "bad_model", "fusion weights");
  for (const auto& d : {dir, truncated, longer, twice, no_fusion, labels, missing}) fs::remove_all(d);
}
