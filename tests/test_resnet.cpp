// ResNetForImageClassification: the checkpoint keys are transformers' (parameters and BatchNorm
// buffers), a checkpoint round-trips, and the forward pass matches a reference computed straight
// from the state dict by key, the way transformers' modules consume it.
#include <torch/torch.h>  // before gtest: torch defines glog-style CHECK macros

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "emopost/core/error.h"
#include "emopost/models/checkpoint.h"
#include "emopost/core/json.h"
#include "emopost/core/labels.h"
#include "emopost/models/folder.h"
#include "emopost/models/image_classifier.h"
#include "support.h"

namespace fs = std::filesystem;
using namespace emopost;
using namespace emopost::models;
using emopost::test::expect_error;

namespace {

io::ResNetConfig tiny(const std::string& layer_type = "basic") {
  io::ResNetConfig c;
  c.num_channels = 1, c.embedding_size = 8, c.hidden_sizes = {8, 16}, c.depths = {1, 2};
  c.layer_type = layer_type;
  c.id2label = {"a", "b", "c"};
  return c;
}

fs::path temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("emopost_test_resnet_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::map<std::string, torch::Tensor> state_of(torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> s;
  for (const auto& p : m.named_parameters()) s[p.key()] = p.value();
  for (const auto& b : m.named_buffers()) s[b.key()] = b.value();
  return s;
}

// ResNetConvLayer at `path`, in eval mode.
torch::Tensor conv_layer(const std::map<std::string, torch::Tensor>& s, const std::string& path,
                         const torch::Tensor& x, int64_t stride, bool relu) {
  namespace F = torch::nn::functional;
  const auto& w = s.at(path + ".convolution.weight");
  auto y = F::conv2d(x, w, F::Conv2dFuncOptions().stride(stride).padding(w.size(2) / 2));
  y = torch::batch_norm(y, s.at(path + ".normalization.weight"), s.at(path + ".normalization.bias"),
                        s.at(path + ".normalization.running_mean"), s.at(path + ".normalization.running_var"),
                        false, 0.1, 1e-5, false);
  return relu ? torch::relu(y) : y;
}

}  // namespace

TEST(ResNet, NamedStateIsTransformersCheckpointKeys) {
  ResNet m(tiny());
  std::set<std::string> keys;
  for (const auto& [k, v] : state_of(*m)) keys.insert(k);
  auto conv = [](const std::string& p) {
    std::vector<std::string> v{p + ".convolution.weight"};
    for (auto s : {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"})
      v.push_back(p + ".normalization." + s);
    return v;
  };
  std::set<std::string> want{"classifier.1.weight", "classifier.1.bias"};
  for (auto p : {"resnet.embedder.embedder", "resnet.encoder.stages.0.layers.0.layer.0",
                 "resnet.encoder.stages.0.layers.0.layer.1", "resnet.encoder.stages.1.layers.0.shortcut",
                 "resnet.encoder.stages.1.layers.0.layer.0", "resnet.encoder.stages.1.layers.0.layer.1",
                 "resnet.encoder.stages.1.layers.1.layer.0", "resnet.encoder.stages.1.layers.1.layer.1"})
    for (const auto& k : conv(p)) want.insert(k);
  EXPECT_EQ(keys, want);
  auto s = state_of(*m);
  EXPECT_EQ(s["resnet.embedder.embedder.convolution.weight"].sizes(), (torch::IntArrayRef{8, 1, 7, 7}));
  EXPECT_EQ(s["resnet.encoder.stages.1.layers.0.shortcut.convolution.weight"].sizes(),
            (torch::IntArrayRef{16, 8, 1, 1}));
  EXPECT_EQ(s["classifier.1.weight"].sizes(), (torch::IntArrayRef{3, 16}));

  // Bottleneck layers reduce by 4 in the middle, and stride in the 3x3 conv (v1.5).
  ResNet b(tiny("bottleneck"));
  auto bs = state_of(*b);
  EXPECT_EQ(bs["resnet.encoder.stages.1.layers.0.layer.0.convolution.weight"].sizes(), (torch::IntArrayRef{4, 8, 1, 1}));
  EXPECT_EQ(bs["resnet.encoder.stages.1.layers.0.layer.1.convolution.weight"].sizes(), (torch::IntArrayRef{4, 4, 3, 3}));
  EXPECT_EQ(bs["resnet.encoder.stages.1.layers.0.layer.2.convolution.weight"].sizes(), (torch::IntArrayRef{16, 4, 1, 1}));
}

TEST(ResNet, ForwardMatchesAReferenceReadFromTheStateDict) {
  torch::manual_seed(0);
  ResNet m(tiny());
  // Non-trivial BatchNorm statistics: a few training-mode batches.
  m->train();
  for (int i = 0; i < 3; ++i) m->forward(torch::randn({4, 1, 40, 40}) * 2 + 0.5);
  m->eval();
  auto s = state_of(*m);
  auto x = torch::randn({2, 1, 40, 40});
  auto h = torch::max_pool2d(conv_layer(s, "resnet.embedder.embedder", x, 2, true), 3, 2, 1);
  auto basic = [&](const std::string& p, const torch::Tensor& in, int64_t stride, bool shortcut) {
    auto y = conv_layer(s, p + ".layer.1", conv_layer(s, p + ".layer.0", in, stride, true), 1, false);
    return torch::relu(y + (shortcut ? conv_layer(s, p + ".shortcut", in, stride, false) : in));
  };
  h = basic("resnet.encoder.stages.0.layers.0", h, 1, false);
  h = basic("resnet.encoder.stages.1.layers.0", h, 2, true);
  h = basic("resnet.encoder.stages.1.layers.1", h, 1, false);
  auto want = torch::linear(h.mean({2, 3}), s["classifier.1.weight"], s["classifier.1.bias"]);
  torch::NoGradGuard no_grad;
  auto got = m->forward(x);
  EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-6)) << (got - want).abs().max().item<double>();
  // The prepared inference path (folded BatchNorm, oneDNN layouts) gives the same logits.
  m->prepare_inference();
  auto fast = m->forward(x);
  EXPECT_TRUE(torch::allclose(fast, want, 1e-4, 1e-5)) << (fast - want).abs().max().item<double>();
  // Training again drops the prepared path: its folded statistics would go stale.
  m->train();
  m->eval();
  EXPECT_TRUE(torch::equal(m->forward(x), got));
  EXPECT_EQ(m->forward(torch::randn({1, 1, 64, 48})).sizes(), (torch::IntArrayRef{1, 3}));
  expect_error([&] { m->forward(torch::randn({1, 1, 16, 16})); }, "H>=32");
  expect_error([&] { m->forward(torch::randn({1, 3, 48, 48})); }, "[B, 1,");
}

TEST(ResNet, CheckpointRoundTripKeepsBatchNormState) {
  torch::manual_seed(1);
  auto c = tiny();
  ResNet m(c);
  m->train();
  m->forward(torch::randn({4, 1, 32, 32}) + 1.0);
  m->eval();
  auto dir = temp_dir("roundtrip");
  save_pretrained(m, dir);
  auto saved = load_tensors(dir / "model.safetensors");
  EXPECT_EQ(saved.at("resnet.embedder.embedder.normalization.num_batches_tracked").scalar_type(), torch::kLong);
  EXPECT_EQ(saved.at("resnet.embedder.embedder.normalization.num_batches_tracked").item<int64_t>(), 1);
  auto cfg = read_json_file(dir / "config.json");
  EXPECT_EQ(cfg["model_type"], "resnet");
  EXPECT_EQ(cfg["architectures"][0], "ResNetForImageClassification");
  EXPECT_EQ(cfg["hidden_sizes"], nlohmann::json({8, 16}));

  auto back = ImageClassifier::load(dir);
  EXPECT_EQ(back.model_type(), "resnet");
  EXPECT_EQ(back.num_channels(), 1);
  EXPECT_EQ(back.image_size(), 0);
  auto x = torch::randn({2, 1, 48, 48});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(back.forward(x), m->forward(x)));

  // transformers tolerates a checkpoint without the step counters; not without the statistics.
  auto partial = saved;
  for (auto it = partial.begin(); it != partial.end();)
    it = it->first.ends_with("num_batches_tracked") ? partial.erase(it) : std::next(it);
  std::vector<std::pair<std::string, torch::Tensor>> list(partial.begin(), partial.end());
  save_tensors(dir / "model.safetensors", list);
  EXPECT_NO_THROW(load_resnet(dir));
  list.erase(std::find_if(list.begin(), list.end(), [](auto& kv) { return kv.first.ends_with("running_var"); }));
  save_tensors(dir / "model.safetensors", list);
  expect_error([&] { load_resnet(dir); }, "missing keys: resnet.");
  fs::remove_all(dir);
}

TEST(ImageClassifier, DispatchesOnModelTypeAndNamesBadConfigs) {
  auto vit = ImageClassifier::create({{"image_size", 32}, {"patch_size", 8}, {"num_channels", 1}, {"hidden_size", 16},
                                      {"num_hidden_layers", 1}, {"num_attention_heads", 2}, {"intermediate_size", 32}},
                                     {"a", "b"});
  EXPECT_EQ(vit.model_type(), "vit");
  EXPECT_EQ(vit.image_size(), 32);
  auto res = ImageClassifier::create({{"model_type", "resnet"}, {"num_channels", 3}, {"embedding_size", 8},
                                      {"hidden_sizes", {8}}, {"depths", {1}}, {"layer_type", "basic"}},
                                     {"a", "b"});
  EXPECT_EQ(res.model_type(), "resnet");
  EXPECT_EQ(res.forward(torch::zeros({1, 3, 32, 32})).sizes(), (torch::IntArrayRef{1, 2}));
  expect_error([] { ImageClassifier::create({{"model_type", "bert"}}, {"a"}); }, "\"bert\" is not an image classifier");
  // Labels read by each architecture's own keys, without building it (ViT also when no type is named).
  const nlohmann::json id2label = {{"0", "x"}, {"1", "y"}};
  EXPECT_EQ(ImageClassifier::labels_of({{"model_type", "resnet"}, {"id2label", id2label}}),
            (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(ImageClassifier::labels_of({{"id2label", id2label}}), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(ImageClassifier::labels_of({{"model_type", "face_expression"}, {"id2label", id2label}}),
            (std::vector<std::string>{"x", "y"}));
  expect_error([] { ImageClassifier::labels_of({{"model_type", "distilbert"}}); }, "\"distilbert\" is not an image");
  expect_error([] { io::ResNetConfig::from_json({{"model_type", "resnet"}, {"hidden_sizes", {8, 16}}, {"depths", {1}}}); },
               "depths");
  expect_error([] { io::ResNetConfig::from_json({{"model_type", "resnet"}, {"hidden_sizes", {8, "x"}}}); },
               "hidden_sizes");
  auto c = tiny();
  c.layer_type = "dense";
  expect_error([&] { ResNet m(c); }, "layer_type");

  // The processor file must fit the model: a ViT built for 32 pixels refuses a 48-pixel processor.
  auto dir = temp_dir("processor");
  io::ImageProcessorConfig p;
  p.height = p.width = 48;
  write_json_file(dir / "preprocessor_config.json", p.to_json());
  expect_error([&] { read_processor_config(dir, vit); }, "disagrees with the model's image_size 32");
  EXPECT_EQ(read_processor_config(dir, res).height, 48);
  fs::remove_all(dir);
}

// A face folder with ensemble.json reads as the mean of its members' logits; a bad member list or a
// member that wants other pixels is a bad_model error; an ensemble is not saved as one checkpoint.
TEST(ImageClassifier, EnsembleFolderAveragesItsMembersLogits) {
  const auto dir = fs::temp_directory_path() / "emopost_resnet_ensemble";
  fs::remove_all(dir);
  const nlohmann::json config = {{"model_type", "resnet"}, {"num_channels", 1}, {"embedding_size", 8},
                                 {"hidden_sizes", {8, 16}}, {"depths", {1, 1}}};
  const std::vector<std::string> labels(kLabels.begin(), kLabels.end());
  const nlohmann::json processor = {{"size", {{"height", 32}, {"width", 32}}}, {"image_mean", {0.5}}, {"image_std", {0.5}}};
  auto save = [&](const fs::path& to, uint64_t seed) {
    torch::manual_seed(seed);
    auto m = ImageClassifier::create(config, labels);
    m.module().eval();
    m.save(to, torch::kFloat);
    write_json_file(to / "preprocessor_config.json", processor);
    return m;
  };
  auto a = save(dir, 1);
  auto b = save(dir / "member-b", 2);
  write_json_file(dir / kFaceEnsemble, {{"members", {"member-b"}}});
  auto folder = load_face_folder(dir);
  EXPECT_EQ(folder.model.ensemble_size(), 2u);
  folder.model.module().eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({3, 1, 32, 32});
  EXPECT_TRUE(torch::allclose(folder.model.forward(x), 0.5 * (a.forward(x) + b.forward(x)), 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(a.forward(x), b.forward(x)));  // else the mean could not tell them apart
  folder.model.set_mirror_average(true);
  a.set_mirror_average(true), b.set_mirror_average(true);
  EXPECT_TRUE(torch::allclose(folder.model.forward(x), 0.5 * (a.forward(x) + b.forward(x)), 1e-5, 1e-6));
  expect_error([&] { folder.model.save(dir / "copy", torch::kFloat); }, "ensemble of 2");

  for (auto bad : {"../x", "/tmp", "a/b", ""}) {
    write_json_file(dir / kFaceEnsemble, {{"members", {bad}}});
    expect_error([&] { load_face_folder(dir); }, "sub-folder");
  }
  write_json_file(dir / kFaceEnsemble, {{"members", "member-b"}});
  expect_error([&] { load_face_folder(dir); }, "members");
  write_json_file(dir / kFaceEnsemble, {{"members", {"member-b"}}});
  auto other = processor;
  other["image_mean"] = {0.4};
  write_json_file(dir / "member-b/preprocessor_config.json", other);
  expect_error([&] { load_face_folder(dir); }, "differs");
  fs::remove_all(dir);
}
