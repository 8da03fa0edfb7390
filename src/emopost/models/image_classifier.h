#pragma once
// The face model, whichever architecture a checkpoint holds (config.json's model_type): ViT,
// ResNet, face-api's expression net or HSE's faceres. Training, evaluation and prediction go through this, so they never branch on it.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "emopost/models/checkpoint.h"
#include "emopost/models/expression_net.h"
#include "emopost/models/faceres.h"

namespace emopost::models {

class ImageClassifier {
 public:
  // A checkpoint folder; model_type "vit" (also the default when absent), "resnet", "face_expression" or "faceres".
  static ImageClassifier load(const std::filesystem::path& dir, const LoadOptions& options = {});
  // A fresh model from config.json keys, with `labels` as its head.
  static ImageClassifier create(const nlohmann::json& model_config, std::vector<std::string> labels);
  // A config.json's id2label, read by its own architecture's keys, without building the model:
  // labels are checked before a load, which would otherwise fail on a head of another size.
  static std::vector<std::string> labels_of(const nlohmann::json& config);

  torch::Tensor forward(const torch::Tensor& pixel_values);  // logits [B, num_labels]
  torch::nn::Module& module();
  std::string model_type() const;
  int num_channels() const;
  const std::vector<std::string>& labels() const;  // config.json's id2label
  // The input side the model is built for, or 0 when it takes any (ResNet, the expression net, faceres).
  int image_size() const;
  // The (mean, std) the model undoes inside forward() to see pixels again (the expression net, faceres), which
  // preprocessor_config.json must then use; nullopt for models that take any normalisation.
  std::optional<std::pair<double, double>> pixel_normalization() const;
  // ViT's transformer linears in dynamic int8; a ResNet's convolutions stay fp32 (no-op).
  void quantize_int8();
  void save(const std::filesystem::path& dir, torch::ScalarType float_dtype);
  // From now on forward() averages the logits of each face and its mirror image, in one batch. Whether
  // it pays is each model's own choice, made on validation (config.json's test_time_mirror).
  void set_mirror_average(bool on);
  bool mirror_average() const { return mirror_average_; }
  // Inference-only speed-ups of the architecture (ResNet: see ResNetImpl::prepare_inference).
  void prepare_inference();

  // A small ensemble: forward() averages this model's logits with those of the members added, which
  // must read the same labels and channels. Only inference sees members: module() and save() are
  // this model's own (save() refuses an ensemble rather than drop its members).
  void add_member(ImageClassifier member);
  size_t ensemble_size() const { return 1 + members_.size(); }

 private:
  // One alternative per architecture; each method visits it once.
  using Net = std::variant<ViT, ResNet, ExpressionNet, FaceRes>;
  explicit ImageClassifier(Net net) : net_(std::move(net)) {}
  torch::Tensor forward_one(const torch::Tensor& pixel_values);
  Net net_;
  bool mirror_average_ = false;
  std::vector<ImageClassifier> members_;
};

// The preprocessor_config.json beside a face checkpoint, checked against the model's input side.
io::ImageProcessorConfig read_processor_config(const std::filesystem::path& dir, const ImageClassifier& model);

// The expression net and faceres turn their input back into pixels with their own (mean, std): any
// other normalisation would feed them shifted pixels without a word, so it is refused (bad_model,
// naming `where`).
void check_normalization(const ImageClassifier& model, const io::ImageProcessorConfig& p, const std::string& where);

}  // namespace emopost::models
