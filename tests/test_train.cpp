// The trainer end to end on the repository's samples: a few steps, checkpoints in Hugging Face
// layout, --resume, evaluation; and the full-size published architectures trained for a few steps.
#include <torch/torch.h>  // before gtest: torch defines glog-style CHECK macros

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include "emopost/core/error.h"
#include "emopost/core/labels.h"
#include "emopost/models/checkpoint.h"
#include "emopost/eval/offsets.h"
#include "emopost/train/tune.h"
#include "emopost/train/ngram_training.h"
#include "emopost/train/evaluation.h"
#include "emopost/train/trainer.h"
#include "emopost/data/datasets.h"
#include "emopost/train/face_reading.h"
#include "emopost/models/distilbert.h"
#include "emopost/models/faceres.h"
#include "emopost/models/folder.h"
#include "emopost/text/reading.h"
#include "emopost/text/words.h"
#include "support.h"

namespace fs = std::filesystem;
using namespace emopost;
using namespace emopost::train;
using emopost::test::expect_error;
using emopost::test::kRoot;

namespace {

TrainConfig smoke(const std::string& name) {
  auto c = TrainConfig::load(kRoot / "configs" / ("smoke-" + name + ".json"));
  c.data_root = kRoot / "tests/data/samples";
  c.vocab = kRoot / "assets/vocab/bert-base-uncased-vocab.txt";
  // ctest runs each test in its own process, in parallel: every test gets its own folder.
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  c.output_dir = fs::temp_directory_path() / ("emopost_train_" + name + "_" + test->name());
  c.threads = 1;
  fs::remove_all(c.output_dir);
  return c;
}

std::vector<nlohmann::json> read_log(const fs::path& file) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

}  // namespace

TEST(Train, ClassWeightsAndSchedule) {
  std::vector<int> labels{0, 0, 0, 1};
  auto w = class_weights(labels, 3, "inverse");
  EXPECT_NEAR(w[1] / w[0], 3.0, 1e-9);  // 3x rarer, 3x heavier
  EXPECT_EQ(w[2], 0.0);                 // absent classes carry no weight
  EXPECT_NEAR(w[0] + w[1], 2.0, 1e-9);  // mean 1 over present classes
  auto s = class_weights(labels, 3, "sqrt_inverse");
  EXPECT_NEAR(s[1] / s[0], std::sqrt(3.0), 1e-9);
  EXPECT_EQ(class_weights(labels, 3, "none"), (std::vector<double>{1, 1, 1}));

  EXPECT_DOUBLE_EQ(scheduled_lr(1.0, 0, 100, 10), 0.1);
  EXPECT_DOUBLE_EQ(scheduled_lr(1.0, 9, 100, 10), 1.0);
  EXPECT_DOUBLE_EQ(scheduled_lr(1.0, 55, 100, 10), 0.5);
  EXPECT_DOUBLE_EQ(scheduled_lr(1.0, 100, 100, 10), 0.0);
}

TEST(Train, ConfigErrorsNameTheProblem) {
  auto bad = [](nlohmann::json j) {
    try {
      TrainConfig::from_json(j, "x.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  nlohmann::json ok = {{"task", "text"}, {"output_dir", "o"}, {"model_config", nlohmann::json::object()}};
  EXPECT_NO_THROW(TrainConfig::from_json(ok, "x.json"));
  auto typo = ok;
  typo["learnig_rate"] = 1;
  EXPECT_EQ(bad(typo), "x.json: unknown key \"learnig_rate\"");
  auto wrong = ok;
  wrong["epochs"] = "ten";
  EXPECT_NE(bad(wrong).find("\"epochs\" has the wrong type"), std::string::npos);
  auto task = ok;
  task["task"] = "audio";
  EXPECT_NE(bad(task).find("\"task\" must be"), std::string::npos);
}

TEST(Train, TextSmokeRunWritesCheckpointsAndResumes) {
  auto c = smoke("text");
  c.epochs = 1;
  auto first = fit(c, /*resume=*/false);
  EXPECT_EQ(first.epochs_run, 1);
  for (auto f : {"best/config.json", "best/model.safetensors", "best/vocab.txt",
                 "best/tokenizer_config.json", "last/optimizer.pt", "last/trainer_state.json",
                 "train_config.json", "log.jsonl"})
    EXPECT_TRUE(fs::exists(c.output_dir / f)) << f;

  c.epochs = 2;
  auto second = fit(c, /*resume=*/true);
  EXPECT_EQ(second.epochs_run, 1);  // only epoch 2 was left
  EXPECT_EQ(second.history.size(), 2u);
  auto rows = read_log(c.output_dir / "log.jsonl");
  int epochs = 0;
  for (const auto& r : rows)
    if (r["type"] == "epoch") {
      ++epochs;
      EXPECT_TRUE(r.contains("val_macro_f1") && r.contains("train_loss") && r.contains("val_loss"));
    }
  EXPECT_EQ(epochs, 2);
  // The curves travel with the checkpoint that ships (emopost report's figures 5 and 6).
  EXPECT_EQ(read_log(c.output_dir / "best/log.jsonl").size(), rows.size());

  // The best checkpoint loads as a Hugging Face folder and evaluates, per source too.
  auto model = models::load_distilbert(c.output_dir / "best");
  EXPECT_EQ(model->config().id2label[6], "surprise");
  auto out = run_evaluation({.kind = "text", .model_dir = c.output_dir / "best",
                             .data_root = c.data_root, .split = "test"});
  EXPECT_TRUE(out.json["by_source"].contains("carer"));
  EXPECT_TRUE(out.json["by_source"].contains("goemotions"));
  EXPECT_NE(out.markdown.find("macro"), std::string::npos);
  ASSERT_EQ(out.predictions.size(), out.json["pooled"]["total"].get<size_t>());
  EXPECT_EQ(out.predictions[0]["probabilities"].size(), 7u);
  EXPECT_TRUE(out.predictions[0].contains("label") && out.predictions[0].contains("source"));

  // A user's own JSONL: the good lines are scored as the same texts are in the recipe, the bad one named.
  const auto jsonl = c.output_dir / "mine.jsonl";
  std::ofstream(jsonl) << nlohmann::json{{"text", "i feel so happy"}, {"label", "joy"}}.dump()
                       << "\n{\"text\": \"unlabelled\"}\n"
                       << nlohmann::json{{"text", "this makes me furious"}, {"label", "anger"}}.dump() << "\n";
  auto mine = run_evaluation({.kind = "text", .model_dir = c.output_dir / "best", .data_root = jsonl,
                              .format = "jsonl"});
  EXPECT_EQ(mine.json["split"], "mine");
  EXPECT_EQ(mine.json["pooled"]["total"].get<size_t>(), 2u);
  ASSERT_EQ(mine.json["skipped"].size(), 1u);
  EXPECT_NE(mine.json["skipped"][0].get<std::string>().find("mine.jsonl:2:"), std::string::npos);
  EXPECT_NE(mine.markdown.find("Lines skipped (1)"), std::string::npos);
  EXPECT_EQ(mine.predictions[1]["label"], "anger");
  EXPECT_THROW(run_evaluation({.kind = "image", .model_dir = c.output_dir / "best", .data_root = jsonl,
                               .format = "jsonl"}),
               Error);
  fs::remove_all(c.output_dir);
}

// `emopost tune` folds its offsets into classifier.bias: the tuned copy decides as the source's
// probabilities shifted by the offsets would, and the source is left as it was.
TEST(Train, TunedOffsetsLiveInTheClassifierBias) {
  auto c = smoke("text");
  c.epochs = 1;
  c.learning_rate = 1e-7;
  fit(c, false);
  // A few smoke steps collapse the model to one answer for every text. Kept near its random start
  // and given a strong random head, its decisions depend on the text, so that shifting them can
  // help some examples and not others.
  const auto source = c.output_dir / "random_head", tuned = c.output_dir / "tuned";
  auto model = models::load_distilbert(c.output_dir / "best");
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(0);
    model->named_parameters()["classifier.weight"].normal_(0, 5);
  }
  models::save_pretrained(model, source);
  for (auto f : {"vocab.txt", "tokenizer_config.json"}) fs::copy_file(c.output_dir / "best" / f, source / f);
  const auto before = models::load_tensors(source / "model.safetensors").at("classifier.bias");
  expect_error([&] { tune_decision_offsets({.kind = "text", .model_dir = source, .out_dir = source}); },
               "new folder");
  auto fitted = tune_decision_offsets({.kind = "text", .model_dir = source, .out_dir = tuned,
                                       .data_root = c.data_root});
  std::vector<double> offsets;
  for (auto label : kLabels) offsets.push_back(fitted["offsets"][std::string(label)]);
  ASSERT_TRUE(std::any_of(offsets.begin(), offsets.end(), [](double o) { return o != 0; }))
      << "the smoke model's decisions were already the best on its samples: nothing to check";
  EXPECT_GT(fitted["after"]["macro_f1"].get<double>(), fitted["before"]["macro_f1"].get<double>());

  EXPECT_TRUE(torch::equal(models::load_tensors(source / "model.safetensors").at("classifier.bias"), before));
  auto shift = models::load_tensors(tuned / "model.safetensors").at("classifier.bias") - before;
  EXPECT_TRUE(torch::allclose(shift, torch::tensor(offsets).to(torch::kFloat), 0, 1e-6)) << shift;
  for (auto f : {"config.json", "vocab.txt", "tokenizer_config.json", "decision_offsets.json"})
    EXPECT_TRUE(fs::exists(tuned / f)) << f;

  auto plain = run_evaluation({.kind = "text", .model_dir = source, .data_root = c.data_root, .split = "val"});
  auto shifted = run_evaluation({.kind = "text", .model_dir = tuned, .data_root = c.data_root, .split = "val"});
  std::vector<std::vector<double>> probabilities;
  for (const auto& row : plain.predictions) probabilities.push_back(row["probabilities"]);
  auto expected = eval::decide(probabilities, offsets);
  ASSERT_EQ(shifted.predictions.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(shifted.predictions[i]["predicted"], std::string(kLabels[expected[i]])) << i;
  EXPECT_NEAR(shifted.json["pooled"]["macro_f1"].get<double>(), fitted["after"]["macro_f1"].get<double>(), 1e-9);

  // Tuning a tuned model records the running total of what its bias now holds.
  auto again = tune_decision_offsets({.kind = "text", .model_dir = tuned, .out_dir = c.output_dir / "tuned2",
                                      .data_root = c.data_root});
  for (auto label : kLabels) {
    auto key = std::string(label);
    EXPECT_NEAR(again["total_offsets"][key].get<double>(),
                fitted["total_offsets"][key].get<double>() + again["offsets"][key].get<double>(), 1e-12);
  }
  fs::remove_all(c.output_dir);
}

// One-hot targets are hard labels: the soft loss then equals torch's class-weighted cross-entropy.
TEST(Train, SoftCrossEntropyOfOneHotTargetsIsTheWeightedLoss) {
  torch::manual_seed(3);
  const auto logits = torch::randn({6, kNumLabels});
  const auto labels = torch::tensor(std::vector<int64_t>{0, 3, 3, 6, 1, 4});
  const auto weights = torch::rand({kNumLabels}) + 0.5;
  const auto one_hot = torch::one_hot(labels, kNumLabels).to(torch::kFloat);
  const double hard = torch::nn::functional::cross_entropy(
                          logits, labels, torch::nn::functional::CrossEntropyFuncOptions().weight(weights))
                          .item<double>();
  EXPECT_NEAR(soft_cross_entropy(logits, one_hot, weights).item<double>(), hard, 1e-6);
  // A spread target costs more than its own argmax on confident logits, and smoothing spreads it.
  const auto spread = one_hot * 0.5 + 0.5 / kNumLabels;
  EXPECT_NE(soft_cross_entropy(logits, spread, weights).item<double>(), hard);
  EXPECT_NEAR(soft_cross_entropy(logits, one_hot, weights, 0.5).item<double>(),
              soft_cross_entropy(logits, spread, weights).item<double>(), 1e-6);
}

// FER+'s votes as training targets; evaluation against FER+'s majority and on a labelled folder.
TEST(Train, FerPlusVotesTrainAndEvalReadsFerPlusAndFolders) {
  auto c = smoke("image");
  c.epochs = 1;
  c.face_labels = "ferplus-votes";
  auto result = fit(c, false);
  EXPECT_EQ(result.epochs_run, 1);
  auto bad = c.to_json();
  bad["face_labels"] = "crowd";
  expect_error([&] { TrainConfig::from_json(bad, "x.json"); }, "\"face_labels\" must be");

  auto fer = run_evaluation({.kind = "image", .model_dir = c.output_dir / "best", .data_root = c.data_root,
                             .split = "test"});
  EXPECT_EQ(fer.json["pooled"]["total"], 14);
  EXPECT_EQ(fer.json["labels"], "fer2013");
  auto plus = run_evaluation({.kind = "image", .model_dir = c.output_dir / "best", .data_root = c.data_root,
                              .split = "test", .face_labels = "ferplus"});
  EXPECT_EQ(plus.json["pooled"]["total"], 12);  // a tie and an "unknown" left out
  EXPECT_EQ(plus.json["left_out"], 2);
  expect_error([&] { run_evaluation({.kind = "text", .model_dir = c.output_dir / "best", .face_labels = "ferplus"}); },
               "--labels applies to image models only");

  // Distillation: a quarter of each training face's target is the teacher's reading, the rest its label.
  auto student = c;
  student.face_labels = "fer2013";
  student.teacher = c.output_dir / "best";
  student.teacher_weight = 0.25;
  auto task = make_task(student, {"train"});
  const auto& train = task->split("train");
  ASSERT_EQ(train.targets.size(), train.size());
  for (size_t i = 0; i < train.size(); ++i) {
    const auto& t = train.targets[i];
    EXPECT_NEAR(std::accumulate(t.begin(), t.end(), 0.0), 1.0, 1e-5) << i;
    EXPECT_GE(t[size_t(train.labels[i])], 0.75f) << i;
    EXPECT_LT(t[size_t(train.labels[i])], 1.0f) << i;  // the teacher is never certain after one epoch
  }
  student.teacher_weight = 1.5;
  expect_error([&] { TrainConfig::from_json(student.to_json(), "x.json"); }, "\"teacher_weight\" must be");

  // A user's folder of labelled pictures, read through the detector: every picture is scored, and
  // those with no face found are named.
  const fs::path folder = c.output_dir.string() + "-folder";
  fs::remove_all(folder);
  auto test = data::read_fer2013(c.data_root, "test");
  fs::create_directories(folder / "images");
  std::ofstream csv(folder / "labels.csv");
  csv << "path,label\n";
  for (size_t i = 0; i < 5; ++i) {
    fs::copy_file(test[i].path, folder / "images" / test[i].path.filename());
    csv << "images/" << test[i].path.filename().string() << "," << kLabels[size_t(test[i].label)] << "\n";
  }
  csv << "images/missing.jpg,joy\n";
  csv.close();
  FaceReading how{.detector = "cnn", .detector_model = kRoot / "models/detector",
                  .landmarks_model = kRoot / "models/landmarks", .cache = c.output_dir.string() + "-cache"};
  auto mine = run_evaluation({.kind = "image", .model_dir = c.output_dir / "best", .data_root = folder,
                              .format = "folder", .faces = how});
  EXPECT_EQ(mine.json["pooled"]["total"], 5);
  EXPECT_EQ(mine.json["split"], folder.filename().string());
  ASSERT_EQ(mine.json["skipped"].size(), 1u);
  EXPECT_NE(mine.json["skipped"][0].get<std::string>().find("missing.jpg"), std::string::npos);
  // A face found is cut aligned at 96 pixels; a picture with none is read whole (FER2013's 48).
  std::vector<char> found;
  const std::vector<data::FaceExample> five(test.begin(), test.begin() + 5);
  auto faces = read_faces(five, 1, how, "five", &found);
  ASSERT_EQ(found.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(bool(found[i]), faces[i].cols == 96) << i;
  const auto& none = mine.json["no_face_found"];
  EXPECT_EQ(none["count"].get<size_t>(), size_t(std::count(found.begin(), found.end(), 0)));
  EXPECT_EQ(none["files"].size(), none["count"].get<size_t>());
  EXPECT_NE(mine.markdown.find("No face found"), std::string::npos);
  expect_error([&] { run_evaluation({.kind = "text", .model_dir = c.output_dir / "best", .data_root = folder,
                                     .format = "folder"}); },
               "--format folder reads face pictures");
  fs::remove_all(folder);
  fs::remove_all(how.cache);
  fs::remove_all(c.output_dir);
}

// faceres undoes the (0.5, 0.5) normalisation itself: a config that normalises otherwise is refused
// before it trains on shifted pixels; with the right one it trains from the converted folder.
TEST(Train, FaceResTrainsOnlyOnItsOwnNormalisation) {
  auto c = smoke("image");
  const fs::path converted = c.output_dir.string() + "-faceres";
  models::convert_faceres(kRoot / "tests/data/faceres/faceres.json", converted, 64);
  c.init_from = converted;
  c.model_config = nullptr;
  c.image_channels = 3;
  c.image_size = 64;
  c.image_mean = {0.485, 0.456, 0.406};
  c.image_std = {0.229, 0.224, 0.225};
  expect_error([&] { make_task(c, {"val"}); }, "the model undoes pixel_mean 0.5");
  c.image_mean = {0.5, 0.5, 0.5};
  c.image_std = {0.5, 0.5, 0.5};
  c.max_steps = 2;
  EXPECT_EQ(fit(c, false).epochs_run, 1);
  fs::remove_all(converted);
  fs::remove_all(c.output_dir);
}

TEST(Train, SameSeedSameResult) {
  auto c = smoke("image");
  c.epochs = 1;
  auto a = fit(c, false);
  fs::remove_all(c.output_dir);
  auto b = fit(c, false);
  EXPECT_EQ(a.history[0]["train_loss"], b.history[0]["train_loss"]);
  EXPECT_EQ(a.history[0]["val_loss"], b.history[0]["val_loss"]);
  auto out = run_evaluation({.kind = "image", .model_dir = c.output_dir / "best",
                             .data_root = c.data_root, .split = "test"});
  EXPECT_EQ(out.json["pooled"]["total"], 14);
  fs::remove_all(c.output_dir);
}

// The face ResNet trains and resumes like the ViT; its BatchNorm statistics travel with the weights.
TEST(Train, ResNetSmokeRunResumesWithBatchNormState) {
  auto c = smoke("image");
  c.model_config = {{"model_type", "resnet"}, {"num_channels", 1}, {"embedding_size", 8},
                    {"hidden_sizes", {8, 16}}, {"depths", {1, 1}}, {"layer_type", "basic"}};
  c.image_size = 0;
  expect_error([&] { fit(c, false); }, "give \"image_size\"");
  c.image_size = 40;
  c.epochs = 1;
  fit(c, false);
  auto first = models::load_tensors(c.output_dir / "last/model.safetensors");
  const std::string counter = "resnet.embedder.embedder.normalization.num_batches_tracked";
  EXPECT_GT(first.at(counter).item<int64_t>(), 0);
  EXPECT_GT(first.at("resnet.embedder.embedder.normalization.running_var").abs().sum().item<double>(), 0);
  c.epochs = 2;
  auto second = fit(c, /*resume=*/true);
  EXPECT_EQ(second.epochs_run, 1);
  auto last = models::load_tensors(c.output_dir / "last/model.safetensors");
  // The counter went on from where the first run left it, so the statistics were resumed too.
  EXPECT_EQ(last.at(counter).item<int64_t>(), 2 * first.at(counter).item<int64_t>());
  auto processor = read_json_file(c.output_dir / "best/preprocessor_config.json");
  EXPECT_EQ(processor["size"]["height"], 40);
  auto out = run_evaluation({.kind = "image", .model_dir = c.output_dir / "best",
                             .data_root = c.data_root, .split = "test"});
  EXPECT_EQ(out.json["pooled"]["total"], 14);
  fs::remove_all(c.output_dir);
}

// Faces read through the CNN detector as predict reads pictures, cached; photo damage and mixup in training.
TEST(Train, FacesReadThroughTheDetectorAreCachedAndTrainWithMixup) {
  auto c = smoke("image");
  c.model_config = {{"model_type", "resnet"}, {"num_channels", 1}, {"embedding_size", 8},
                    {"hidden_sizes", {8, 16}}, {"depths", {1, 1}}, {"layer_type", "basic"}};
  c.image_size = 40;
  c.epochs = 1;
  c.photo_augment = true;
  c.mixup = 0.4;
  c.face_detector = "cnn";
  c.detector_model = kRoot / "models/detector";
  c.landmarks_model = kRoot / "models/landmarks";
  c.face_cache = c.output_dir.string() + "-cache";
  fs::remove_all(c.face_cache);
  auto result = fit(c, false);
  EXPECT_EQ(result.epochs_run, 1);
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(c.face_cache))
    if (e.is_regular_file()) files.push_back(e.path());
  ASSERT_EQ(files.size(), 2u);  // train and val, under one key
  EXPECT_EQ(files[0].parent_path().filename().string().rfind("cnn-", 0), 0u);

  // Evaluation reads the same faces from the cache; a damaged cache is read again, not trusted.
  FaceReading how{.detector = "cnn", .detector_model = c.detector_model, .landmarks_model = c.landmarks_model,
                  .cache = c.face_cache};
  auto examples = data::read_fer2013(c.data_root, "val");
  auto first = read_faces(examples, 1, how, "val");
  const fs::path val_file = files[0].filename() == "val.bin" ? files[0] : files[1];
  fs::resize_file(val_file, fs::file_size(val_file) / 2);
  auto again = read_faces(examples, 1, how, "val");
  ASSERT_EQ(first.size(), again.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(cv::norm(first[i], again[i], cv::NORM_INF), 0.0) << i;
  // Cut aligned faces are 96 pixels; the 48-pixel ones are the pictures in which no face was found.
  EXPECT_TRUE(std::any_of(first.begin(), first.end(), [](const cv::Mat& m) { return m.cols == 96; }));
  auto out = run_evaluation({.kind = "image", .model_dir = c.output_dir / "best", .data_root = c.data_root,
                             .split = "val", .faces = how});
  EXPECT_EQ(out.json["face_detector"], "cnn");
  EXPECT_TRUE(out.json["photo_damage"].is_null());

  // A photo-damaged reading: the same for the same seed, another for another, each face its own size,
  // and the cache still holds the clean faces.
  how.photo_damage = 1;
  auto damaged = read_faces(examples, 1, how, "val");
  auto same = read_faces(examples, 1, how, "val");
  how.photo_damage = 2;
  auto other = read_faces(examples, 1, how, "val");
  ASSERT_EQ(damaged.size(), first.size());
  size_t changed = 0, differ = 0;
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(damaged[i].size(), first[i].size()) << i;
    EXPECT_EQ(cv::norm(damaged[i], same[i], cv::NORM_INF), 0.0) << i;
    changed += cv::norm(damaged[i], first[i], cv::NORM_INF) > 0;
    differ += cv::norm(damaged[i], other[i], cv::NORM_INF) > 0;
  }
  EXPECT_EQ(changed, first.size());
  EXPECT_EQ(differ, first.size());
  how.photo_damage.reset();
  auto clean = read_faces(examples, 1, how, "val");
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(cv::norm(first[i], clean[i], cv::NORM_INF), 0.0) << i;
  how.photo_damage = 1;
  auto worse = run_evaluation({.kind = "image", .model_dir = c.output_dir / "best", .data_root = c.data_root,
                               .split = "val", .faces = how});
  EXPECT_EQ(worse.json["photo_damage"], 1);
  expect_error([&] { run_evaluation({.kind = "text", .model_dir = c.output_dir / "best", .faces = how}); },
               "--photo-damage applies to image models only");

  c.face_detector = "mtcnn";
  expect_error([&] { TrainConfig::from_json(c.to_json(), "mtcnn.json"); }, "\"face_detector\" must be");
  fs::remove_all(c.output_dir);
  fs::remove_all(c.face_cache);
}

// The published checkpoints are too slow to fine-tune here, so a checkpoint with their exact names
// and shapes (from the manifests) is trained for two steps end to end.
TEST(Train, FullSizePublishedCheckpointsTrainForAFewSteps) {
  const fs::path manifests = kRoot / "tests/data/hf/manifests";
  auto fake = [&](const std::string& manifest, const std::string& config) {
    auto dir = fs::temp_directory_path() / ("emopost_full_" + manifest + "_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    auto shapes = read_json_file(manifests / manifest).get<std::map<std::string, std::vector<int64_t>>>();
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& [k, s] : shapes) tensors.emplace_back(k, torch::randn(s) * 0.02);
    models::save_tensors(dir / "model.safetensors", tensors, torch::kHalf);
    fs::copy_file(manifests / config, dir / "config.json", fs::copy_options::overwrite_existing);
    return dir;
  };
  auto text = smoke("text");
  text.init_from = fake("distilbert-base-uncased_DistilBertForMaskedLM.json", "distilbert-base-uncased_config.json");
  text.max_steps = 2, text.batch_size = 2, text.limit_examples = 4, text.epochs = 1;
  auto r = fit(text, false);
  EXPECT_EQ(r.epochs_run, 1);
  auto tuned = models::load_distilbert(text.output_dir / "best");
  EXPECT_EQ(tuned->config().dim, 768);
  EXPECT_EQ(tuned->config().num_labels(), 7);

  auto image = smoke("image");
  image.init_from = fake("vit-base-patch16-224-in21k_ViTModel.json", "vit-base-patch16-224-in21k_config.json");
  image.image_channels = 3, image.image_mean = {0.5, 0.5, 0.5}, image.image_std = {0.5, 0.5, 0.5};
  image.max_steps = 2, image.batch_size = 2, image.limit_examples = 4, image.epochs = 1;
  auto v = fit(image, false);
  EXPECT_EQ(v.epochs_run, 1);
  auto vit = models::load_vit(image.output_dir / "best");
  EXPECT_EQ(vit->config().image_size, 224);
  for (auto* dir : {&text.init_from, &text.output_dir, &image.init_from, &image.output_dir})
    fs::remove_all(*dir);
}

TEST(Train, TextAugmentChangesTrainingReadsOnlyAndDropWordsLeaveEveryText) {
  auto c = smoke("text");
  c.text_augment = 1.0;
  c.drop_words = {"feel", "Feeling"};
  auto task = make_task(c, {"train"});
  task->module().eval();  // no dropout: only the texts can make two reads differ
  torch::NoGradGuard no_grad;
  const auto& train = task->split("train");
  for (const auto& t : train.texts)
    for (const auto& w : text::words_of(t)) EXPECT_TRUE(w != "feel" && w != "feeling") << t;
  std::vector<size_t> idx(train.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937 rng(1);
  const auto plain = task->logits("train", idx, false, rng), again = task->logits("train", idx, false, rng);
  EXPECT_TRUE(torch::equal(plain, again)) << "reads without augmentation must not change";
  const auto changed = task->logits("train", idx, true, rng);
  const auto rows_changed = (changed - plain).abs().amax(1).gt(1e-6).sum().item<int64_t>();
  // Every text is perturbed at text_augment 1, but the reading itself undoes about half the kinds
  // (capitals, links, stretched letters, most swapped letters: the respelling), so those reads stay.
  EXPECT_GT(rows_changed, int64_t(train.size()) / 3) << "every text is perturbed at text_augment 1";
  c.text_augment = 1.5;
  expect_error([&] { TrainConfig::from_json(c.to_json(), "augment.json"); }, "\"text_augment\" must be");
}

// Word dropout reads some word pieces as [UNK] in training reads only; after an epoch, a model from
// scratch gives [UNK]'s row to every word piece no training batch showed, and keeps the others.
TEST(Train, WordDropoutTrainsUnkAndUntrainedRowsTakeIt) {
  auto c = smoke("text");
  c.word_dropout = 0.3;
  auto task = make_task(c, {"train"});
  task->module().eval();
  const auto& train = task->split("train");
  std::vector<size_t> idx(train.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937 rng(1);
  auto& model = dynamic_cast<models::DistilBertImpl&>(task->module());
  const auto before = model.word_embeddings_weight().clone();
  {
    torch::NoGradGuard no_grad;
    const auto plain = task->logits("train", idx, false, rng);
    EXPECT_TRUE(torch::equal(plain, task->logits("train", idx, false, rng)));
    const auto dropped = task->logits("train", idx, true, rng);
    EXPECT_GT((dropped - plain).abs().amax(1).gt(1e-6).sum().item<int64_t>(), int64_t(train.size()) / 2);
  }
  task->end_epoch();
  const auto after = model.word_embeddings_weight();
  const auto reader = text::TextReader::from_vocab(c.vocab, size_t(c.max_length));
  const auto& tok = reader.tokenizer();
  std::set<int64_t> shown{tok.cls_id(), tok.sep_id(), tok.pad_id(), tok.unk_id()};
  for (const auto& t : train.texts)
    for (const auto& w : reader.read(t).windows) shown.insert(w.begin(), w.end());
  ASSERT_GT(shown.size(), 20u);
  const auto unk = after[tok.unk_id()];
  int64_t tied = 0;
  for (int64_t id = 0; id < after.size(0); ++id) {
    if (shown.count(id)) {
      EXPECT_TRUE(torch::equal(after[id], before[id])) << "a row training used is kept: " << tok.id_to_token(id);
    } else {
      tied += torch::equal(after[id], unk);
    }
  }
  EXPECT_EQ(tied, after.size(0) - int64_t(shown.size()));
  EXPECT_FALSE(torch::equal(unk, before[tok.token_to_id("zebra")]));

  c.word_dropout = 1.0;
  expect_error([&] { TrainConfig::from_json(c.to_json(), "dropout.json"); }, "\"word_dropout\" must be");
}

// Without word dropout, [UNK] is as untrained as the rows it would replace: they are left alone.
TEST(Train, WithoutWordDropoutNoRowIsTied) {
  auto c = smoke("text");
  auto task = make_task(c, {"train"});
  auto& model = dynamic_cast<models::DistilBertImpl&>(task->module());
  const auto before = model.word_embeddings_weight().clone();
  std::vector<size_t> idx(task->split("train").size());
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937 rng(1);
  {
    torch::NoGradGuard no_grad;
    task->logits("train", idx, true, rng);
  }
  task->end_epoch();
  EXPECT_TRUE(torch::equal(model.word_embeddings_weight(), before));
}

// `emopost train-ngrams`: the expert is fitted beside a trained model, written into its folder with
// the fusion weights chosen on validation, and from then on the folder's evaluation (and `predict`)
// reads the fused verdict; `tune` keeps the expert in its copy.
TEST(Train, NgramExpertJoinsTheFolderAndItsVerdict) {
  auto c = smoke("text");
  c.epochs = 1;
  fit(c, false);
  const auto model = c.output_dir / "best";
  const auto alone = run_evaluation({.kind = "text", .model_dir = model, .data_root = c.data_root, .split = "val"});
  auto info = fit_ngram_expert({.model_dir = model, .data_root = c.data_root, .min_df = 1, .max_iter = 50});
  for (auto f : {"config.json", "ngrams.txt", "model.safetensors"}) EXPECT_TRUE(fs::exists(model / "ngrams" / f)) << f;
  EXPECT_GT(info["fitted_on"]["train_texts"].get<int>(), 0);
  EXPECT_EQ(info["tried"].size(), 6u);  // C 1, 4, 16, with and without balanced class weights
  const auto& v = info["validation"];
  EXPECT_LE(v["fused"]["log_loss"].get<double>(), v["transformer"]["log_loss"].get<double>() + 1e-12)
      << "the weights are chosen on validation log-loss, and (1, 0) is among them";
  const auto folder = models::load_text_folder(model);
  ASSERT_TRUE(folder.expert.has_value());
  const auto fused = run_evaluation({.kind = "text", .model_dir = model, .data_root = c.data_root, .split = "val"});
  if (folder.expert->expert_weight() > 0 || folder.expert->model_weight() != 1.0)
    EXPECT_NE(fused.predictions[0]["probabilities"], alone.predictions[0]["probabilities"]);
  EXPECT_NEAR(fused.json["loss"].get<double>(), v["fused"]["log_loss"].get<double>(), 1e-3)
      << "evaluation reads the folder as the fit scored it";
  EXPECT_NEAR(alone.json["loss"].get<double>(), v["transformer"]["log_loss"].get<double>(), 1e-3);

  const auto tuned = c.output_dir / "tuned";
  tune_decision_offsets({.kind = "text", .model_dir = model, .out_dir = tuned, .data_root = c.data_root});
  EXPECT_TRUE(fs::exists(tuned / "ngrams/ngrams.txt"));
  fs::remove_all(c.output_dir);
}
