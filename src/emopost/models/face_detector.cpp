#include "emopost/models/face_detector.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/io/hf_config.h"
#include "emopost/models/face_api.h"
#include "emopost/models/names.h"

namespace emopost::models {

namespace {

namespace fs = std::filesystem;
namespace nn = torch::nn;

// face-api's leaky ReLU (slope 0.1).
torch::Tensor leaky(const torch::Tensor& x) { return torch::leaky_relu(x, 0.1); }

// TensorFlow's 2x2 max pool with 'same' padding: the missing row and column go after, and never win.
torch::Tensor max_pool_same(const torch::Tensor& x, int stride) {
  auto pad = [&](int64_t size) { return std::max<int64_t>(((size + stride - 1) / stride - 1) * stride + 2 - size, 0); };
  const auto padded = torch::constant_pad_nd(x, {0, pad(x.size(3)), 0, pad(x.size(2))},
                                             -std::numeric_limits<float>::infinity());
  return torch::max_pool2d(padded, {2, 2}, {stride, stride});
}

struct SeparableImpl : nn::Module {
  nn::Conv2d depthwise{nullptr}, pointwise{nullptr};
  torch::Tensor bias;
  SeparableImpl(int64_t in, int64_t out) {
    depthwise = register_module("depthwise", nn::Conv2d(nn::Conv2dOptions(in, in, 3).padding(1).groups(in).bias(false)));
    pointwise = register_module("pointwise", nn::Conv2d(nn::Conv2dOptions(in, out, 1).bias(false)));
    bias = register_parameter("bias", torch::zeros({out}));
  }
  torch::Tensor forward(const torch::Tensor& x) { return leaky(pointwise(depthwise(x)) + bias.view({1, -1, 1, 1})); }
};
TORCH_MODULE(Separable);

struct NetImpl : nn::Module {
  nn::Conv2d conv0{nullptr}, head{nullptr};
  std::vector<Separable> convs;
  explicit NetImpl(int64_t outputs) {
    conv0 = register_module("conv0", nn::Conv2d(nn::Conv2dOptions(3, 16, 3)));  // 'valid', as face-api
    const int64_t sizes[] = {16, 32, 64, 128, 256, 512};
    for (int i = 1; i <= 5; ++i)
      convs.push_back(register_module("conv" + std::to_string(i), Separable(sizes[i - 1], sizes[i])));
    head = register_module("head", nn::Conv2d(nn::Conv2dOptions(512, outputs, 1)));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = max_pool_same(leaky(conv0(x)), 2);
    for (size_t i = 0; i < convs.size(); ++i) x = max_pool_same(convs[i]->forward(x), i + 1 < convs.size() ? 2 : 1);
    return head(x);
  }
};
TORCH_MODULE(Net);

struct LandmarkNetImpl : nn::Module {
  face_api::DenseBlock dense0{nullptr}, dense1{nullptr}, dense2{nullptr};
  nn::Linear fc{nullptr};
  LandmarkNetImpl() {
    dense0 = register_module("dense0", face_api::DenseBlock(3, 32, true, 3));
    dense1 = register_module("dense1", face_api::DenseBlock(32, 64, false, 3));
    dense2 = register_module("dense2", face_api::DenseBlock(64, 128, false, 3));
    fc = register_module("fc", nn::Linear(128, 136));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const auto features = torch::avg_pool2d(dense2(dense1(dense0(x))), {14, 14}, {2, 2});
    return fc(features.flatten(1));
  }
};
TORCH_MODULE(LandmarkNet);

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

DetectorConfig read_config(const fs::path& file) {
  const auto j = read_json_file(file);
  DetectorConfig c;
  try {
    if (j.value("model_type", std::string()) != "tiny_face_detector")
      throw Error(fmt::format("{}: model_type is not \"tiny_face_detector\"", file.string()), Errc::bad_model);
    c.input_size = j.value("input_size", c.input_size);
    c.score_threshold = j.value("score_threshold", c.score_threshold);
    c.iou_threshold = j.value("iou_threshold", c.iou_threshold);
    if (j.contains("mean_rgb")) c.mean_rgb = j["mean_rgb"].get<std::array<float, 3>>();
    for (const auto& a : j.at("anchors")) c.anchors.emplace_back(a.at(0).get<double>(), a.at(1).get<double>());
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: {}", file.string(), e.what()), Errc::bad_model);
  }
  if (c.anchors.empty() || c.anchors.size() > 64 || c.input_size < 32 || c.input_size > 4096 || c.input_size % 32)
    throw Error(fmt::format("{}: needs anchors and an input_size that is a multiple of 32", file.string()), Errc::bad_model);
  return c;
}

}  // namespace

struct TinyFaceDetector::Impl {
  DetectorConfig config;
  mutable Net net{nullptr};  // forward() is not const in libtorch; inference does not change it

  torch::Tensor run(const cv::Mat& rgb, int size) const {
    c10::InferenceMode inference;
    // NCHW out, NHWC as tfjs lays it: [cells, cells, anchors * 5]
    const auto x = face_api::input(rgb, size, config.mean_rgb).contiguous(torch::MemoryFormat::ChannelsLast);
    return net->forward(x).permute({0, 2, 3, 1}).contiguous()[0];
  }
};

TinyFaceDetector::TinyFaceDetector() : impl_(std::make_unique<Impl>()) {}
TinyFaceDetector::~TinyFaceDetector() = default;
TinyFaceDetector::TinyFaceDetector(TinyFaceDetector&&) noexcept = default;
TinyFaceDetector& TinyFaceDetector::operator=(TinyFaceDetector&&) noexcept = default;
const DetectorConfig& TinyFaceDetector::config() const { return impl_->config; }

TinyFaceDetector TinyFaceDetector::load(const fs::path& dir) {
  try {
    return load_checked(dir);
  } catch (const Error& e) {  // a folder that fails to load is the installation's problem
    throw Error(fmt::format("face detector {}: {}", dir.string(), e.what()), Errc::bad_model);
  }
}

TinyFaceDetector TinyFaceDetector::load_checked(const fs::path& dir) {
  TinyFaceDetector d;
  d.impl_->config = read_config(dir / "config.json");
  d.impl_->net = Net(int64_t(d.impl_->config.anchors.size()) * 5);
  face_api::load_weights(*d.impl_->net, dir / "model.safetensors");
  d.impl_->net->eval();
  return d;
}

std::vector<float> TinyFaceDetector::raw_output(const cv::Mat& rgb, int input_size) const {
  const auto out = impl_->run(rgb, input_size ? input_size : impl_->config.input_size);
  return {out.data_ptr<float>(), out.data_ptr<float>() + out.numel()};
}

std::vector<Detection> TinyFaceDetector::detect(const cv::Mat& rgb, int input_size, double score_threshold) const {
  const auto& c = impl_->config;
  const int size = input_size ? input_size : c.input_size;
  const double threshold = score_threshold ? score_threshold : c.score_threshold;
  if (size < 32 || size > 4096 || size % 32) throw Error("the detector's input size must be a multiple of 32", Errc::invalid_field);
  const auto out = impl_->run(rgb, size);
  const int64_t cells = out.size(0), anchors = int64_t(c.anchors.size());
  const auto* o = out.data_ptr<float>();
  // The picture's sides as they were scaled into the square, for face-api's correction factors.
  const double scale = double(size) / std::max(rgb.rows, rgb.cols);
  const double w = std::round(rgb.cols * scale), h = std::round(rgb.rows * scale), side = std::max(w, h);
  const double fx = side / w, fy = side / h;
  struct Box {
    double x, y, w, h, score;  // relative to the picture
  };
  std::vector<Box> boxes;
  for (int64_t row = 0; row < cells; ++row)
    for (int64_t col = 0; col < cells; ++col)
      for (int64_t a = 0; a < anchors; ++a) {
        const float* v = o + ((row * cells + col) * anchors + a) * 5;
        const double score = sigmoid(v[4]);
        if (score <= threshold) continue;
        const double cx = (col + sigmoid(v[0])) / cells * fx, cy = (row + sigmoid(v[1])) / cells * fy;
        const double bw = std::exp(v[2]) * c.anchors[a].first / cells * fx;
        const double bh = std::exp(v[3]) * c.anchors[a].second / cells * fy;
        boxes.push_back({cx - bw / 2, cy - bh / 2, bw, bh, score});
      }
  // Non-maximum suppression, best first, as face-api does it (IoU in input pixels).
  std::stable_sort(boxes.begin(), boxes.end(), [](const Box& a, const Box& b) { return a.score < b.score; });
  auto iou = [&](const Box& a, const Box& b) {
    const double iw = std::max(0.0, std::min(a.x + a.w, b.x + b.w) - std::max(a.x, b.x)) * size;
    const double ih = std::max(0.0, std::min(a.y + a.h, b.y + b.h) - std::max(a.y, b.y)) * size;
    const double inter = iw * ih;
    return inter / (a.w * a.h * size * size + b.w * b.h * size * size - inter);
  };
  std::vector<Detection> faces;
  while (!boxes.empty()) {
    const Box best = boxes.back();
    boxes.pop_back();
    faces.push_back({cv::Rect2d(best.x * rgb.cols, best.y * rgb.rows, best.w * rgb.cols, best.h * rgb.rows), best.score});
    std::erase_if(boxes, [&](const Box& b) { return iou(best, b) > c.iou_threshold; });
  }
  return faces;
}

std::unique_ptr<vision::FaceDetector> make_face_detector(const vision::DetectorOptions& options, const fs::path& cascade,
                                                         const fs::path& detector, const fs::path& landmarks) {
  if (options.kind == "cnn")
    return std::make_unique<CnnDetector>(detector, options,
                                         fs::exists(landmarks / "framing.json") ? landmarks : fs::path());
  if (options.kind == "lbp") return std::make_unique<vision::CascadeDetector>(cascade, options);
  throw Error(fmt::format("unknown face detector \"{}\" (lbp or cnn)", options.kind), Errc::invalid_field);
}

CnnDetector::CnnDetector(const fs::path& dir, vision::DetectorOptions options, const fs::path& landmarks)
    : net_(TinyFaceDetector::load(dir)), options_(std::move(options)) {
  if (!landmarks.empty()) {
    landmarker_.emplace(FaceLandmarker::load(landmarks));
    framing_ = vision::FaceFraming::load(landmarks / "framing.json");
  }
}

cv::Mat CnnDetector::cut(const cv::Mat& image, const vision::FaceBox& face, double margin) const {
  if (!landmarker_) return vision::crop_with_margin(image, face.box, margin);
  cv::Mat rgb = image;
  if (image.channels() == 1) cv::cvtColor(image, rgb, cv::COLOR_GRAY2RGB);
  const auto eyes = vision::eye_centres(landmarker_->detect(rgb, face.box).points);
  return vision::align_face(image, eyes, framing_, kAlignedSide);
}

std::vector<vision::FaceBox> CnnDetector::detect(const cv::Mat& image, bool crop_fallback) const {
  if (image.empty()) return {};
  cv::Mat rgb = image;
  if (image.channels() == 1) cv::cvtColor(image, rgb, cv::COLOR_GRAY2RGB);
  const cv::Rect whole(0, 0, image.cols, image.rows);
  std::vector<vision::FaceBox> faces;
  auto take = [&](const std::vector<Detection>& found, int shift) {
    for (const auto& d : found) {
      const cv::Rect box = cv::Rect(cv::Point(int(std::lround(d.box.x)) - shift, int(std::lround(d.box.y)) - shift),
                                    cv::Size(int(std::lround(d.box.width)), int(std::lround(d.box.height)))) &
                           whole;
      if (box.area() > 0) faces.push_back({box, 0, false, d.score});
    }
  };
  const int input = options_.cnn_input;
  const double threshold = options_.min_score;
  if (input % 32) throw Error(fmt::format("the CNN's input side {} is not a multiple of 32", input), Errc::invalid_field);
  take(net_.detect(rgb, input, threshold), 0);
  for (double border : kBorders) {
    if (!faces.empty()) break;
    const int pad = int(std::lround(border * std::max(rgb.cols, rgb.rows)));
    cv::Mat framed;
    cv::copyMakeBorder(rgb, framed, pad, pad, pad, pad, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    take(net_.detect(framed, input, threshold), pad);
  }
  std::stable_sort(faces.begin(), faces.end(), [](auto& a, auto& b) { return a.box.area() > b.box.area(); });
  if (faces.empty() && crop_fallback && vision::taken_as_crop(image, options_))
    faces.push_back({whole, 0, true, 0});
  return faces;
}

struct FaceLandmarker::Impl {
  mutable LandmarkNet net{nullptr};  // forward() is not const in libtorch; inference does not change it
  std::array<float, 3> mean{float(io::kFaceApiFeatureMeanRgb[0]), float(io::kFaceApiFeatureMeanRgb[1]),
                            float(io::kFaceApiFeatureMeanRgb[2])};
};

FaceLandmarker::FaceLandmarker() : impl_(std::make_unique<Impl>()) {}
FaceLandmarker::~FaceLandmarker() = default;
FaceLandmarker::FaceLandmarker(FaceLandmarker&&) noexcept = default;
FaceLandmarker& FaceLandmarker::operator=(FaceLandmarker&&) noexcept = default;

FaceLandmarker FaceLandmarker::load(const fs::path& dir) {
  try {
    FaceLandmarker l;
    const auto config = read_json_file(dir / "config.json");
    if (config.value("model_type", std::string()) != "face_landmark_68_tiny")
      throw Error(fmt::format("{}: model_type is not \"face_landmark_68_tiny\"", (dir / "config.json").string()),
                  Errc::bad_model);
    l.impl_->net = LandmarkNet();
    face_api::load_weights(*l.impl_->net, dir / "model.safetensors");
    return l;
  } catch (const Error& e) {
    throw Error(fmt::format("face landmarks {}: {}", dir.string(), e.what()), Errc::bad_model);
  }
}

FaceLandmarks FaceLandmarker::detect(const cv::Mat& rgb, const cv::Rect2d& box) const {
  // face-api's Box.clipAtImageBorders, then floor().
  const double x = std::max(box.x, 0.0), y = std::max(box.y, 0.0);
  const double w = std::min(box.x + box.width - x, rgb.cols - x), h = std::min(box.y + box.height - y, rgb.rows - y);
  FaceLandmarks out;
  out.crop = cv::Rect(int(std::floor(x)), int(std::floor(y)), int(std::floor(w)), int(std::floor(h)));
  if (out.crop.width <= 0 || out.crop.height <= 0 || out.crop.x >= rgb.cols || out.crop.y >= rgb.rows)
    throw Error("the face box lies outside the picture", Errc::bad_image);
  const cv::Mat face = rgb(out.crop);
  c10::InferenceMode inference;
  const auto input = face_api::input(face, 112, impl_->mean, /*centred=*/true).contiguous(torch::MemoryFormat::ChannelsLast);
  const auto raw = impl_->net->forward(input).contiguous();
  const float* v = raw.data_ptr<float>();
  // From the 112-pixel square back to the crop, as face-api's postProcess does.
  const float scale = 112.0f / float(std::max(face.rows, face.cols));
  const float sw = face.cols * scale, sh = face.rows * scale;
  const float pad_x = sw < sh ? std::abs(sw - sh) / 2 : 0, pad_y = sh < sw ? std::abs(sw - sh) / 2 : 0;
  for (int i = 0; i < 68; ++i) {
    const float rx = (v[2 * i] * 112.0f - pad_x) / sw, ry = (v[2 * i + 1] * 112.0f - pad_y) / sh;
    out.points[i] = {out.crop.x + double(rx) * face.cols, out.crop.y + double(ry) * face.rows};
  }
  return out;
}

void convert_face_landmarks_tiny(const fs::path& manifest, const fs::path& out_dir) {
  face_api::convert_tfjs(manifest, face_landmarks_tiny_names(), "tiny 68-point landmark net", out_dir,
               {{"model_type", "face_landmark_68_tiny"},
                {"source", "npm @vladmandic/face-api@1.7.15, model/face_landmark_68_tiny_model (MIT)"},
                {"input_size", 112},
                {"mean_rgb", io::kFaceApiFeatureMeanRgb}});
}

void convert_tiny_face_detector(const fs::path& manifest, const fs::path& out_dir) {
  // face-api's constants for this model (src/tinyFaceDetector/const.ts, TinyYolov2Options).
  face_api::convert_tfjs(manifest, tiny_face_detector_names(), "Tiny Face Detector", out_dir,
               {{"model_type", "tiny_face_detector"},
                {"source", "npm @vladmandic/face-api@1.7.15, model/tiny_face_detector_model (MIT)"},
                {"input_size", 416},
                {"score_threshold", 0.5},
                {"iou_threshold", 0.4},
                {"mean_rgb", {117.001, 114.697, 97.404}},
                {"anchors", {{1.603231, 2.094468}, {6.041143, 7.080126}, {2.882459, 3.518061},
                             {4.266906, 5.178857}, {9.041765, 10.66308}}}});
}

}  // namespace emopost::models
