// Masked-LM pre-training (train/pretrain.h): BERT's masking, WordNet as text, the DistilBertForMaskedLM
// checkpoint with the hub's names, and a few-step run that resumes and fine-tunes into a classifier.
#include <torch/torch.h>  // before gtest: torch defines glog-style CHECK macros

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "emopost/core/json.h"
#include "emopost/io/safetensors.h"
#include "emopost/models/checkpoint.h"
#include "emopost/train/pretrain.h"
#include "emopost/train/trainer.h"
#include "support.h"

namespace fs = std::filesystem;
using namespace emopost;
using namespace emopost::train;
using emopost::test::expect_error;
using emopost::test::kRoot;

namespace {

fs::path temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("emopost_pretrain_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Two synsets in WordNet's data file format, after a licence line as the real files start.
fs::path wordnet_fixture() {
  auto dir = temp_dir("wordnet");
  std::ofstream(dir / "data.adj")
      << "  1 This software and database is being provided to you, the LICENSEE, by  \n"
      << "00115193 00 s 02 furious 0 raging 0 001 & 00114797 a 0000 | marked by extreme anger; "
         "\"the professor was furious that his student had plagiarized\"  \n"
      << "01148283 00 a 01 glad(p) 0 000 | showing or causing joy and pleasure  \n";
  return dir;
}

TrainConfig mlm_config(const std::string& name) {
  auto c = TrainConfig::load(kRoot / "configs/smoke-text.json");
  c.task = "mlm";
  c.data_root = kRoot / "tests/data/samples";
  c.vocab = kRoot / "assets/vocab/bert-base-uncased-vocab.txt";
  c.output_dir = temp_dir(name);
  c.threads = 1;
  c.epochs = 2;
  c.learning_rate = 5e-3;
  return c;
}

std::vector<nlohmann::json> epoch_rows(const fs::path& log) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);)
    if (auto j = nlohmann::json::parse(line); j["type"] == "epoch") rows.push_back(j);
  return rows;
}

}  // namespace

TEST(Pretrain, MaskingFollowsBertsRecipeAndSparesSpecialTokens) {
  const MaskingIds ids;
  std::vector<int64_t> seq{ids.cls};
  for (int i = 0; i < 20000; ++i) seq.push_back(2000 + i % 5000);
  seq.push_back(ids.sep);
  seq.push_back(ids.pad);
  std::mt19937 rng(1);
  auto m = mask_tokens(seq, ids, 0.15, rng);
  ASSERT_EQ(m.ids.size(), seq.size());
  EXPECT_EQ(m.labels.front(), kIgnoreIndex);
  EXPECT_EQ(m.labels[seq.size() - 2], kIgnoreIndex);
  EXPECT_EQ(m.labels.back(), kIgnoreIndex);
  EXPECT_EQ(m.ids.front(), ids.cls);
  double chosen = 0, masked = 0, kept = 0, unchosen_changed = 0;
  for (size_t i = 1; i + 2 < seq.size(); ++i) {
    if (m.labels[i] == kIgnoreIndex) {
      unchosen_changed += m.ids[i] != seq[i];
      continue;
    }
    EXPECT_EQ(m.labels[i], seq[i]);
    ++chosen;
    masked += m.ids[i] == ids.mask;
    kept += m.ids[i] == seq[i];
  }
  EXPECT_EQ(unchosen_changed, 0);
  EXPECT_NEAR(chosen / 20000, 0.15, 0.01);
  EXPECT_NEAR(masked / chosen, 0.80, 0.03);
  EXPECT_NEAR(kept / chosen, 0.10, 0.03);  // the random 10% rarely lands on the same id
}

TEST(Pretrain, WordNetSynsetsBecomeSentences) {
  auto dir = wordnet_fixture();
  auto texts = wordnet_texts(dir);
  ASSERT_EQ(texts.size(), 2u);
  EXPECT_EQ(texts[0],
            "furious, raging: marked by extreme anger; \"the professor was furious that his student had plagiarized\"");
  EXPECT_EQ(texts[1], "glad: showing or causing joy and pleasure");
  EXPECT_EQ(wordnet_texts(dir, 1).size(), 1u);
  EXPECT_TRUE(wordnet_texts(dir / "missing").empty());
  fs::remove_all(dir);
}

// The head's parameters as transformers publishes distilbert-base-uncased (DistilBertForMaskedLM),
// names and shapes, the tied projector weight included.
TEST(Pretrain, MaskedLmCheckpointHasTheHubsNamesAndShapes) {
  const fs::path manifests = kRoot / "tests/data/hf/manifests";
  auto config = io::DistilBertConfig::from_json(read_json_file(manifests / "distilbert-base-uncased_config.json"));
  models::DistilBert model(config, models::DistilBertImpl::Head::masked_lm);
  auto dir = temp_dir("hub_names");
  models::save_pretrained(model, dir, torch::kHalf);
  auto expected = read_json_file(manifests / "distilbert-base-uncased_DistilBertForMaskedLM.json")
                      .get<std::map<std::string, std::vector<int64_t>>>();
  expected.erase("distilbert.embeddings.position_ids");  // a buffer older transformers saved
  std::map<std::string, std::vector<int64_t>> written;
  auto file = io::SafetensorsFile::open(dir / "model.safetensors");
  for (const auto& t : file.tensors()) written[t.name] = t.shape;
  EXPECT_EQ(written, expected);
  EXPECT_EQ(read_json_file(dir / "config.json")["architectures"][0], "DistilBertForMaskedLM");
  fs::remove_all(dir);
}

TEST(Pretrain, SmokeRunLearnsResumesAndFineTunesIntoAClassifier) {
  auto c = mlm_config("smoke");
  c.mlm_wordnet = wordnet_fixture();
  auto first = fit(c, /*resume=*/false);  // fit hands "mlm" to pretrain
  EXPECT_EQ(first.epochs_run, 2);
  for (auto f : {"best/config.json", "best/model.safetensors", "best/vocab.txt", "best/tokenizer_config.json",
                 "best/log.jsonl", "last/optimizer.pt", "last/trainer_state.json", "train_config.json"})
    EXPECT_TRUE(fs::exists(c.output_dir / f)) << f;
  auto rows = epoch_rows(c.output_dir / "log.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_TRUE(std::isfinite(r["val_loss"].get<double>()));
    // Guessing uniformly gets none of the ~130 masked validation tokens (chance 1/30522 each), and so
    // does a loss read at the wrong positions; a model that could see the words it must guess would
    // copy them and get most. Two tiny epochs get 1 of 133 (0.0075).
    EXPECT_GT(r["val_masked_accuracy"].get<double>(), 0.0);
    EXPECT_LT(r["val_masked_accuracy"].get<double>(), 0.5);
  }
  // Down from log(30522) = 10.3, guessing uniformly: it learns which words are common.
  EXPECT_LT(rows[0]["val_loss"].get<double>(), 10.3);
  EXPECT_LT(rows[1]["val_loss"].get<double>(), rows[0]["val_loss"].get<double>());
  EXPECT_LT(rows[1]["train_loss"].get<double>(), rows[0]["train_loss"].get<double>());

  c.epochs = 3;
  auto second = fit(c, /*resume=*/true);
  EXPECT_EQ(second.epochs_run, 1);
  EXPECT_EQ(epoch_rows(c.output_dir / "log.jsonl").size(), 3u);

  // The checkpoint reloads with its head: the same logits after a save and load.
  auto mlm = models::load_distilbert_masked_lm(c.output_dir / "best");
  auto ids = torch::tensor({{101, 1045, 2514, 103, 102}}, torch::kLong);
  auto mask = torch::ones_like(ids);
  {
    torch::NoGradGuard no_grad;
    auto before = mlm->masked_lm_logits(mlm->encode(ids, mask)[0]);
    models::save_pretrained(mlm, c.output_dir / "copy", torch::kFloat);
    auto again = models::load_distilbert_masked_lm(c.output_dir / "copy");
    EXPECT_TRUE(torch::allclose(before, again->masked_lm_logits(again->encode(ids, mask)[0])));
  }
  auto text = TrainConfig::load(kRoot / "configs/smoke-text.json");

  // Fine-tuning starts from it through init_from: the encoder comes along, the head is drawn fresh.
  text.data_root = c.data_root, text.vocab = c.vocab, text.threads = 1;
  text.init_from = c.output_dir / "best";
  text.output_dir = c.output_dir / "fine-tuned";
  text.epochs = 1, text.max_steps = 2;
  models::LoadReport report;
  auto classifier = models::load_distilbert(text.init_from, {.labels = std::vector<std::string>(7, "x")}, &report);
  EXPECT_EQ(report.initialized.size(), 4u);  // pre_classifier and classifier, weight and bias
  EXPECT_EQ(report.ignored.size(), 6u);      // the masked-LM head
  auto encoder = mlm->named_parameters(), loaded = classifier->named_parameters();
  EXPECT_TRUE(torch::equal(encoder["distilbert.transformer.layer.1.ffn.lin2.weight"],
                           loaded["distilbert.transformer.layer.1.ffn.lin2.weight"]));
  EXPECT_EQ(fit(text, false).epochs_run, 1);
  // A classifier folder is not a masked-LM one.
  expect_error([&] { models::load_distilbert_masked_lm(text.output_dir / "best"); }, "not a masked-LM checkpoint");
  fs::remove_all(c.mlm_wordnet);
  fs::remove_all(c.output_dir);
}

TEST(Pretrain, ConfigErrorsNameTheProblem) {
  auto base = read_json_file(kRoot / "configs/smoke-text.json");
  auto with = [&](const char* key, nlohmann::json value, const char* task = "mlm") {
    auto j = base;
    j["task"] = task;
    j[key] = std::move(value);
    return [j] { TrainConfig::from_json(j, "cfg.json"); };
  };
  expect_error(with("mask_probability", 0), "mask_probability");
  expect_error(with("mlm_wordnet", "/usr/share/wordnet", "text"), "mlm_wordnet");
  auto c = mlm_config("no_wordnet");
  c.mlm_wordnet = c.output_dir / "nothing";
  expect_error([&] { fit(c, false); }, "no WordNet data files");
  fs::remove_all(c.output_dir);
}
