#include "emopost/models/face_api.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/io/hf_config.h"
#include "emopost/io/tfjs.h"
#include "emopost/models/checkpoint.h"

namespace emopost::models::face_api {

namespace fs = std::filesystem;
namespace nn = torch::nn;

torch::Tensor pad_same(const torch::Tensor& x, int64_t k, int64_t stride) {
  auto pad = [&](int64_t size) { return std::max<int64_t>(((size + stride - 1) / stride - 1) * stride + k - size, 0); };
  const int64_t h = pad(x.size(2)), w = pad(x.size(3));
  return torch::constant_pad_nd(x, {w / 2, w - w / 2, h / 2, h - h / 2});
}

SameSeparableImpl::SameSeparableImpl(int64_t in, int64_t out, int64_t stride) : stride(stride) {
  depthwise = register_module("depthwise", nn::Conv2d(nn::Conv2dOptions(in, in, 3).stride(stride).groups(in).bias(false)));
  pointwise = register_module("pointwise", nn::Conv2d(nn::Conv2dOptions(in, out, 1).bias(false)));
  bias = register_parameter("bias", torch::zeros({out}));
}

torch::Tensor SameSeparableImpl::forward(const torch::Tensor& x) {
  return pointwise(depthwise(pad_same(x, 3, stride))) + bias.view({1, -1, 1, 1});
}

DenseBlockImpl::DenseBlockImpl(int64_t in, int64_t out, bool is_first, int n) {
  if (is_first) first = register_module("conv0", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(2)));
  else down = register_module("conv0", SameSeparable(in, out, 2));
  for (int k = 1; k < n; ++k) convs.push_back(register_module("conv" + std::to_string(k), SameSeparable(out, out, 1)));
}

torch::Tensor DenseBlockImpl::forward(const torch::Tensor& x) {
  auto sum = torch::relu(first ? first(pad_same(x, 3, 2)) : down(x));
  for (auto& conv : convs) sum = sum + conv(torch::relu(sum));
  return torch::relu(sum);
}

torch::Tensor input(const cv::Mat& rgb, int size, const std::array<float, 3>& mean, bool centred) {
  if (rgb.type() != CV_8UC3 || rgb.empty()) throw Error("face-api's nets read 8-bit RGB pictures", Errc::bad_image);
  const int side = std::max(rgb.rows, rgb.cols);
  const int diff = std::abs(rgb.rows - rgb.cols), before = centred ? diff - (diff + 1) / 2 : 0;
  const int off_x = rgb.cols < rgb.rows ? before : 0, off_y = rgb.rows < rgb.cols ? before : 0;
  const double ratio = double(side) / size;
  std::vector<int> lo(size), hi(size);
  std::vector<double> frac(size);
  for (int i = 0; i < size; ++i) {
    const double src = ratio * i;
    lo[i] = std::max(0, int(std::floor(src)));
    hi[i] = std::min(side - 1, int(std::ceil(src)));
    frac[i] = src - lo[i];
  }
  auto out_tensor = torch::empty({1, 3, size, size});
  auto* out = out_tensor.data_ptr<float>();
  const int64_t plane = int64_t(size) * size;
  // Rows and columns past the picture are the square's zero padding.
  const std::vector<uint8_t> zeros(size_t(3) * side, 0);
  auto row = [&](int y) { return y >= off_y && y - off_y < rgb.rows ? rgb.ptr<uint8_t>(y - off_y) : zeros.data(); };
  auto column = [&](int x) { return x >= off_x && x - off_x < rgb.cols ? 3 * (x - off_x) : -1; };
  std::vector<int> lo3(size), hi3(size);  // byte offsets of the columns, -1 in the padding
  for (int i = 0; i < size; ++i) lo3[i] = column(lo[i]), hi3[i] = column(hi[i]);
  for (int r = 0; r < size; ++r) {
    const uint8_t *top_row = row(lo[r]), *bottom_row = row(hi[r]);
    const double fr = frac[r];
    for (int col = 0; col < size; ++col) {
      const double fc = frac[col];
      for (int c = 0; c < 3; ++c) {
        const double tl = lo3[col] < 0 ? 0 : top_row[lo3[col] + c], tr = hi3[col] < 0 ? 0 : top_row[hi3[col] + c];
        const double bl = lo3[col] < 0 ? 0 : bottom_row[lo3[col] + c], br = hi3[col] < 0 ? 0 : bottom_row[hi3[col] + c];
        const double top = tl + (tr - tl) * fc, bottom = bl + (br - bl) * fc;
        const float v = float(top + (bottom - top) * fr);
        out[c * plane + int64_t(r) * size + col] = (v - mean[c]) / 255.0f;
      }
    }
  }
  return out_tensor;
}

void load_weights(nn::Module& net, const fs::path& file) {
  const auto tensors = load_tensors(file);
  torch::NoGradGuard no_grad;
  for (auto& item : net.named_parameters()) {
    const auto it = tensors.find(item.key());
    if (it == tensors.end()) throw Error(fmt::format("{}: weight {} is missing", file.string(), item.key()), Errc::bad_model);
    if (it->second.sizes() != item.value().sizes())
      throw Error(fmt::format("{}: weight {} has shape {}, not {}", file.string(), item.key(),
                              fmt::join(it->second.sizes(), "x"), fmt::join(item.value().sizes(), "x")),
                  Errc::bad_model);
    item.value().copy_(it->second.to(torch::kFloat));
  }
  if (tensors.size() != net.named_parameters().size())
    throw Error(fmt::format("{}: it holds weights the model does not have", file.string()), Errc::bad_model);
  // NHWC lets oneDNN run the depthwise convolutions.
  for (auto& p : net.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  net.eval();
}

void save_weights(nn::Module& net, const fs::path& dir, const nlohmann::json& config, torch::ScalarType float_dtype) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : net.named_parameters()) tensors.emplace_back(p.key(), p.value().detach().contiguous());
  save_folder(dir, tensors, config, float_dtype);
}

void write_processor_config(const fs::path& dir, int side, double pixel_mean, double pixel_std) {
  io::ImageProcessorConfig processor;
  processor.height = processor.width = side;
  processor.image_mean = {pixel_mean};
  processor.image_std = {pixel_std};
  write_json_file(dir / "preprocessor_config.json", processor.to_json());
}

std::map<std::string, io::TfjsTensor> tfjs_by_name(const fs::path& manifest) {
  std::map<std::string, io::TfjsTensor> weights;
  for (auto& t : io::read_tfjs_weights(manifest)) weights.emplace(t.name, std::move(t));
  return weights;
}

std::vector<std::pair<std::string, torch::Tensor>> rename_tfjs(
    std::map<std::string, io::TfjsTensor> weights, const std::vector<std::pair<std::string, std::string>>& names,
    const std::string& what, const fs::path& manifest) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& [tfjs, ours] : names) {
    const auto it = weights.find(tfjs);
    if (it == weights.end())
      throw Error(fmt::format("{}: no weight \"{}\"; is this {}?", manifest.string(), tfjs, what), Errc::bad_model);
    auto t = torch::from_blob(it->second.values.data(), it->second.shape, torch::kFloat).clone();
    const auto tail = tfjs.substr(tfjs.rfind('/') + 1);
    const bool depthwise = tail == "depthwise_filter" || tail == "depthwise_kernel";  // face-api's, Keras'
    if (t.dim() == 4) t = depthwise ? t.permute({2, 3, 0, 1}) : t.permute({3, 2, 0, 1});  // HWIO -> OIHW
    if (t.dim() == 2) t = t.t();  // a dense layer's [in, out] -> torch's [out, in]
    out.emplace_back(ours, t.contiguous());
    weights.erase(it);
  }
  if (!weights.empty())
    throw Error(fmt::format("{}: weight \"{}\" is not {}'s", manifest.string(), weights.begin()->first, what),
                Errc::bad_model);
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> read_tfjs(
    const fs::path& manifest, const std::vector<std::pair<std::string, std::string>>& names, const char* what) {
  return rename_tfjs(tfjs_by_name(manifest), names, fmt::format("face-api's {}", what), manifest);
}

torch::Tensor read_faces(const nn::Module& net, const torch::Tensor& pixel_values, int64_t channels, const char* what,
                         const std::function<torch::Tensor(const torch::Tensor&)>& f) {
  if (pixel_values.dim() != 4 || pixel_values.size(1) != channels)
    throw Error(fmt::format("{} reads [B, {}, H, W] pixels", what, channels), Errc::bad_image);
  constexpr int64_t kSlice = 32;
  if (net.is_training() || pixel_values.size(0) <= kSlice) return f(pixel_values);
  std::vector<torch::Tensor> parts;
  for (const auto& part : pixel_values.split(kSlice)) parts.push_back(f(part));
  return torch::cat(parts);
}

void convert_tfjs(const fs::path& manifest, const std::vector<std::pair<std::string, std::string>>& names,
                  const char* what, const fs::path& out_dir, const nlohmann::json& config) {
  save_folder(out_dir, read_tfjs(manifest, names, what), config);
}

}  // namespace emopost::models::face_api
