#include "emopost/models/expression_net.h"

#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/core/labels.h"
#include "emopost/models/checkpoint.h"
#include "emopost/models/names.h"

namespace emopost::models {

namespace fs = std::filesystem;

namespace {

// face-api's expressions (FACE_EXPRESSION_LABELS), in its output order, as emopost names them.
constexpr std::array<const char*, 7> kFaceApiOrder = {"neutral", "joy", "sadness", "anger", "fear", "disgust", "surprise"};

}  // namespace

ExpressionNetImpl::ExpressionNetImpl(io::FaceExpressionConfig config) : config_(std::move(config)) {
  if (config_.id2label.empty()) throw Error("the expression net needs id2label", Errc::bad_model);
  dense0 = register_module("dense0", face_api::DenseBlock(3, 32, true, 4));
  dense1 = register_module("dense1", face_api::DenseBlock(32, 64, false, 4));
  dense2 = register_module("dense2", face_api::DenseBlock(64, 128, false, 4));
  dense3 = register_module("dense3", face_api::DenseBlock(128, 256, false, 4));
  fc = register_module("fc", torch::nn::Linear(256, int64_t(config_.id2label.size())));
}

torch::Tensor ExpressionNetImpl::forward_face_api(const torch::Tensor& x) {
  const auto features = dense3(dense2(dense1(dense0(x))));
  // face-api pools 7 x 7 at its 112 pixels, which is the whole map; the mean keeps any side working.
  return fc(features.mean({2, 3}));
}

torch::Tensor ExpressionNetImpl::forward(const torch::Tensor& pixel_values) {
  // In slices at inference: at 256 faces (eval's batch) each 56 x 56 x 32 activation is 100 MB.
  return face_api::read_faces(*this, pixel_values, config_.num_channels, "the expression net", [this](const torch::Tensor& in) {
    // Back to 0..1, then the package's RGB less its mean over 255, at its side.
    auto x = in * config_.pixel_std + config_.pixel_mean;
    if (config_.num_channels == 1) x = x.expand({-1, 3, -1, -1});
    const auto mean = torch::tensor(std::vector<float>(config_.mean_rgb.begin(), config_.mean_rgb.end())).view({1, 3, 1, 1}) / 255.0;
    const int64_t side = config_.input_size;
    if (x.size(2) != side || x.size(3) != side)
      x = torch::nn::functional::interpolate(
          x, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{side, side})
                 .mode(torch::kBilinear).align_corners(false));
    return forward_face_api((x - mean).contiguous(torch::MemoryFormat::ChannelsLast));
  });
}

ExpressionNet load_expression_net(const fs::path& dir) {
  return face_api::load_net<ExpressionNet, io::FaceExpressionConfig>(dir);
}

void save_expression_net(ExpressionNet& net, const fs::path& dir, torch::ScalarType float_dtype) {
  face_api::save_weights(*net, dir, net->config().to_json(), float_dtype);
}

void convert_face_expression(const fs::path& manifest, const fs::path& out_dir, int side) {
  io::FaceExpressionConfig config;
  config.id2label.assign(kLabels.begin(), kLabels.end());
  config.extra = {{"source", "npm @vladmandic/face-api@1.7.15, model/face_expression_model (MIT)"}};
  auto tensors = face_api::read_tfjs(manifest, face_expression_names(), "expression net");
  // The dense layer's rows from face-api's order to emopost's labels.
  std::vector<int64_t> rows;
  for (const auto& label : kLabels)
    for (size_t i = 0; i < kFaceApiOrder.size(); ++i)
      if (label == kFaceApiOrder[i]) rows.push_back(int64_t(i));
  const auto index = torch::tensor(rows);
  for (auto& [name, t] : tensors)
    if (name.starts_with("fc.")) t = t.index_select(0, index).contiguous();
  save_folder(out_dir, tensors, config.to_json());
  face_api::write_processor_config(out_dir, side, config.pixel_mean, config.pixel_std);
}

}  // namespace emopost::models
