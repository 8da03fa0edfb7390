#pragma once
// The pieces face-api's nets share (npm @vladmandic/face-api, MIT), in libtorch: TensorFlow's
// 'same' padding, separable convolutions with a bias, the densely summed blocks of its face
// feature extractors, its input (a square of the picture less a mean), and its tfjs weights turned
// into model folders. The Tiny Face Detector, the landmark net and the expression net are built
// from these, and each matches the package's own run in Node (tests/test_detector.cpp).
#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/io/tfjs.h"

namespace emopost::models::face_api {

// TensorFlow's 'same' padding for a k x k window at `stride`: the odd pixel goes after.
torch::Tensor pad_same(const torch::Tensor& x, int64_t k, int64_t stride);

// A separable convolution with 'same' padding and a bias, no activation (face-api's common/).
struct SameSeparableImpl : torch::nn::Module {
  torch::nn::Conv2d depthwise{nullptr}, pointwise{nullptr};
  torch::Tensor bias;
  int64_t stride;
  SameSeparableImpl(int64_t in, int64_t out, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(SameSeparable);

// face-api's denseBlock3 and denseBlock4 (`convs` 3 or 4): a strided first convolution (a plain
// one in the first block), then separable ones, each reading the ReLU of the sum of all before it.
struct DenseBlockImpl : torch::nn::Module {
  torch::nn::Conv2d first{nullptr};  // the first block's plain convolution
  SameSeparable down{nullptr};
  std::vector<SameSeparable> convs;
  DenseBlockImpl(int64_t in, int64_t out, bool is_first, int convs);
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(DenseBlock);

// The picture padded to a square with zeros (at its bottom or right, or `centred` as face-api
// centres it: the odd pixel before), resized as TensorFlow's legacy bilinear resize does (no
// half-pixel centres), less the mean, over 255: face-api's input [1, 3, size, size].
torch::Tensor input(const cv::Mat& rgb, int size, const std::array<float, 3>& mean, bool centred = false);

// Every parameter of `net` from `file`, by name and shape, and nothing else (bad_model otherwise).
void load_weights(torch::nn::Module& net, const std::filesystem::path& file);
// Every parameter of `net` as a checkpoint folder (save_folder) with `config` as config.json.
void save_weights(torch::nn::Module& net, const std::filesystem::path& dir, const nlohmann::json& config,
                  torch::ScalarType float_dtype);

// dir/preprocessor_config.json for a net that undoes (pixel_mean, pixel_std) itself: squares of
// `side`, normalised by exactly those.
void write_processor_config(const std::filesystem::path& dir, int side, double pixel_mean, double pixel_std);

// A face model folder of one of these nets: Net built from its config.json (parsed as Config),
// its weights loaded. Any failure is the checkpoint's, bad_model naming the folder.
template <class Net, class Config>
Net load_net(const std::filesystem::path& dir) {
  try {
    Net net(Config::from_json(read_json_file(dir / "config.json")));
    load_weights(*net, dir / "model.safetensors");
    return net;
  } catch (const Error& e) {
    throw Error(fmt::format("face model {}: {}", dir.string(), e.what()), Errc::bad_model);
  }
}

// face-api's tfjs weights (`manifest` and its shards), renamed by `names` and in torch's layouts
// (filters to OIHW, dense layers transposed). `what` names the net in errors ("expression net").
std::vector<std::pair<std::string, torch::Tensor>> read_tfjs(
    const std::filesystem::path& manifest, const std::vector<std::pair<std::string, std::string>>& names, const char* what);
// read_tfjs in two steps, for a converter that takes some tensors out first (a graph's constants):
// the weights of `manifest` by name, then those renamed, every one of them by `names` (`what`: "HSE's faceres").
std::map<std::string, io::TfjsTensor> tfjs_by_name(const std::filesystem::path& manifest);
std::vector<std::pair<std::string, torch::Tensor>> rename_tfjs(
    std::map<std::string, io::TfjsTensor> weights, const std::vector<std::pair<std::string, std::string>>& names,
    const std::string& what, const std::filesystem::path& manifest);

// A face model's forward: `pixel_values` checked as [B, channels, H, W] (bad_image naming `what`
// otherwise), then f over it; at inference in slices of 32 rows, concatenated. At eval's batch of
// 256 faces a full-size activation outgrows the blocks the allocator keeps (threads.h) and faults in
// afresh every pass: the expression net read 1,024 PublicTest faces with the mirror in 71 s whole,
// in 4.7 s in slices of 32.
torch::Tensor read_faces(const torch::nn::Module& net, const torch::Tensor& pixel_values, int64_t channels,
                         const char* what, const std::function<torch::Tensor(const torch::Tensor&)>& f);

// read_tfjs written as a model folder, with `config` as config.json.
void convert_tfjs(const std::filesystem::path& manifest, const std::vector<std::pair<std::string, std::string>>& names,
                  const char* what, const std::filesystem::path& out_dir, const nlohmann::json& config);

}  // namespace emopost::models::face_api
