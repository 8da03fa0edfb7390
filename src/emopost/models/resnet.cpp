#include "emopost/models/resnet.h"

#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/models/names.h"
#include "emopost/models/transformer.h"  // place()

namespace emopost::models {

namespace nn = torch::nn;

torch::Tensor ResNetImpl::ConvLayer::forward(const torch::Tensor& x, bool prepared) {
  auto y = prepared ? at::mkldnn_convolution(x, folded_weight, folded_bias, {padding, padding}, {stride, stride}, {1, 1}, 1)
                    : norm(conv(x));
  return activation ? torch::relu(y) : y;
}

ResNetImpl::ConvLayer ResNetImpl::conv_layer(const std::string& path, int64_t in, int64_t out,
                                             int64_t kernel, int64_t stride, bool activation) {
  ConvLayer c;
  c.activation = activation;
  c.stride = stride, c.padding = kernel / 2;  // transformers pads kernel // 2
  c.conv = place(*this, path + ".convolution",
                 nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(c.padding).bias(false)));
  c.norm = place(*this, path + ".normalization", nn::BatchNorm2d(out));
  return c;
}

ResNetImpl::ResNetImpl(io::ResNetConfig config) : config_(std::move(config)) {
  const auto& c = config_;
  if (c.layer_type != "basic" && c.layer_type != "bottleneck")
    throw Error("resnet: layer_type must be \"basic\" or \"bottleneck\", got \"" + c.layer_type + "\"");
  if (c.hidden_act != "relu")
    throw Error("resnet: only hidden_act \"relu\" is supported, got \"" + c.hidden_act + "\"");
  if (c.hidden_sizes.empty() || c.hidden_sizes.size() != c.depths.size())
    throw Error("resnet: hidden_sizes and depths must name the same, non-zero number of stages");
  if (c.num_labels() == 0) throw Error("resnet: config has no labels (id2label is empty)");
  const auto& names = resnet_names();
  stem_ = conv_layer(names.name("embedder"), c.num_channels, c.embedding_size, 7, 2, true);

  int64_t in = c.embedding_size;
  for (size_t s = 0; s < c.depths.size(); ++s) {
    const int64_t out = c.hidden_sizes[s];
    for (int l = 0; l < c.depths[s]; ++l) {
      // Each stage downsamples in its first layer, the first stage only when asked to.
      const int64_t stride = l == 0 && (s > 0 || c.downsample_in_first_stage) ? 2 : 1;
      auto path = fmt::format(fmt::runtime(names.block.prefix), s, l);
      Residual r;
      if (in != out || stride != 1) r.shortcut = conv_layer(path + "shortcut", in, out, 1, stride, false);
      if (c.layer_type == "basic") {
        r.layer.push_back(conv_layer(path + "layer.0", in, out, 3, stride, true));
        r.layer.push_back(conv_layer(path + "layer.1", out, out, 3, 1, false));
      } else {
        // transformers' v1.5 bottleneck strides in the 3x3 conv; downsample_in_bottleneck moves
        // the stride to the first 1x1 conv (the original v1).
        const int64_t reduced = out / 4;
        const bool first = c.downsample_in_bottleneck;
        r.layer.push_back(conv_layer(path + "layer.0", in, reduced, 1, first ? stride : 1, true));
        r.layer.push_back(conv_layer(path + "layer.1", reduced, reduced, 3, first ? 1 : stride, true));
        r.layer.push_back(conv_layer(path + "layer.2", reduced, out, 1, 1, false));
      }
      layers_.push_back(std::move(r));
      in = out;
    }
  }
  classifier_ = place(*this, names.name("classifier"), nn::Linear(in, c.num_labels()));
  init_weights();
}

void ResNetImpl::init_weights() {
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    }
  }
  init_head_weights();
}

void ResNetImpl::init_head_weights() { classifier_->reset_parameters(); }  // torch's default, as in transformers

void ResNetImpl::ConvLayer::fold() {
  torch::NoGradGuard no_grad;
  auto scale = norm->weight / torch::sqrt(norm->running_var + norm->options.eps());
  auto w = (conv->weight * scale.view({-1, 1, 1, 1})).contiguous();
  folded_weight = at::mkldnn_reorder_conv2d_weight(w.to_mkldnn(), {padding, padding}, {stride, stride}, {1, 1}, 1);
  folded_bias = (norm->bias - norm->running_mean * scale).contiguous().to_mkldnn();
}

void ResNetImpl::prepare_inference() {
  prepared_ = false;
  if (!at::hasMKLDNN() || classifier_->weight.scalar_type() != torch::kFloat) return;
  stem_.fold();
  for (auto& r : layers_) {
    for (auto& conv : r.layer) conv.fold();
    if (r.shortcut) r.shortcut->fold();
  }
  prepared_ = true;
}

torch::Tensor ResNetImpl::forward(const torch::Tensor& pixels) {
  const auto& c = config_;
  if (pixels.dim() != 4 || pixels.size(1) != c.num_channels || pixels.size(2) < 32 || pixels.size(3) < 32)
    throw Error(fmt::format("resnet: expected pixel_values [B, {}, H>=32, W>=32], got {}", c.num_channels,
                            c10::str(pixels.sizes())));
  const bool prepared = prepared_ && !is_training() && pixels.device().is_cpu();
  auto x = torch::max_pool2d(stem_.forward(prepared ? pixels.contiguous().to_mkldnn() : pixels, prepared), 3, 2, 1);
  for (auto& r : layers_) {
    auto y = x;
    for (auto& conv : r.layer) y = conv.forward(y, prepared);
    x = torch::relu(y + (r.shortcut ? r.shortcut->forward(x, prepared) : x));
  }
  auto pooled = torch::adaptive_avg_pool2d(x, {1, 1});
  return classifier_((prepared ? pooled.to_dense() : pooled).flatten(1));
}

}  // namespace emopost::models
