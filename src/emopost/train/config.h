#pragma once
// A training run as described by configs/NAME.json. Every field has a default, so a config names only
// what differs; unknown keys are errors, so that a typo never silently trains the wrong thing.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace emopost::train {

struct TrainConfig {
  std::string task;                   // "text", "image" or "mlm" (text pre-training, train/pretrain.h)
  std::filesystem::path output_dir;   // runs/NAME: best/, last/, log.jsonl
  std::filesystem::path data_root = "../shared/data";
  std::string recipe = "all";         // text recipes: "all", "seed"

  // The model: either a Hugging Face checkpoint folder to start from, or a config to start fresh.
  std::filesystem::path init_from;
  nlohmann::json model_config;        // config.json keys (DistilBERT, ViT or ResNet)
  std::filesystem::path vocab = "assets/vocab/bert-base-uncased-vocab.txt";
  int max_length = 64;                // tokens per text, [CLS] and [SEP] included
  std::vector<std::string> drop_words;  // left out of every text (text::drop_words): the report's ablation
  double mask_probability = 0.15;      // mlm: the share of tokens the model must guess
  std::filesystem::path mlm_wordnet;   // mlm: also read WordNet's synsets from here (/usr/share/wordnet)
  double text_augment = 0;  // the share of training texts changed by text::perturb each time they are drawn
  // The share of a training text's word pieces read as [UNK] each time it is drawn. It trains [UNK]
  // as "a word I don't know", and a run from scratch then gives that row to every word piece its
  // training never showed, whose rows would otherwise stay random noise.
  double word_dropout = 0;

  // Faces: the model's input (grey or RGB, side) and normalisation.
  int image_channels = 1;
  int image_size = 0;  // faces are resized to this side; 0 = the model's own (ViT's image_size)
  std::vector<double> image_mean{0.5}, image_std{0.5};
  bool augment = true;
  bool photo_augment = false;  // also blur, downscale, JPEG, gamma and cutout (vision::AugmentOptions::for_photos)
  double mixup = 0;            // > 0: mix pairs of faces and their labels, weight ~ Beta(mixup, mixup)
  // How faces are read: "" as they are; "cnn" or "lbp" through that detector, as `predict --detector`
  // reads pictures (the CNN cuts them aligned by models/landmarks). The faces read are cached in
  // face_cache, under a key of the detector's files.
  std::string face_detector;
  std::filesystem::path detector_model = "models/detector", landmarks_model = "models/landmarks";
  std::filesystem::path face_cache = "runs/face-cache";
  // Whose labels the faces learn: "fer2013" (its folders), "ferplus" (FER+'s majority label), or
  // "ferplus-votes" (FER+'s ten votes as a distribution to learn; validation scores its majority).
  // With FER+, faces with no usable FER+ label (a tie, or "unknown"/"not a face" winning) are left out.
  std::string face_labels = "fer2013";
  // Distillation: a face model folder (an ensemble too) whose probabilities on each clean training
  // face, mirror averaged, make up `teacher_weight` of its target; its labels make up the rest.
  std::filesystem::path teacher;
  double teacher_weight = 0.5;

  int epochs = 10;
  int batch_size = 32;
  int eval_batch_size = 256;
  double learning_rate = 5e-4;
  double weight_decay = 0.01;
  double warmup_ratio = 0.06;
  double max_grad_norm = 1.0;
  double label_smoothing = 0.0;
  std::string class_weights = "sqrt_inverse";  // "none", "inverse", "sqrt_inverse"
  int early_stopping_patience = 3;  // epochs without a better validation macro-F1
  int seed = 42;
  bool bf16 = false;
  int threads = 0;            // 0 = all cores
  int max_steps = 0;          // > 0 stops early: smoke runs
  size_t limit_examples = 0;  // > 0 takes only the first N of each split: smoke runs
  std::string save_dtype = "float16";  // "float32" or "float16"

  static TrainConfig from_json(const nlohmann::json& j, const std::filesystem::path& origin);
  static TrainConfig load(const std::filesystem::path& file);
  nlohmann::json to_json() const;
};

}  // namespace emopost::train
