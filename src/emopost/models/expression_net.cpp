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
  if (pixel_values.dim() != 4 || pixel_values.size(1) != config_.num_channels)
    throw Error(fmt::format("the expression net reads [B, {}, H, W] pixels", config_.num_channels), Errc::bad_image);
  // Inference in slices: at 256 faces (eval's batch) each 56 x 56 x 32 activation is 100 MB, past the
  // blocks the allocator keeps (threads.h), and faults in afresh every pass: 15x slower than slices of
  // 32 (eval of 1,024 PublicTest faces with the mirror, 71 s against 4.7 s).
  constexpr int64_t kSlice = 32;
  if (!is_training() && pixel_values.size(0) > kSlice) {
    std::vector<torch::Tensor> parts;
    for (const auto& slice : pixel_values.split(kSlice)) parts.push_back(forward(slice));
    return torch::cat(parts);
  }
  // Back to 0..1, then the package's RGB less its mean over 255, at its side.
  auto x = pixel_values * config_.pixel_std + config_.pixel_mean;
  if (config_.num_channels == 1) x = x.expand({-1, 3, -1, -1});
  const auto mean = torch::tensor(std::vector<float>(config_.mean_rgb.begin(), config_.mean_rgb.end())).view({1, 3, 1, 1}) / 255.0;
  const int64_t side = config_.input_size;
  if (x.size(2) != side || x.size(3) != side)
    x = torch::nn::functional::interpolate(
        x, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{side, side})
               .mode(torch::kBilinear).align_corners(false));
  return forward_face_api((x - mean).contiguous(torch::MemoryFormat::ChannelsLast));
}

ExpressionNet load_expression_net(const fs::path& dir) {
  try {
    ExpressionNet net(io::FaceExpressionConfig::from_json(read_json_file(dir / "config.json")));
    face_api::load_weights(*net, dir / "model.safetensors");
    return net;
  } catch (const Error& e) {  // a folder that fails to load is the checkpoint's problem
    throw Error(fmt::format("face model {}: {}", dir.string(), e.what()), Errc::bad_model);
  }
}

void save_expression_net(ExpressionNet& net, const fs::path& dir, torch::ScalarType float_dtype) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : net->named_parameters()) tensors.emplace_back(p.key(), p.value().detach().contiguous());
  save_folder(dir, tensors, net->config().to_json(), float_dtype);
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
  io::ImageProcessorConfig processor;
  processor.height = processor.width = side;
  processor.image_mean = {config.pixel_mean};
  processor.image_std = {config.pixel_std};
  write_json_file(out_dir / "preprocessor_config.json", processor.to_json());
}

}  // namespace emopost::models
