#include "emopost/models/image_classifier.h"

#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/io/hf_config.h"

namespace emopost::models {

namespace {

std::string checked_type(const nlohmann::json& config, const std::string& origin) {
  auto type = io::model_type_of(config);
  if (type.empty()) type = "vit";  // configs written before ResNet existed name no type
  if (type != "vit" && type != "resnet" && type != "face_expression")
    throw Error(origin + ": model_type \"" + type + "\" is not an image classifier (use vit, resnet or face_expression)");
  return type;
}

}  // namespace

ImageClassifier ImageClassifier::load(const std::filesystem::path& dir, const LoadOptions& options) {
  ImageClassifier m;
  auto config_file = dir / "config.json";
  const auto type = checked_type(read_json_file(config_file), config_file.string());
  if (type == "vit") {
    m.vit_ = load_vit(dir, options);
  } else if (type == "resnet") {
    m.resnet_ = load_resnet(dir, options);
  } else {
    m.expression_ = load_expression_net(dir);
    if (options.labels && *options.labels != m.labels())
      throw Error(config_file.string() + ": the expression net's labels differ from the ones asked for", Errc::bad_model);
  }
  return m;
}

ImageClassifier ImageClassifier::create(const nlohmann::json& model_config, std::vector<std::string> labels) {
  ImageClassifier m;
  const auto type = checked_type(model_config, "model_config");
  if (type == "vit") {
    auto c = io::ViTConfig::from_json(model_config);
    c.id2label = std::move(labels);
    m.vit_ = ViT(c);
  } else if (type == "face_expression") {
    auto c = io::FaceExpressionConfig::from_json(model_config);
    c.id2label = std::move(labels);
    m.expression_ = ExpressionNet(c);
  } else {
    auto c = io::ResNetConfig::from_json(model_config);
    c.id2label = std::move(labels);
    m.resnet_ = ResNet(c);
  }
  return m;
}

torch::Tensor ImageClassifier::forward(const torch::Tensor& pixels) {
  auto sum = forward_one(pixels);
  for (auto& m : members_) sum = sum + m.forward_one(pixels);
  return members_.empty() ? sum : sum / double(ensemble_size());
}

void ImageClassifier::set_mirror_average(bool on) {
  mirror_average_ = on;
  for (auto& m : members_) m.mirror_average_ = on;
}

void ImageClassifier::prepare_inference() {
  if (resnet_) resnet_->prepare_inference();
  for (auto& m : members_) m.prepare_inference();
}

void ImageClassifier::add_member(ImageClassifier member) {
  if (member.labels() != labels() || member.num_channels() != num_channels() || member.image_size() != image_size())
    throw Error(fmt::format("an ensemble member must read the same labels, channels and size as the first model "
                            "({} channels, size {})",
                            num_channels(), image_size()),
                Errc::bad_model);
  if (!member.members_.empty()) throw Error("an ensemble member cannot be an ensemble itself", Errc::bad_model);
  member.mirror_average_ = mirror_average_;
  members_.push_back(std::move(member));
}

torch::Tensor ImageClassifier::forward_one(const torch::Tensor& pixels) {
  auto run = [&](const torch::Tensor& x) {
    return vit_ ? vit_->forward(x) : resnet_ ? resnet_->forward(x) : expression_->forward(x);
  };
  if (!mirror_average_) return run(pixels);
  // One batch for both views: twice the rows, one pass.
  auto both = run(torch::cat({pixels, pixels.flip({3})}, 0));
  const auto n = pixels.size(0);
  return 0.5 * (both.slice(0, 0, n) + both.slice(0, n));
}

torch::nn::Module& ImageClassifier::module() {
  if (vit_) return *vit_;
  if (resnet_) return *resnet_;
  return *expression_;
}

int ImageClassifier::num_channels() const {
  return vit_ ? vit_->config().num_channels : resnet_ ? resnet_->config().num_channels : expression_->config().num_channels;
}

const std::vector<std::string>& ImageClassifier::labels() const {
  return vit_ ? vit_->config().id2label : resnet_ ? resnet_->config().id2label : expression_->config().id2label;
}

int ImageClassifier::image_size() const { return vit_ ? vit_->config().image_size : 0; }

void ImageClassifier::quantize_int8() {
  if (vit_) vit_->quantize_int8();
  for (auto& m : members_) m.quantize_int8();
}

void ImageClassifier::save(const std::filesystem::path& dir, torch::ScalarType float_dtype) {
  if (!members_.empty())
    throw Error("this face model is an ensemble of " + std::to_string(ensemble_size()) +
                "; save its members one by one, each into a folder of its own");
  if (vit_)
    save_pretrained(vit_, dir, float_dtype);
  else if (resnet_)
    save_pretrained(resnet_, dir, float_dtype);
  else
    save_expression_net(expression_, dir, float_dtype);
}

io::ImageProcessorConfig read_processor_config(const std::filesystem::path& dir, const ImageClassifier& model) {
  auto file = dir / "preprocessor_config.json";
  auto p = io::ImageProcessorConfig::from_json(read_json_file(file));
  if (p.height < 32 || p.width < 32)
    throw Error(fmt::format("{}: size {}x{} is below the 32 pixels a face model needs", file.string(), p.height, p.width));
  if (model.image_size() && (p.height != model.image_size() || p.width != model.image_size()))
    throw Error(fmt::format("{}: size {}x{} disagrees with the model's image_size {}", file.string(), p.height,
                            p.width, model.image_size()));
  return p;
}

}  // namespace emopost::models
