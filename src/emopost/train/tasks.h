#pragma once
// What the Trainer trains: a model with its data, split by split. The text task pairs DistilBERT with
// CARER + GoEmotions, read as the predictor reads captions (text/reading.h); the image task pairs
// the face model (ResNet or ViT, models::ImageClassifier) with FER2013 faces.
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "emopost/core/error.h"
#include "emopost/data/datasets.h"
#include "emopost/train/config.h"
#include "emopost/train/face_reading.h"

namespace emopost::train {

struct SplitData {
  std::vector<int> labels;
  std::vector<std::string> sources;  // data set per example ("carer", "goemotions", "fer2013")
  std::vector<std::string> texts;    // text task only, for reports
  std::vector<std::string> files;    // image task only: each face's image file, for reports
  std::vector<char> face_found;      // image task through a detector: whether a face was found in each
  // Distributions over the labels to learn instead of `labels` (FER+'s votes); empty: the labels alone.
  std::vector<std::vector<float>> targets;
  size_t size() const { return labels.size(); }
};

class Task {
 public:
  virtual ~Task() = default;
  virtual torch::nn::Module& module() = 0;
  virtual std::string model_type() const = 0;
  const SplitData& split(const std::string& name) const;
  // Logits [idx.size(), 7] for examples of a split; `augment` applies training-time perturbations.
  virtual torch::Tensor logits(const std::string& split, const std::vector<size_t>& idx,
                               bool augment, std::mt19937& rng) = 0;
  // Mixup: logits for the pictures lambda * x[idx[r]] + (1 - lambda) * x[partner[r]], augmented.
  virtual torch::Tensor mixed_logits(const std::string& /*split*/, const std::vector<size_t>& /*idx*/,
                                     const std::vector<size_t>& /*partner*/, float /*lambda*/, std::mt19937& /*rng*/) {
    throw Error("mixup applies to image models only");
  }
  // Called after each training epoch, before validation.
  virtual void end_epoch() {}
  // Relative cost of an example (tokens for text), so batches can group similar lengths.
  virtual size_t cost(const std::string& /*split*/, size_t /*index*/) const { return 1; }
  // A Hugging Face folder: config.json, model.safetensors and the tokenizer or processor files.
  virtual void save(const std::filesystem::path& dir, torch::ScalarType float_dtype) = 0;
  // Replaces the weights with those of a folder written by save() (for --resume).
  virtual void load_weights(const std::filesystem::path& dir) = 0;
  // Runs the model's transformer linears in dynamic int8 from now on (evaluation only).
  virtual void quantize_int8() = 0;
  // Image models: average each example's logits with its mirror image's (evaluation only).
  virtual void set_mirror_average(bool on) {
    if (on) throw Error("mirror averaging applies to image models only");
  }

 protected:
  std::map<std::string, SplitData> splits_;
};

// Copies parameters and buffers (BatchNorm statistics) of the same names, for --resume.
void copy_state(torch::nn::Module& to, const torch::nn::Module& from);

// Splits: any of "train", "val", "test". The model comes from config.init_from or model_config.
std::unique_ptr<Task> make_task(const TrainConfig& config, const std::vector<std::string>& splits);

// A trained model folder, evaluated on data: `kind` is "text" or "image".
std::unique_ptr<Task> load_task(const std::string& kind, const std::filesystem::path& model_dir,
                                const std::filesystem::path& data_root, const std::string& recipe,
                                const std::vector<std::string>& splits, size_t limit = 0,
                                const FaceReading& faces = {}, const std::vector<std::string>& drop_words = {});

// A face split's examples with the labels asked for: "fer2013", or FER+'s ("ferplus": the majority;
// "ferplus-votes": also the vote distribution, for training). FER+ relabels FER2013's splits only, and
// `left_out` (when given) counts the faces it has no usable label for. n > 0 keeps n, spread evenly.
std::vector<data::FaceExample> face_examples(const std::filesystem::path& data_root, const std::string& split,
                                             const std::string& labels = "fer2013", size_t n = 0,
                                             size_t* left_out = nullptr);

// A face model folder over faces the caller has chosen, as split `split`.
std::unique_ptr<Task> load_image_task(const std::filesystem::path& model_dir, const std::string& split,
                                      const std::vector<data::FaceExample>& examples, const FaceReading& faces);

// A text model folder over texts the caller has read (a user's own labelled JSONL), as split `split`.
std::unique_ptr<Task> load_text_task(const std::filesystem::path& model_dir, const std::string& split,
                                     std::vector<data::TextExample> examples,
                                     const std::vector<std::string>& drop_words = {},
                                     bool with_expert = true);

}  // namespace emopost::train
