// One text reading and one model-folder loader: training and prediction read a caption into the
// same ids, and a model folder that disagrees with the product is refused with a clear error.
#include <torch/torch.h>  // before gtest: torch defines glog-style CHECK macros

#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "emopost/core/files.h"
#include "emopost/core/json.h"
#include "emopost/models/folder.h"
#include "emopost/predict/predictor.h"
#include "emopost/text/reading.h"
#include "emopost/train/tasks.h"
#include "support.h"

using namespace emopost;
using namespace emopost::test;

namespace {

const fs::path kVocab = kRoot / "assets/vocab/bert-base-uncased-vocab.txt";

const text::TextReader& reader8() {
  static const auto r = text::TextReader::from_vocab(kVocab, 8);
  return r;
}

const predict::Predictor& predictor() {
  static const predict::Predictor p([] {
    predict::PredictorOptions o;
    o.models_dir = kRoot / "models";
    return o;
  }());
  return p;
}

// A fresh folder under the temp dir, named after the running test.
fs::path scratch(const std::string& what) {
  auto dir = fs::temp_directory_path() /
             ("emopost_reading_" + what + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// models/text with its config files editable and its weights (and n-gram expert) linked.
fs::path text_model_copy(const std::string& what) {
  auto dir = scratch(what);
  for (const auto& f : fs::directory_iterator(kRoot / "models/text"))
    if (f.path().filename() == "model.safetensors" || f.is_directory()) fs::create_symlink(f.path(), dir / f.path().filename());
    else fs::copy_file(f.path(), dir / f.path().filename());
  return dir;
}

}  // namespace

TEST(TextReader, ShortTextIsOneWindowEmptyTextNone) {
  auto in = reader8().read("So HAPPY 😂 #BestDay");
  EXPECT_NE(in.normalized.find("face with tears of joy best day"), std::string::npos) << in.normalized;
  EXPECT_EQ(in.windows.size(), 2u);  // 9 words + [CLS] [SEP] in windows of 8
  EXPECT_TRUE(reader8().read("").empty());
  EXPECT_TRUE(reader8().read("   https://example.com  ").empty());
  EXPECT_EQ(reader8().read("   https://example.com  ").normalized, "");
}

TEST(TextReader, LongTextsAreReadInWindowsOverlappingByHalf) {
  const auto& tok = reader8().tokenizer();
  auto ids = tok.encode("one two three four five six seven eight nine ten");
  auto in = reader8().read("one two three four five six seven eight nine ten");
  // A body of 10 ids in windows of 6 (8 minus the specials), advancing by 3.
  ASSERT_EQ(in.windows.size(), 3u);
  for (const auto& w : in.windows) {
    EXPECT_LE(w.size(), 8u);
    EXPECT_EQ(w.front(), tok.cls_id());
    EXPECT_EQ(w.back(), tok.sep_id());
  }
  EXPECT_EQ(std::vector<int64_t>(in.windows[0].begin() + 1, in.windows[0].end() - 1),
            std::vector<int64_t>(ids.begin() + 1, ids.begin() + 7));
  EXPECT_EQ(in.windows[1][1], ids[4]);  // starts half a window later
  EXPECT_EQ(in.windows[2][in.windows[2].size() - 2], ids[ids.size() - 2]);  // the last id is read
}

// A 20 kB caption was about 300 windows, each a forward pass: only the first kMaxWindows are read,
// and the post says so.
TEST(TextReader, LongCaptionsAreReadOverAtMostMaxWindows) {
  auto two = text::TextReader::from_vocab(kVocab, 8, text::kCldrAnnotationsDir, 2);
  auto in = two.read("one two three four five six seven eight nine ten");
  EXPECT_EQ(in.windows.size(), 2u);
  EXPECT_TRUE(in.cut);
  EXPECT_FALSE(reader8().read("one two three four five six seven eight nine ten").cut);
  std::string caption;
  while (caption.size() < 19'000) caption += "so happy and grateful for this day ";
  auto p = predictor().predict({"", caption, std::nullopt});
  EXPECT_EQ(p.text_windows, int(text::kMaxWindows));
  ASSERT_EQ(p.notes.size(), 2u);
  EXPECT_NE(p.notes[0].find("first 16 windows"), std::string::npos) << p.notes[0];
}

TEST(TextReader, WindowsUnderFourIdsAreRefused) {
  expect_error([] { text::TextReader::from_vocab(kVocab, 3); }, "too short");
}

TEST(TextReader, BatchesArePaddedByTheTokenizer) {
  auto a = reader8().read("hello");
  auto b = reader8().read("hello there friend");
  auto batch = reader8().batch({&a.windows[0], &b.windows[0]});
  ASSERT_EQ(batch.rows, 2);
  EXPECT_EQ(batch.cols, int64_t(b.windows[0].size()));
  EXPECT_EQ(batch.ids[a.windows[0].size()], reader8().tokenizer().pad_id());
  EXPECT_EQ(batch.mask[a.windows[0].size()], 0);
  EXPECT_EQ(batch.mask[size_t(batch.cols)], 1);
}

// The training task and the predictor give one caption the same logits, so they read it into
// the same ids: emoji, hashtag and long captions alike, and both leave out an unreadable one.
TEST(TextReading, TrainingAndPredictionReadCaptionsAlike) {
  auto data = scratch("data");
  fs::create_directories(data / "text/carer");
  fs::create_directories(data / "text/goemotions");
  const std::vector<std::string> texts = {
      "what a day 😂😡 :( #MondayMotivation @someone",
      "#iloveyou so much",
      [] {
        std::string s;
        for (int i = 0; i < 40; ++i) s += "i am so scared of what might happen tomorrow ";
        return s;
      }(),
      "https://example.com/only-a-link"};
  {
    std::ofstream carer(data / "text/carer/test.txt");
    for (const auto& t : texts) carer << t << ";joy\n";
    std::ofstream(data / "text/goemotions/test.tsv") << "";
    for (const char* f : {"ekman_mapping.json", "emotions.txt"})
      fs::copy_file(kRoot / "tests/data/eval-sample/text/goemotions" / f, data / "text/goemotions" / f);
  }
  auto task = train::load_task("text", kRoot / "models/text", data, "all", {"test"});
  ASSERT_EQ(task->split("test").size(), 3u);  // the link-only caption has no words left
  task->module().eval();
  std::mt19937 rng(1);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < 3; ++i) {
    auto in = predictor().reader().read(texts[i]);
    EXPECT_EQ(task->split("test").texts[i], texts[i]);
    auto from_training = task->logits("test", {i}, false, rng).to(torch::kDouble);
    auto from_prediction = predictor().text_logits({in}).front();
    for (int c = 0; c < kNumLabels; ++c) EXPECT_NEAR(from_training[0][c].item<double>(), from_prediction[c], 1e-4) << i;
  }
  EXPECT_GT(predictor().reader().read(texts[2]).windows.size(), 1u);
  expect_error_code([&] { predictor().predict({"", texts[3], std::nullopt}); }, "empty_post");
}

TEST(ModelFolder, ShippedFoldersLoad) {
  auto text = models::load_text_folder(kRoot / "models/text");
  EXPECT_EQ(text.reader.max_length(), 64u);  // the length it was trained on, not its 128 positions
  EXPECT_NE(text.card.find("# "), std::string::npos);
  auto face = models::load_face_folder(kRoot / "models/face");
  EXPECT_EQ(face.preprocess.channels, 3);
  EXPECT_EQ(face.config["model_type"], "faceres");
  EXPECT_FALSE(face.mirror);  // the face card's choice, made on validation
  auto former = models::load_face_folder(kRoot / "models/face-ensemble");
  EXPECT_EQ(former.preprocess.channels, 1);
  EXPECT_TRUE(former.mirror);  // as it shipped, and as its card's test figures were read
}

TEST(ModelFolder, TestTimeMirrorMustBeABoolean) {
  auto face = scratch("mirror");
  for (const auto& f : fs::directory_iterator(kRoot / "models/face-vit")) fs::create_symlink(f.path(), face / f.path().filename());
  fs::remove(face / "config.json");
  auto fc = read_json_file(kRoot / "models/face-vit/config.json");
  for (auto bad : {nlohmann::json("yes"), nlohmann::json(1), nlohmann::json(nullptr)}) {
    fc[models::kTestTimeMirror] = bad;
    write_json_file(face / "config.json", fc);
    expect_error_code([&] { models::load_face_folder(face); }, "bad_model", "test_time_mirror");
  }
  for (bool on : {true, false}) {
    fc[models::kTestTimeMirror] = on;
    write_json_file(face / "config.json", fc);
    EXPECT_EQ(models::load_face_folder(face).mirror, on);
  }
}

TEST(ModelFolder, LabelsMustBeTheProjectsSevenInOrder) {
  auto dir = text_model_copy("labels");
  auto config = read_json_file(dir / "config.json");
  auto original = config;
  std::swap(config["id2label"]["0"], config["id2label"]["1"]);  // disgust, anger, ...
  config.erase("label2id");
  write_json_file(dir / "config.json", config);
  expect_error_code([&] { models::load_text_folder(dir); }, "bad_model", "in this order");

  config = original;
  config["id2label"].erase("6");
  config.erase("label2id");
  write_json_file(dir / "config.json", config);
  expect_error_code([&] { models::load_text_folder(dir); }, "bad_model", "(6 labels)");

  auto face = scratch("face");
  for (const auto& f : fs::directory_iterator(kRoot / "models/face")) fs::create_symlink(f.path(), face / f.path().filename());
  fs::remove(face / "config.json");
  auto fc = read_json_file(kRoot / "models/face/config.json");
  fc["id2label"]["4"] = "calm";
  fc.erase("label2id");
  write_json_file(face / "config.json", fc);
  expect_error_code([&] { models::load_face_folder(face); }, "bad_model", "calm");
}

TEST(ModelFolder, WindowSizesAreChecked) {
  auto dir = text_model_copy("sizes");
  auto tok = read_json_file(dir / "tokenizer_config.json");
  for (auto bad : {nlohmann::json(2), nlohmann::json(1e30), nlohmann::json(129), nlohmann::json(64.5),
                   nlohmann::json("128")}) {
    tok["model_max_length"] = bad;
    write_json_file(dir / "tokenizer_config.json", tok);
    expect_error_code([&] { models::load_text_folder(dir); }, "bad_model", "model_max_length");
  }
  tok["model_max_length"] = 64;
  write_json_file(dir / "tokenizer_config.json", tok);
  EXPECT_EQ(models::load_text_folder(dir).reader.max_length(), 64u);
}

TEST(ModelFolder, MissingPartsAreNamed) {
  auto dir = text_model_copy("parts");
  fs::remove(dir / "vocab.txt");
  expect_error_code([&] { models::load_text_folder(dir); }, "bad_model", "vocab.txt");
  expect_error_code([] { models::load_text_folder("/nonexistent/emopost"); }, "bad_model",
                    "no text model at /nonexistent/emopost");
}

// The shipped folder carries its n-gram expert; a cut-off expert fails the folder as bad_model.
TEST(ModelFolder, TheNgramExpertIsLoadedAndACorruptOneIsBadModel) {
  auto dir = text_model_copy("ngrams");
  ASSERT_TRUE(models::load_text_folder(dir).expert.has_value());
  fs::remove(dir / "ngrams");
  fs::create_directories(dir / "ngrams");
  for (auto f : {"config.json", "ngrams.txt"}) fs::copy_file(kRoot / "models/text/ngrams" / f, dir / "ngrams" / f);
  const auto weights = read_file(kRoot / "models/text/ngrams/model.safetensors");
  std::ofstream(dir / "ngrams/model.safetensors", std::ios::binary) << weights.substr(0, weights.size() - 1000);
  expect_error_code([&] { models::load_text_folder(dir); }, "bad_model", "ngrams/model.safetensors");
}
