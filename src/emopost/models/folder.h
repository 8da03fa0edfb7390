#pragma once
// The one loader of emopost's model folders (Hugging Face layout): the weights, the tokenizer or
// image processor beside them, and the card. It checks what a folder must agree on with the
// product (the 7 labels, in order; window and image sizes) so that a wrong folder is a clear
// `bad_model` error rather than a silent mislabelling.
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "emopost/models/checkpoint.h"
#include "emopost/models/image_classifier.h"
#include "emopost/models/ngram_expert.h"
#include "emopost/text/reading.h"
#include "emopost/vision/preprocess.h"

namespace emopost::models {

struct TextModelFolder {
  std::filesystem::path dir;
  DistilBert model;
  text::TextReader reader;  // vocab.txt, with tokenizer_config.json's model_max_length
  nlohmann::json config;    // config.json as written
  std::string card;         // README.md, or "" when absent
  std::optional<NgramExpert> expert;  // ngrams/, when the folder has one: fused with the model
};

struct FaceModelFolder {
  std::filesystem::path dir;
  ImageClassifier model;
  vision::PreprocessOptions preprocess;  // preprocessor_config.json
  nlohmann::json config;
  std::string card;
  bool mirror = false;  // config.json's kTestTimeMirror
};

// config.json's choice, made on validation and written there with the model: whether the folder's
// model reads each face also as its mirror image and averages the two. Absent means no.
inline constexpr const char* kTestTimeMirror = "test_time_mirror";
// Throws emopost::Error (bad_model) when the key is there but not a boolean.
bool test_time_mirror(const nlohmann::json& config);

// A face folder may hold a small ensemble: ensemble.json names sub-folders, each a checkpoint with
// its own config.json, whose logits are averaged with the folder's own (ImageClassifier::add_member).
// transformers loads the folder's own checkpoint alone.
inline constexpr const char* kFaceEnsemble = "ensemble.json";

// Throw emopost::Error (bad_model) naming the folder and the problem.
TextModelFolder load_text_folder(const std::filesystem::path& dir,
                                 const std::filesystem::path& cldr_dir = text::kCldrAnnotationsDir);
FaceModelFolder load_face_folder(const std::filesystem::path& dir);

// tokenizer_config.json's model_max_length, checked: an integer from 4 to the model's positions.
size_t read_model_max_length(const std::filesystem::path& dir, int max_position_embeddings);
// Throws unless `labels` are the project's 7, in kLabels' order.
void check_labels(const std::vector<std::string>& labels);

// Writes vocab.txt and tokenizer_config.json beside a text model, for `reader`.
void save_tokenizer(const std::filesystem::path& dir, const std::filesystem::path& vocab_txt, size_t max_length);

}  // namespace emopost::models
