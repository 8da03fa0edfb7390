// The full-size architectures built from their configs give exactly the parameter names and shapes
// of the published checkpoints (tests/data/hf/manifests), and those checkpoints load as published.
#include <torch/torch.h>  // before gtest: torch defines glog-style CHECK macros

#include <gtest/gtest.h>

#include <filesystem>

#include "emopost/core/labels.h"
#include "emopost/models/checkpoint.h"

namespace fs = std::filesystem;
using namespace emopost;
using namespace emopost::models;

namespace {

const fs::path kManifests = fs::path(EMOPOST_TEST_DATA) / "hf/manifests";
using Shapes = std::map<std::string, std::vector<int64_t>>;

Shapes read_manifest(const std::string& name) {
  return read_json_file(kManifests / name).get<Shapes>();
}

Shapes shapes_of(torch::nn::Module& module) {
  Shapes s;
  for (const auto& p : module.named_parameters())
    s[p.key()] = std::vector<int64_t>(p.value().sizes().begin(), p.value().sizes().end());
  return s;
}

std::vector<std::string> labels() { return {kLabels.begin(), kLabels.end()}; }

// A checkpoint folder with zero tensors of the given names and shapes, as a published one would be.
fs::path fake_checkpoint(const std::string& name, const Shapes& shapes, const std::string& config) {
  auto dir = fs::temp_directory_path() / ("emopost_manifest_" + name);
  fs::create_directories(dir);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& [key, shape] : shapes) tensors.emplace_back(key, torch::zeros(shape, torch::kHalf));
  save_tensors(dir / "model.safetensors", tensors, torch::kHalf);
  fs::copy_file(kManifests / config, dir / "config.json", fs::copy_options::overwrite_existing);
  return dir;
}

}  // namespace

TEST(Manifests, DistilBertForSequenceClassificationMatchesExactly) {
  auto config = io::DistilBertConfig::from_json(
      read_json_file(kManifests / "distilbert-base-uncased_config.json"));
  config.id2label = labels();
  DistilBert model(config);
  EXPECT_EQ(shapes_of(*model), read_manifest("DistilBertForSequenceClassification_7.json"));
}

TEST(Manifests, ViTForImageClassificationMatchesThroughTheNameTable) {
  auto config = io::ViTConfig::from_json(
      read_json_file(kManifests / "vit-base-patch16-224-in21k_config.json"));
  config.id2label = labels();
  ViT model(config);
  auto ours = shapes_of(*model);
  // transformers 5 names its modules differently in memory than in the files it saves; every
  // manifest name must map onto exactly one of ours, with the same shape.
  std::vector<std::string> keys;
  for (const auto& [k, s] : ours) keys.push_back(k);
  Shapes mapped;
  for (const auto& [key, shape] : read_manifest("ViTForImageClassification_7.json")) {
    auto name = canonical_key(key, vit_names(), &vit_names_transformers5(),
                              config.num_hidden_layers, keys);
    ASSERT_TRUE(name) << key;
    mapped[*name] = shape;
  }
  EXPECT_EQ(mapped, ours);
}

TEST(Manifests, PublishedDistilBertBaseLoadsWithAFreshHead) {
  auto dir = fake_checkpoint("distilbert", read_manifest("distilbert-base-uncased_DistilBertForMaskedLM.json"),
                             "distilbert-base-uncased_config.json");
  LoadReport report;
  auto model = load_distilbert(dir, {.labels = labels()}, &report);
  EXPECT_EQ(report.initialized, (std::vector<std::string>{"classifier.bias", "classifier.weight",
                                                          "pre_classifier.bias", "pre_classifier.weight"}));
  EXPECT_EQ(report.ignored.size(), 6u);  // vocab_transform, vocab_layer_norm, vocab_projector
  EXPECT_EQ(model->config().num_labels(), 7);
  // The backbone came from the file (zeros), the head was drawn fresh.
  auto params = model->named_parameters();
  EXPECT_EQ(params["distilbert.transformer.layer.5.ffn.lin2.weight"].abs().sum().item<double>(), 0.0);
  EXPECT_GT(params["classifier.weight"].abs().sum().item<double>(), 0.0);
  fs::remove_all(dir);
}

TEST(Manifests, PublishedViTIn21kLoadsInBothNamings) {
  auto config = io::ViTConfig::from_json(
      read_json_file(kManifests / "vit-base-patch16-224-in21k_config.json"));
  config.id2label = labels();
  // As transformers 5 lists it (manifest), and as the file on the hub spells it (our table, no
  // "vit." prefix, plus the pooler).
  Shapes hub;
  for (const auto& [key, shape] : shapes_of(*ViT(config)))
    if (key.rfind("vit.", 0) == 0) hub[key.substr(4)] = shape;
  hub["pooler.dense.weight"] = {768, 768};
  hub["pooler.dense.bias"] = {768};
  for (const auto& [name, shapes] :
       {std::pair{"vit_v5", read_manifest("vit-base-patch16-224-in21k_ViTModel.json")},
        std::pair{"vit_hub", hub}}) {
    auto dir = fake_checkpoint(name, shapes, "vit-base-patch16-224-in21k_config.json");
    LoadReport report;
    auto model = load_vit(dir, {.labels = labels()}, &report);
    EXPECT_EQ(report.initialized, (std::vector<std::string>{"classifier.bias", "classifier.weight"})) << name;
    EXPECT_EQ(report.ignored, (std::vector<std::string>{"pooler.dense.bias", "pooler.dense.weight"})) << name;
    auto params = model->named_parameters();
    EXPECT_EQ(params["vit.encoder.layer.11.attention.attention.query.weight"].abs().sum().item<double>(), 0.0) << name;
    fs::remove_all(dir);
  }
}
