// The shipped default models, end to end on the repository's evaluation sample (a fixed random
// sample of the held-out test splits, tests/data/eval-sample): they load as Hugging Face folders and
// score well above chance (1/7 = 14%).
#include <torch/torch.h>  // before gtest: torch defines glog-style CHECK macros

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "emopost/train/evaluation.h"
#include "support.h"

namespace fs = std::filesystem;
using emopost::train::run_evaluation;

using emopost::test::kRoot;

namespace {
const fs::path kSample = fs::path(EMOPOST_TEST_DATA) / "eval-sample";
}  // namespace

TEST(Shipped, TextModelScoresWellAboveChance) {
  auto out = run_evaluation({.kind = "text", .model_dir = kRoot / "models/text", .data_root = kSample,
                             .split = "test"});
  EXPECT_GE(out.json["pooled"]["total"].get<int>(), 290);
  EXPECT_GT(out.json["by_source"]["carer"]["accuracy"].get<double>(), 0.75);
  EXPECT_GT(out.json["pooled"]["accuracy"].get<double>(), 0.55);
  EXPECT_GT(out.json["pooled"]["macro_f1"].get<double>(), 0.35);
}

TEST(Shipped, FaceModelsScoreWellAboveChance) {
  // Chance on this balanced sample is 1/7 = 0.143 with a standard error of 0.024. The shipped faceres
  // reads 0.538 here against FER2013's labels, which it did not learn (it learnt FER+'s votes), the
  // ensemble shipped before it 0.657, the ViT 0.305 (the model cards give the full test scores).
  for (const auto& [folder, floor] : {std::pair{"models/face", 0.47}, std::pair{"models/face-ensemble", 0.45},
                                      std::pair{"models/face-vit", 0.22}}) {
    auto out = run_evaluation({.kind = "image", .model_dir = kRoot / folder, .data_root = kSample, .split = "test"});
    EXPECT_EQ(out.json["pooled"]["total"].get<int>(), 210) << folder;
    EXPECT_GT(out.json["pooled"]["accuracy"].get<double>(), floor) << folder;
  }
}

// The perturbation suite (tests/data/perturbations, issue 15): the shipped text model keeps its label
// under changes that keep the meaning. Casing, links and a reply's opening @mention are undone by the
// reading itself, so they must hold exactly; overall the model kept 93.2% when the suite was made,
// 94.4% once opening mentions were dropped and 96.0% once misspelt words were respelled and windows
// matched the 64 positions it was trained on (bench/RESULTS.md). The bar is 95%, and so is
// this floor; typos, undone by respelling, must hold at 95% on their own.
TEST(Shipped, TextModelKeepsItsLabelUnderMeaningPreservingPerturbations) {
  const auto suite = kRoot / "tests/data/perturbations/suite.jsonl";
  auto out = run_evaluation({.kind = "text", .model_dir = kRoot / "models/text", .data_root = suite, .format = "jsonl"});
  ASSERT_TRUE(out.json["skipped"].empty());
  std::ifstream in(suite);
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), out.predictions.size());
  std::map<std::string, std::string> predicted;
  for (size_t i = 0; i < rows.size(); ++i) predicted[rows[i]["id"]] = out.predictions[i]["predicted"];
  std::map<std::string, std::pair<int, int>> kept;  // kind -> (kept, pairs)
  for (const auto& r : rows) {
    const std::string kind = r["kind"];
    if (kind == "base" || kind == "caption") continue;
    auto& k = kept[kind];
    k.first += predicted[r["id"]] == predicted[r["base"]];
    ++k.second;
  }
  int all = 0, pairs = 0;
  for (const auto& [kind, k] : kept)
    if (kind != "negation") all += k.first, pairs += k.second;
  EXPECT_GT(pairs, 1500);
  EXPECT_GE(double(all) / pairs, 0.95);
  EXPECT_GE(double(kept["typo"].first) / kept["typo"].second, 0.95);
  for (const char* exact : {"caps", "sentence_case", "link", "mention"}) EXPECT_EQ(kept[exact].first, kept[exact].second) << exact;
}
