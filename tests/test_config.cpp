#include "emopost/io/hf_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "emopost/core/error.h"

namespace fs = std::filesystem;
using emopost::Error;
using namespace emopost;
using namespace emopost::io;
using json = nlohmann::json;

namespace {

const std::string kData = EMOPOST_TEST_DATA "/hf";
const std::vector<std::string> kEmotions{"anger",   "disgust", "fear",    "joy",
                                         "neutral", "sadness", "surprise"};

// Asserts that `fn` throws an emopost::Error whose message contains `needle`.
template <typename F>
void expect_error(F&& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("emopost_cfg_" + std::to_string(::getpid()) + "_" + name);
}

}  // namespace

TEST(HfConfig, ParsesTinyDistilbert) {
  json j = read_json_file(kData + "/distilbert/tiny/config.json");
  auto c = DistilBertConfig::from_json(j);
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.max_position_embeddings, 128);
  EXPECT_EQ(c.dim, 32);
  EXPECT_EQ(c.hidden_dim, 64);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 2);
  EXPECT_EQ(c.dropout, 0.0);
  EXPECT_EQ(c.attention_dropout, 0.0);
  EXPECT_EQ(c.seq_classif_dropout, 0.0);
  EXPECT_DOUBLE_EQ(c.initializer_range, 0.2);
  EXPECT_EQ(c.activation, "gelu");
  EXPECT_FALSE(c.sinusoidal_pos_embds);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(c.id2label, kEmotions);
  EXPECT_EQ(c.num_labels(), 7);
  EXPECT_EQ(c.extra.at("qa_dropout"), 0.1);
  EXPECT_EQ(c.extra.at("transformers_version"), "5.17.0");
  EXPECT_FALSE(c.extra.contains("dim"));
  EXPECT_FALSE(c.extra.contains("id2label"));
}

TEST(HfConfig, TinyDistilbertRoundTripIsIdentical) {
  // The fixture was written by transformers; every key, known or not, comes back unchanged.
  json j = read_json_file(kData + "/distilbert/tiny/config.json");
  EXPECT_EQ(DistilBertConfig::from_json(j).to_json(), j);
}

TEST(HfConfig, ParsesTinyVit) {
  json j = read_json_file(kData + "/vit/tiny/config.json");
  auto c = ViTConfig::from_json(j);
  EXPECT_EQ(c.hidden_size, 32);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.num_attention_heads, 2);
  EXPECT_EQ(c.intermediate_size, 64);
  EXPECT_EQ(c.image_size, 32);
  EXPECT_EQ(c.patch_size, 8);
  EXPECT_EQ(c.num_channels, 3);
  EXPECT_EQ(c.num_patches(), 16);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_EQ(c.hidden_act, "gelu");
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_DOUBLE_EQ(c.initializer_range, 0.2);
  EXPECT_EQ(c.id2label, kEmotions);
  EXPECT_EQ(c.extra.at("pooler_act"), "tanh");
  EXPECT_EQ(c.extra.at("encoder_stride"), 16);
  EXPECT_EQ(c.to_json(), j);
}

TEST(HfConfig, ParsesDistilbertBaseManifest) {
  json j = read_json_file(kData + "/manifests/distilbert-base-uncased_config.json");
  auto c = DistilBertConfig::from_json(j);
  EXPECT_EQ(c.dim, 768);
  EXPECT_EQ(c.hidden_dim, 3072);
  EXPECT_EQ(c.n_layers, 6);
  EXPECT_EQ(c.n_heads, 12);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(c.dropout, 0.1);
  EXPECT_DOUBLE_EQ(c.seq_classif_dropout, 0.2);
  EXPECT_EQ(c.id2label, (std::vector<std::string>{"LABEL_0", "LABEL_1"}));
  EXPECT_TRUE(c.extra.at("architectures").is_null());
  EXPECT_TRUE(c.extra.at("tie_word_embeddings").get<bool>());

  // With labels, to_json names the classification head; unknown keys stay as they were.
  json out = c.to_json();
  EXPECT_EQ(out.at("architectures"), json::array({"DistilBertForSequenceClassification"}));
  for (const char* k : {"transformers_version", "qa_dropout", "_name_or_path", "problem_type",
                        "output_attentions", "bos_token_id", "chunk_size_feed_forward"})
    EXPECT_EQ(out.at(k), j.at(k)) << k;
  EXPECT_EQ(out.at("label2id"), j.at("label2id"));
}

TEST(HfConfig, ParsesVitBaseManifest) {
  json j = read_json_file(kData + "/manifests/vit-base-patch16-224-in21k_config.json");
  auto c = ViTConfig::from_json(j);
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.num_hidden_layers, 12);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.image_size, 224);
  EXPECT_EQ(c.patch_size, 16);
  EXPECT_EQ(c.num_patches(), 196);
  EXPECT_EQ(c.num_labels(), 2);
  json out = c.to_json();
  EXPECT_EQ(out.at("pooler_act"), "tanh");
  EXPECT_EQ(out.at("pooler_output_size"), 768);
  EXPECT_EQ(out.at("transformers_version"), "5.17.0");
  EXPECT_EQ(out.at("model_type"), "vit");
  EXPECT_EQ(out.at("architectures"), json::array({"ViTForImageClassification"}));
}

TEST(HfConfig, ParsesImageProcessorConfig) {
  json j = read_json_file(kData + "/vit/processor/preprocessor_config.json");
  auto c = ImageProcessorConfig::from_json(j);
  EXPECT_EQ(c.height, 224);
  EXPECT_EQ(c.width, 224);
  EXPECT_TRUE(c.do_resize && c.do_rescale && c.do_normalize);
  EXPECT_DOUBLE_EQ(c.rescale_factor, 1.0 / 255.0);
  EXPECT_EQ(c.image_mean, (std::vector<double>{0.5, 0.5, 0.5}));
  EXPECT_EQ(c.image_std, (std::vector<double>{0.5, 0.5, 0.5}));
  EXPECT_EQ(c.extra.at("resample"), 2);
  EXPECT_EQ(c.to_json(), j);
}

TEST(HfConfig, ImageProcessorSizeForms) {
  auto c = ImageProcessorConfig::from_json({{"size", {{"shortest_edge", 384}}}});
  EXPECT_EQ(c.height, 384);
  EXPECT_EQ(c.width, 384);
  c = ImageProcessorConfig::from_json({{"size", {{"height", 96}, {"width", 128}}}});
  EXPECT_EQ(c.height, 96);
  EXPECT_EQ(c.width, 128);
  json out = c.to_json();
  EXPECT_EQ(out.at("size"), (json{{"height", 96}, {"width", 128}}));
  EXPECT_EQ(out.at("image_processor_type"), "ViTImageProcessor");
  expect_error([] { ImageProcessorConfig::from_json({{"size", {{"height", 96}}}}); }, "size");
  expect_error([] { ImageProcessorConfig::from_json({{"size", "224"}}); }, "size");
  expect_error([] { ImageProcessorConfig::from_json({{"image_mean", {0.5, "x", 0.5}}}); },
               "image_mean");
  expect_error([] { ImageProcessorConfig::from_json({{"do_resize", 1}}); }, "do_resize");
}

TEST(HfConfig, RoundTripKeepsUnknownKeys) {
  json j = read_json_file(kData + "/distilbert/tiny/config.json");
  j["some_future_key"] = {{"nested", json::array({1, 2.5, "x", nullptr})}};
  auto c = DistilBertConfig::from_json(j);
  c.dim = 48;  // edits to known fields win over anything in extra
  json out = c.to_json();
  EXPECT_EQ(out.at("dim"), 48);
  EXPECT_EQ(out.at("some_future_key"), j.at("some_future_key"));
  EXPECT_EQ(out.at("qa_dropout"), 0.1);
  EXPECT_EQ(out.at("transformers_version"), "5.17.0");

  fs::path p = temp_path("roundtrip.json");
  write_json_file(p, out);
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), out.dump(2) + "\n");
  EXPECT_EQ(read_json_file(p), out);
  EXPECT_EQ(DistilBertConfig::from_json(read_json_file(p)).dim, 48);
  fs::remove(p);

  json v = read_json_file(kData + "/vit/tiny/config.json");
  EXPECT_EQ(ViTConfig::from_json(v).to_json().at("pooler_act"), "tanh");
}

TEST(HfConfig, DistilbertAliases) {
  auto c = DistilBertConfig::from_json(
      {{"hidden_size", 256}, {"num_attention_heads", 4}, {"num_hidden_layers", 3}});
  EXPECT_EQ(c.dim, 256);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_layers, 3);
  json out = c.to_json();
  EXPECT_EQ(out.at("dim"), 256);
  EXPECT_FALSE(out.contains("hidden_size"));  // transformers saves the canonical names only
  // Both spellings agreeing is fine; disagreeing is an error naming the alias.
  EXPECT_EQ(DistilBertConfig::from_json({{"dim", 64}, {"hidden_size", 64}}).dim, 64);
  expect_error([] { DistilBertConfig::from_json({{"dim", 64}, {"hidden_size", 32}}); },
               "hidden_size");
}

TEST(HfConfig, NumLabelsWithoutId2label) {
  auto c = DistilBertConfig::from_json({{"num_labels", 3}});
  EXPECT_EQ(c.id2label, (std::vector<std::string>{"LABEL_0", "LABEL_1", "LABEL_2"}));
  json out = c.to_json();
  EXPECT_EQ(out.at("label2id").at("LABEL_2"), 2);
  EXPECT_FALSE(out.contains("num_labels"));
  EXPECT_EQ(ViTConfig::from_json({{"num_labels", 7}}).num_labels(), 7);
  // No labels at all: no head, so no architectures or label maps are invented.
  json bare = DistilBertConfig{}.to_json();
  EXPECT_FALSE(bare.contains("architectures"));
  EXPECT_FALSE(bare.contains("id2label"));
  EXPECT_EQ(bare.at("model_type"), "distilbert");
  expect_error([] { DistilBertConfig::from_json({{"num_labels", -1}}); }, "num_labels");
  expect_error(
      [] { DistilBertConfig::from_json({{"num_labels", 3}, {"id2label", {{"0", "a"}}}}); },
      "num_labels");
}

TEST(HfConfig, Id2labelOrderIsNumeric) {
  // JSON object keys sort as strings ("10" < "2"); ids must still map to their index.
  json id2label = json::object();
  for (int i = 0; i < 12; ++i) id2label[std::to_string(i)] = "c" + std::to_string(i);
  auto c = ViTConfig::from_json({{"id2label", id2label}});
  ASSERT_EQ(c.num_labels(), 12);
  EXPECT_EQ(c.id2label[2], "c2");
  EXPECT_EQ(c.id2label[10], "c10");
  EXPECT_EQ(c.to_json().at("id2label"), id2label);
}

TEST(HfConfig, SparseOrMalformedId2labelIsAnError) {
  expect_error([] { DistilBertConfig::from_json({{"id2label", {{"0", "a"}, {"2", "c"}}}}); },
               "id2label");
  expect_error([] { DistilBertConfig::from_json({{"id2label", {{"1", "a"}}}}); }, "id2label");
  expect_error([] { DistilBertConfig::from_json({{"id2label", {{"0", "a"}, {"01", "b"}}}}); },
               "id2label");
  expect_error([] { DistilBertConfig::from_json({{"id2label", {{"x", "a"}}}}); }, "id2label");
  expect_error([] { DistilBertConfig::from_json({{"id2label", {{"0", 5}}}}); }, "id2label");
  expect_error([] { DistilBertConfig::from_json({{"id2label", json::array({"a"})}}); },
               "id2label");
  expect_error([] { ViTConfig::from_json({{"id2label", {{"0", "a"}, {"1", "a"}}}}); },
               "id2label");
}

TEST(HfConfig, WrongTypesNameTheKey) {
  expect_error([] { DistilBertConfig::from_json({{"dim", "768"}}); }, "'dim'");
  expect_error([] { DistilBertConfig::from_json({{"n_layers", 6.5}}); }, "'n_layers'");
  expect_error([] { DistilBertConfig::from_json({{"num_hidden_layers", "6"}}); },
               "'num_hidden_layers'");
  expect_error([] { DistilBertConfig::from_json({{"dropout", "0.1"}}); }, "'dropout'");
  expect_error([] { DistilBertConfig::from_json({{"activation", 1}}); }, "'activation'");
  expect_error([] { DistilBertConfig::from_json({{"sinusoidal_pos_embds", 0}}); },
               "'sinusoidal_pos_embds'");
  expect_error([] { DistilBertConfig::from_json({{"vocab_size", 1e12}}); }, "'vocab_size'");
  expect_error([] { DistilBertConfig::from_json({{"vocab_size", 10000000000LL}}); },
               "'vocab_size'");
  expect_error([] { ViTConfig::from_json({{"qkv_bias", "true"}}); }, "'qkv_bias'");
  expect_error([] { ViTConfig::from_json({{"layer_norm_eps", nullptr}}); }, "'layer_norm_eps'");
  expect_error([] { ViTConfig::from_json(json::array()); }, "object");
  // A config of the other family is caught by model_type.
  expect_error([] { ViTConfig::from_json({{"model_type", "distilbert"}}); }, "model_type");
}

// face-api's expression net as a face model: emopost's own model_type, its input keys checked.
TEST(HfConfig, FaceExpressionConfig) {
  const json j = {{"model_type", "face_expression"}, {"num_channels", 1}, {"input_size", 112},
                  {"id2label", {{"0", "anger"}, {"1", "joy"}}}, {"source", "npm"}};
  const auto c = FaceExpressionConfig::from_json(j);
  EXPECT_EQ(c.id2label, (std::vector<std::string>{"anger", "joy"}));
  EXPECT_EQ(c.mean_rgb.size(), 3u);
  const auto back = c.to_json();
  EXPECT_EQ(back["source"], "npm");  // unknown keys survive
  EXPECT_EQ(back["architectures"][0], "FaceExpressionNet");
  EXPECT_EQ(FaceExpressionConfig::from_json(back).to_json(), back);
  expect_error([] { FaceExpressionConfig::from_json({{"model_type", "resnet"}}); }, "model_type");
  expect_error([] { FaceExpressionConfig::from_json({{"model_type", "face_expression"}, {"num_channels", 2}}); }, "num_channels");
  expect_error([] { FaceExpressionConfig::from_json({{"model_type", "face_expression"}, {"input_size", 100}}); }, "input_size");
  expect_error([] { FaceExpressionConfig::from_json({{"model_type", "face_expression"}, {"pixel_std", 0}}); }, "pixel_std");
  expect_error([] { FaceExpressionConfig::from_json({{"model_type", "face_expression"}, {"mean_rgb", {1, 2}}}); }, "mean_rgb");
}

// HSE's faceres as a face model: any side (image_size 0), HSE's Keras 'caffe' means, its keys checked.
TEST(HfConfig, FaceResConfig) {
  const json j = {{"model_type", "faceres"}, {"age_gender_heads", true}, {"id2label", {{"0", "anger"}, {"1", "joy"}}},
                  {"source", "npm"}};
  const auto c = FaceResConfig::from_json(j);
  EXPECT_EQ(c.num_channels, 3);
  EXPECT_EQ(c.image_size, 0);
  EXPECT_EQ(c.hidden_size, 1024);
  EXPECT_TRUE(c.age_gender_heads);
  EXPECT_EQ(c.input_mean_bgr, (std::vector<double>{103.939, 116.779, 123.68}));
  const auto back = c.to_json();
  EXPECT_EQ(back["source"], "npm");
  EXPECT_EQ(back["architectures"][0], "FaceResForImageClassification");
  EXPECT_EQ(back["label2id"]["joy"], 1);
  EXPECT_EQ(FaceResConfig::from_json(back).to_json(), back);
  auto with = [](const char* key, const json& v) { return FaceResConfig::from_json({{"model_type", "faceres"}, {key, v}}); };
  expect_error([] { FaceResConfig::from_json({{"model_type", "face_expression"}}); }, "model_type");
  expect_error([&] { with("num_channels", 2); }, "num_channels");
  expect_error([&] { with("image_size", 224); }, "image_size");
  expect_error([&] { with("hidden_size", 512); }, "hidden_size");
  expect_error([&] { with("pixel_std", 0); }, "pixel_std");
  expect_error([&] { with("input_mean_bgr", {1, 2}); }, "input_mean_bgr");
  expect_error([&] { with("classifier_dropout", 1.0); }, "classifier_dropout");
}

TEST(HfConfig, FileErrorsNameThePath) {
  expect_error([] { read_json_file("/nonexistent/emopost/config.json"); },
               "/nonexistent/emopost/config.json");
  expect_error([] { read_json_file("/"); }, "cannot read /");  // a directory
  fs::path p = temp_path("broken.json");
  std::ofstream(p) << "{\"dim\": ";
  expect_error([&] { read_json_file(p); }, p.string());
  fs::remove(p);
  expect_error([] { write_json_file("/nonexistent/emopost/out.json", json::object()); },
               "/nonexistent/emopost/out.json");
}
