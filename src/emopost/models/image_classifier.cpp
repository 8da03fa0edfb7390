#include "emopost/models/image_classifier.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "emopost/core/error.h"
#include "emopost/io/hf_config.h"

namespace emopost::models {

namespace {

std::string checked_type(const nlohmann::json& config, const std::string& origin) {
  auto type = io::model_type_of(config);
  if (type.empty()) type = "vit";  // configs written before ResNet existed name no type
  if (type != "vit" && type != "resnet" && type != "face_expression" && type != "faceres")
    throw Error(origin + ": model_type \"" + type + "\" is not an image classifier (use vit, resnet, face_expression or faceres)");
  return type;
}

// Calls f with the config of the architecture that config.json names, parsed by its own keys.
template <class F>
decltype(auto) with_config(const nlohmann::json& config, const std::string& origin, F&& f) {
  const auto type = checked_type(config, origin);
  if (type == "resnet") return f(io::ResNetConfig::from_json(config));
  if (type == "face_expression") return f(io::FaceExpressionConfig::from_json(config));
  if (type == "faceres") return f(io::FaceResConfig::from_json(config));
  return f(io::ViTConfig::from_json(config));
}

}  // namespace

ImageClassifier ImageClassifier::load(const std::filesystem::path& dir, const LoadOptions& options) {
  auto config_file = dir / "config.json";
  const auto type = checked_type(read_json_file(config_file), config_file.string());
  if (type == "vit") return ImageClassifier(load_vit(dir, options));
  if (type == "resnet") return ImageClassifier(load_resnet(dir, options));
  // The face-api and HSE nets keep the head they were written with.
  ImageClassifier m(type == "faceres" ? Net(load_faceres(dir)) : Net(load_expression_net(dir)));
  if (options.labels && *options.labels != m.labels())
    throw Error(config_file.string() + ": the " + type + " model's labels differ from the ones asked for", Errc::bad_model);
  return m;
}

ImageClassifier ImageClassifier::create(const nlohmann::json& model_config, std::vector<std::string> labels) {
  return with_config(model_config, "model_config", [&](auto c) {
    c.id2label = std::move(labels);
    using Config = decltype(c);
    if constexpr (std::is_same_v<Config, io::ViTConfig>) return ImageClassifier(ViT(c));
    else if constexpr (std::is_same_v<Config, io::ResNetConfig>) return ImageClassifier(ResNet(c));
    else if constexpr (std::is_same_v<Config, io::FaceExpressionConfig>) return ImageClassifier(ExpressionNet(c));
    else return ImageClassifier(FaceRes(c));
  });
}

std::vector<std::string> ImageClassifier::labels_of(const nlohmann::json& config) {
  return with_config(config, "config.json", [](const auto& c) { return c.id2label; });
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
  if (auto* resnet = std::get_if<ResNet>(&net_)) (*resnet)->prepare_inference();
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
  auto run = [&](const torch::Tensor& x) { return std::visit([&](auto& net) { return net->forward(x); }, net_); };
  if (!mirror_average_) return run(pixels);
  // One batch for both views: twice the rows, one pass.
  auto both = run(torch::cat({pixels, pixels.flip({3})}, 0));
  const auto n = pixels.size(0);
  return 0.5 * (both.slice(0, 0, n) + both.slice(0, n));
}

torch::nn::Module& ImageClassifier::module() {
  return std::visit([](auto& net) -> torch::nn::Module& { return *net; }, net_);
}

std::string ImageClassifier::model_type() const {
  static const char* const kTypes[] = {"vit", "resnet", "face_expression", "faceres"};  // in Net's order
  return kTypes[net_.index()];
}

int ImageClassifier::num_channels() const {
  return std::visit([](const auto& net) { return net->config().num_channels; }, net_);
}

const std::vector<std::string>& ImageClassifier::labels() const {
  return std::visit([](const auto& net) -> const std::vector<std::string>& { return net->config().id2label; }, net_);
}

int ImageClassifier::image_size() const {
  const auto* vit = std::get_if<ViT>(&net_);
  return vit ? (*vit)->config().image_size : 0;
}

std::optional<std::pair<double, double>> ImageClassifier::pixel_normalization() const {
  return std::visit(
      [](const auto& net) -> std::optional<std::pair<double, double>> {
        if constexpr (requires { net->config().pixel_mean; }) return std::pair{net->config().pixel_mean, net->config().pixel_std};
        else return std::nullopt;
      },
      net_);
}

void ImageClassifier::quantize_int8() {
  if (auto* vit = std::get_if<ViT>(&net_)) (*vit)->quantize_int8();
  for (auto& m : members_) m.quantize_int8();
}

void ImageClassifier::save(const std::filesystem::path& dir, torch::ScalarType float_dtype) {
  if (!members_.empty())
    throw Error("this face model is an ensemble of " + std::to_string(ensemble_size()) +
                "; save its members one by one, each into a folder of its own");
  std::visit(
      [&](auto& net) {
        using Model = std::decay_t<decltype(net)>;
        if constexpr (std::is_same_v<Model, ExpressionNet>)
          save_expression_net(net, dir, float_dtype);
        else if constexpr (std::is_same_v<Model, FaceRes>)
          save_faceres(net, dir, float_dtype);
        else
          save_pretrained(net, dir, float_dtype);
      },
      net_);
}

io::ImageProcessorConfig read_processor_config(const std::filesystem::path& dir, const ImageClassifier& model) {
  auto file = dir / "preprocessor_config.json";
  auto p = io::ImageProcessorConfig::from_json(read_json_file(file));
  if (p.height < 32 || p.width < 32)
    throw Error(fmt::format("{}: size {}x{} is below the 32 pixels a face model needs", file.string(), p.height, p.width));
  if (model.image_size() && (p.height != model.image_size() || p.width != model.image_size()))
    throw Error(fmt::format("{}: size {}x{} disagrees with the model's image_size {}", file.string(), p.height,
                            p.width, model.image_size()));
  check_normalization(model, p, file.string());
  return p;
}

void check_normalization(const ImageClassifier& model, const io::ImageProcessorConfig& p, const std::string& where) {
  const auto norm = model.pixel_normalization();
  if (!norm) return;
  auto all = [](const std::vector<double>& v, double x) {
    return std::all_of(v.begin(), v.end(), [&](double y) { return std::abs(y - x) < 1e-9; });
  };
  const auto mean = p.do_normalize ? p.image_mean : std::vector<double>{0.0};
  const auto std = p.do_normalize ? p.image_std : std::vector<double>{1.0};
  if (!all(mean, norm->first) || !all(std, norm->second))
    throw Error(fmt::format("{}: normalised by mean [{}] and std [{}], but the model undoes pixel_mean {} and "
                            "pixel_std {}",
                            where, fmt::join(mean, ", "), fmt::join(std, ", "), norm->first, norm->second),
                Errc::bad_model);
}

}  // namespace emopost::models
