// Parity with Hugging Face transformers, in the spirit of llm.c's test_gpt2: the tiny DistilBERT
// and ViT checkpoints and their outputs were written by transformers (tests/data/hf/README.md);
// the C++ models must reproduce every hidden state, the logits, and one AdamW step.
#include <torch/torch.h>  // before gtest: torch defines glog-style CHECK macros

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "emopost/core/error.h"
#include "emopost/models/checkpoint.h"
#include "emopost/models/threads.h"

namespace fs = std::filesystem;
using namespace emopost;
using namespace emopost::models;

namespace {

const fs::path kHf = fs::path(EMOPOST_TEST_DATA) / "hf";

// max |a-b| / (atol + rtol*|b|) <= 1, reported with the worst element for a readable failure.
::testing::AssertionResult Close(const torch::Tensor& got, const torch::Tensor& want, double rtol,
                                 double atol) {
  if (got.sizes() != want.sizes())
    return ::testing::AssertionFailure() << "shape " << got.sizes() << " vs " << want.sizes();
  auto g = got.detach().to(torch::kDouble), w = want.to(torch::kDouble);
  auto ratio = (g - w).abs() / (atol + rtol * w.abs());
  double worst = ratio.max().item<double>();
  double max_abs = (g - w).abs().max().item<double>();
  if (worst <= 1.0) return ::testing::AssertionSuccess() << "max abs diff " << max_abs;
  return ::testing::AssertionFailure() << "max abs diff " << max_abs << ", worst ratio " << worst;
}

fs::path temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("emopost_test_models_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

template <typename Model, typename Forward>
void check_one_adamw_step(Model& model, const std::map<std::string, torch::Tensor>& expected,
                          Forward forward) {
  model->train();
  torch::optim::AdamW opt(model->parameters(),
                          torch::optim::AdamWOptions(1e-3).weight_decay(0.01));
  auto loss = torch::cross_entropy_loss(forward(), expected.at("train_labels"));
  EXPECT_TRUE(Close(loss.reshape({1}), expected.at("train_loss_before_step"), 1e-4, 1e-6));
  opt.zero_grad();
  loss.backward();
  opt.step();
  model->eval();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(Close(forward(), expected.at("logits_after_one_adamw_step"), 1e-3, 1e-5));
}

}  // namespace

TEST(DistilBertParity, HiddenStatesLogitsAndOneAdamWStep) {
  auto model = load_distilbert(kHf / "distilbert/tiny");
  auto expected = load_tensors(kHf / "distilbert/expected.safetensors");
  const auto& ids = expected.at("input_ids");
  const auto& mask = expected.at("attention_mask");
  {
    torch::NoGradGuard no_grad;
    auto out = model->forward_all(ids, mask, /*hidden_states=*/true);
    ASSERT_EQ(out.hidden_states.size(), 3u);
    for (size_t i = 0; i < out.hidden_states.size(); ++i)
      EXPECT_TRUE(Close(out.hidden_states[i], expected.at("hidden_state_" + std::to_string(i)),
                        1e-4, 1e-5))
          << "hidden_state_" << i;
    EXPECT_TRUE(Close(out.logits, expected.at("logits"), 1e-4, 1e-5));
  }
  check_one_adamw_step(model, expected, [&] { return model->forward(ids, mask); });
}

TEST(ViTParity, HiddenStatesLogitsAndOneAdamWStep) {
  auto model = load_vit(kHf / "vit/tiny");
  auto expected = load_tensors(kHf / "vit/expected.safetensors");
  const auto& pixels = expected.at("pixel_values");
  {
    torch::NoGradGuard no_grad;
    auto out = model->forward_all(pixels, /*hidden_states=*/true);
    ASSERT_EQ(out.hidden_states.size(), 3u);
    for (size_t i = 0; i < out.hidden_states.size(); ++i)
      EXPECT_TRUE(Close(out.hidden_states[i], expected.at("hidden_state_" + std::to_string(i)),
                        1e-4, 1e-5))
          << "hidden_state_" << i;
    EXPECT_TRUE(Close(out.logits, expected.at("logits"), 1e-4, 1e-5));
  }
  check_one_adamw_step(model, expected, [&] { return model->forward(pixels); });
}

TEST(Checkpoint, NamedParametersAreTheCheckpointKeys) {
  auto model = load_distilbert(kHf / "distilbert/tiny");
  auto keys = load_tensors(kHf / "distilbert/tiny/model.safetensors");
  std::set<std::string> want, got;
  for (const auto& [k, t] : keys) want.insert(k);
  for (const auto& p : model->named_parameters()) got.insert(p.key());
  EXPECT_EQ(got, want);

  auto vit = load_vit(kHf / "vit/tiny");
  want.clear(), got.clear();
  for (const auto& [k, t] : load_tensors(kHf / "vit/tiny/model.safetensors")) want.insert(k);
  for (const auto& p : vit->named_parameters()) got.insert(p.key());
  EXPECT_EQ(got, want);
}

TEST(Checkpoint, SaveThenLoadGivesTheSameLogits) {
  auto dir = temp_dir("roundtrip");
  auto model = load_distilbert(kHf / "distilbert/tiny");
  save_pretrained(model, dir / "fp32");
  save_pretrained(model, dir / "fp16", torch::kHalf);
  auto expected = load_tensors(kHf / "distilbert/expected.safetensors");
  torch::NoGradGuard no_grad;
  auto want = model->forward(expected.at("input_ids"), expected.at("attention_mask"));
  auto again = load_distilbert(dir / "fp32");
  EXPECT_TRUE(torch::equal(again->forward(expected.at("input_ids"), expected.at("attention_mask")), want));
  auto half = load_distilbert(dir / "fp16");
  EXPECT_TRUE(Close(half->forward(expected.at("input_ids"), expected.at("attention_mask")), want, 2e-2, 2e-2));
  // The written file carries exactly the keys, dtypes and shapes that transformers wrote.
  auto ours = io::SafetensorsFile::open(dir / "fp32/model.safetensors");
  auto theirs = io::SafetensorsFile::open(kHf / "distilbert/tiny/model.safetensors");
  ASSERT_EQ(ours.tensors().size(), theirs.tensors().size());
  for (const auto& t : theirs.tensors()) {
    const auto* o = ours.find(t.name);
    ASSERT_NE(o, nullptr) << t.name;
    EXPECT_EQ(o->dtype, t.dtype) << t.name;
    EXPECT_EQ(o->shape, t.shape) << t.name;
  }
  EXPECT_EQ(ours.metadata().at("format"), "pt");
  auto config = read_json_file(dir / "fp32/config.json");
  EXPECT_EQ(config["model_type"], "distilbert");
  EXPECT_EQ(config["id2label"]["1"], "disgust");
  EXPECT_EQ(config["label2id"]["surprise"], 6);
  fs::remove_all(dir);
}

TEST(Checkpoint, MismatchesAreErrorsThatListTheKeys) {
  auto dir = temp_dir("mismatch");
  auto tensors = load_tensors(kHf / "distilbert/tiny/model.safetensors");
  auto write = [&](const std::map<std::string, torch::Tensor>& t) {
    fs::copy_file(kHf / "distilbert/tiny/config.json", dir / "config.json",
                  fs::copy_options::overwrite_existing);
    std::vector<std::pair<std::string, torch::Tensor>> list(t.begin(), t.end());
    save_tensors(dir / "model.safetensors", list);
  };
  auto error_of = [&] {
    try {
      load_distilbert(dir);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto missing = tensors;
  missing.erase("distilbert.transformer.layer.1.ffn.lin1.weight");
  write(missing);
  EXPECT_NE(error_of().find("missing keys: distilbert.transformer.layer.1.ffn.lin1.weight"),
            std::string::npos) << error_of();

  auto extra = tensors;
  extra["distilbert.transformer.layer.7.ffn.lin1.weight"] = torch::zeros({2});
  write(extra);
  EXPECT_NE(error_of().find("unexpected keys: distilbert.transformer.layer.7.ffn.lin1.weight"),
            std::string::npos) << error_of();

  auto wrong = tensors;
  wrong["distilbert.embeddings.LayerNorm.bias"] = torch::zeros({31});
  write(wrong);
  EXPECT_NE(error_of().find("shape mismatches: distilbert.embeddings.LayerNorm.bias"),
            std::string::npos) << error_of();

  // A corrupt checkpoint: the file cut in half.
  write(tensors);
  auto size = fs::file_size(dir / "model.safetensors");
  fs::resize_file(dir / "model.safetensors", size / 2);
  EXPECT_NE(error_of().find("model.safetensors"), std::string::npos) << error_of();
  fs::remove_all(dir);
}

// Dynamic int8 linears (models/int8.h) against fp32 on the tiny goldens: the logits move by a few
// percent of their range, which the shipped models' evaluation (bench/RESULTS.md) shows costs no
// accuracy; parameter names are untouched.
TEST(Int8, LogitsTrackFp32AndNamesStay) {
  torch::NoGradGuard no_grad;
  auto expected = load_tensors(kHf / "distilbert/expected.safetensors");
  const auto& ids = expected.at("input_ids");
  const auto& mask = expected.at("attention_mask");
  auto bert = load_distilbert(kHf / "distilbert/tiny");
  bert->eval();
  auto ref = bert->forward(ids, mask);
  auto names = bert->named_parameters().keys();
  bert->quantize_int8();
  auto got = bert->forward(ids, mask);
  EXPECT_EQ(bert->named_parameters().keys(), names);
  const double range = ref.abs().max().item<double>();
  EXPECT_LT((got - ref).abs().max().item<double>(), 0.05 * range);
  EXPECT_GT((got - ref).abs().max().item<double>(), 0.0);  // really int8, not the fp32 path

  auto vexp = load_tensors(kHf / "vit/expected.safetensors");
  auto vit = load_vit(kHf / "vit/tiny");
  vit->eval();
  auto vref = vit->forward(vexp.at("pixel_values"));
  vit->quantize_int8();
  auto vgot = vit->forward(vexp.at("pixel_values"));
  EXPECT_LT((vgot - vref).abs().max().item<double>(), 0.05 * vref.abs().max().item<double>());
}

// Inference splits attention's (batch, head) pairs between threads; with autograd on, the plain
// batched path runs. Both must give the same logits, padding mask included.
TEST(Attention, ParallelInferencePathMatchesThePlainOne) {
  configure_runtime(2);
  auto model = load_distilbert(kHf / "distilbert/tiny");
  auto expected = load_tensors(kHf / "distilbert/expected.safetensors");
  const auto& mask = expected.at("attention_mask");
  ASSERT_LT(mask.sum().item<int64_t>(), mask.numel()) << "the fixture should hold padding";
  model->eval();
  auto plain = model->forward(expected.at("input_ids"), mask);  // grad mode on: the plain path
  torch::InferenceMode guard;
  auto parallel = model->forward(expected.at("input_ids"), mask);
  EXPECT_TRUE(Close(parallel, plain.detach(), 1e-5, 1e-6));
  EXPECT_TRUE(Close(parallel, expected.at("logits"), 1e-4, 1e-5));
}

// The predictor runs the text model on one thread beside the image decoder; that must not change the
// thread count anywhere else.
TEST(Runtime, ThreadLimitHoldsForTheCallingThreadOnly) {
  configure_runtime(2);
  bool limited = false;
  int inside = 0;
  std::thread([&] {
    limited = limit_threads_here(1);
    auto x = torch::rand({256, 256});
    (void)x.matmul(x);  // a parallel op must not undo the limit
    inside = torch::get_num_threads();
  }).join();
  ASSERT_TRUE(limited);
  EXPECT_EQ(inside, 1);
  EXPECT_EQ(torch::get_num_threads(), 2);
}
