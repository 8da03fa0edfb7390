#include "emopost/models/names.h"

#include <algorithm>
#include <fmt/format.h>

#include "emopost/core/error.h"

namespace emopost::models {

const ArchitectureNames& distilbert_names() {
  static const ArchitectureNames names{
      .model_type = "distilbert",
      .base = "distilbert",
      .stem = {{"word_embeddings", "distilbert.embeddings.word_embeddings"},
               {"position_embeddings", "distilbert.embeddings.position_embeddings"},
               {"embeddings_norm", "distilbert.embeddings.LayerNorm"}},
      .block = {.prefix = "distilbert.transformer.layer.{}.",
                .q = "attention.q_lin",
                .k = "attention.k_lin",
                .v = "attention.v_lin",
                .o = "attention.out_lin",
                .norm1 = "sa_layer_norm",
                .fc1 = "ffn.lin1",
                .fc2 = "ffn.lin2",
                .norm2 = "output_layer_norm"},
      .top = {{"pre_classifier", "pre_classifier"}, {"classifier", "classifier"},
              {"vocab_transform", "vocab_transform"}, {"vocab_layer_norm", "vocab_layer_norm"},
              {"vocab_projector", "vocab_projector"}},  // the last three: DistilBertForMaskedLM's head
      .head = {"pre_classifier", "classifier"},
      .ignored = {"vocab_transform.", "vocab_layer_norm.", "vocab_projector.",
                  "distilbert.embeddings.position_ids"},
  };
  return names;
}

const ArchitectureNames& vit_names() {
  static const ArchitectureNames names{
      .model_type = "vit",
      .base = "vit",
      .stem = {{"cls_token", "vit.embeddings.cls_token"},
               {"position_embeddings", "vit.embeddings.position_embeddings"},
               {"patch_projection", "vit.embeddings.patch_embeddings.projection"}},
      .block = {.prefix = "vit.encoder.layer.{}.",
                .q = "attention.attention.query",
                .k = "attention.attention.key",
                .v = "attention.attention.value",
                .o = "attention.output.dense",
                .norm1 = "layernorm_before",
                .fc1 = "intermediate.dense",
                .fc2 = "output.dense",
                .norm2 = "layernorm_after"},
      .top = {{"final_norm", "vit.layernorm"}, {"classifier", "classifier"}},
      .head = {"classifier"},
      .ignored = {"pooler.", "vit.pooler."},
  };
  return names;
}

const ArchitectureNames& resnet_names() {
  static const ArchitectureNames names{
      .model_type = "resnet",
      .base = "resnet",
      .stem = {{"embedder", "resnet.embedder.embedder"}},
      .block = {.prefix = "resnet.encoder.stages.{}.layers.{}."},
      .top = {{"classifier", "classifier.1"}},  // classifier.0 is transformers' Flatten
      .head = {"classifier."},
      .ignored = {},
  };
  return names;
}

const ArchitectureNames& vit_names_transformers5() {
  static const ArchitectureNames names = [] {
    ArchitectureNames n = vit_names();
    n.block = {.prefix = "vit.layers.{}.",
               .q = "attention.q_proj",
               .k = "attention.k_proj",
               .v = "attention.v_proj",
               .o = "attention.o_proj",
               .norm1 = "layernorm_before",
               .fc1 = "mlp.fc1",
               .fc2 = "mlp.fc2",
               .norm2 = "layernorm_after"};
    return n;
  }();
  return names;
}

const std::vector<std::pair<std::string, std::string>>& tiny_face_detector_names() {
  static const auto names = [] {
    std::vector<std::pair<std::string, std::string>> n{{"conv0/filters", "conv0.weight"}, {"conv0/bias", "conv0.bias"}};
    for (int i = 1; i <= 5; ++i) {
      const auto t = "conv" + std::to_string(i), o = "conv" + std::to_string(i);
      n.push_back({t + "/depthwise_filter", o + ".depthwise.weight"});
      n.push_back({t + "/pointwise_filter", o + ".pointwise.weight"});
      n.push_back({t + "/bias", o + ".bias"});
    }
    n.push_back({"conv8/filters", "head.weight"});
    n.push_back({"conv8/bias", "head.bias"});
    return n;
  }();
  return names;
}

namespace {

// face-api's face feature extractors: `blocks` dense blocks of `convs` convolutions (the first
// block's first one plain, the rest separable), then a dense layer "fc".
std::vector<std::pair<std::string, std::string>> face_feature_names(int blocks, int convs) {
  std::vector<std::pair<std::string, std::string>> n{{"dense0/conv0/filters", "dense0.conv0.weight"},
                                                     {"dense0/conv0/bias", "dense0.conv0.bias"}};
  for (int b = 0; b < blocks; ++b)
    for (int k = b == 0 ? 1 : 0; k < convs; ++k) {
      const auto t = "dense" + std::to_string(b) + "/conv" + std::to_string(k);
      const auto o = "dense" + std::to_string(b) + ".conv" + std::to_string(k);
      n.push_back({t + "/depthwise_filter", o + ".depthwise.weight"});
      n.push_back({t + "/pointwise_filter", o + ".pointwise.weight"});
      n.push_back({t + "/bias", o + ".bias"});
    }
  n.push_back({"fc/weights", "fc.weight"});
  n.push_back({"fc/bias", "fc.bias"});
  return n;
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& face_landmarks_tiny_names() {
  static const auto names = face_feature_names(3, 3);
  return names;
}

const std::vector<std::pair<std::string, std::string>>& face_expression_names() {
  static const auto names = face_feature_names(4, 4);
  return names;
}

const std::vector<std::pair<std::string, std::string>>& faceres_names() {
  static const auto names = [] {
    // Keras' MobileNet layer names, as the frozen graph keeps them: a pointwise convolution's batch
    // norm is merged into its filter ("merged_input") and shift ("_bn/.../sub"); a depthwise one's
    // scale is a separate Mul, which the converter folds into the filter.
    std::vector<std::pair<std::string, std::string>> n{{"conv1/convolution/merged_input", "conv1.weight"},
                                                       {"conv1_bn/batchnorm_1/sub", "conv1.bias"}};
    for (int i = 1; i <= 13; ++i) {
      const auto k = std::to_string(i), o = "blocks." + std::to_string(i - 1);
      n.push_back({"conv_dw_" + k + "/depthwise_kernel", o + ".depthwise.weight"});
      n.push_back({"conv_dw_" + k + "_bn/batchnorm_1/sub", o + ".depthwise.bias"});
      n.push_back({"conv_pw_" + k + "/convolution/merged_input", o + ".pointwise.weight"});
      n.push_back({"conv_pw_" + k + "_bn/batchnorm_1/sub", o + ".pointwise.bias"});
    }
    for (const char* dense : {"feats", "age_pred", "gender_pred"}) {
      const std::string o = std::string(dense).substr(0, std::string(dense).find('_'));
      n.push_back({std::string(dense) + "/kernel", o + ".weight"});
      n.push_back({std::string(dense) + "/bias", o + ".bias"});
    }
    return n;
  }();
  return names;
}

const std::string& ArchitectureNames::name(const std::string& role) const {
  for (const auto* list : {&stem, &top})
    for (const auto& [r, n] : *list)
      if (r == role) return n;
  throw Error(fmt::format("{}: no module role '{}'", model_type, role));
}

std::string ArchitectureNames::block_name(int layer, const std::string& role_name) const {
  return fmt::format(fmt::runtime(block.prefix), layer) + role_name;
}

namespace {

// Every module path of an architecture, role by role, so two namings can be zipped together.
std::vector<std::string> module_paths(const ArchitectureNames& n, int num_layers) {
  std::vector<std::string> paths;
  for (const auto& [role, name] : n.stem) paths.push_back(name);
  for (int i = 0; i < num_layers; ++i)
    for (const auto* r : {&n.block.q, &n.block.k, &n.block.v, &n.block.o, &n.block.norm1,
                          &n.block.fc1, &n.block.fc2, &n.block.norm2})
      paths.push_back(n.block_name(i, *r));
  for (const auto& [role, name] : n.top) paths.push_back(name);
  return paths;
}

bool starts_with_path(const std::string& key, const std::string& path) {
  return key.size() >= path.size() && key.compare(0, path.size(), path) == 0 &&
         (key.size() == path.size() || key[path.size()] == '.');
}

}  // namespace

std::optional<std::string> canonical_key(const std::string& key, const ArchitectureNames& names,
                                         const ArchitectureNames* alt, int num_layers,
                                         const std::vector<std::string>& canonical_keys) {
  auto known = [&](const std::string& k) {
    return std::find(canonical_keys.begin(), canonical_keys.end(), k) != canonical_keys.end();
  };
  std::vector<std::string> candidates{key, names.base + "." + key};
  if (alt) {
    auto from = module_paths(*alt, num_layers);
    auto to = module_paths(names, num_layers);
    for (const auto& k : std::vector<std::string>(candidates))
      for (size_t i = 0; i < from.size(); ++i)
        if (starts_with_path(k, from[i])) candidates.push_back(to[i] + k.substr(from[i].size()));
  }
  for (const auto& c : candidates)
    if (known(c)) return c;
  return std::nullopt;
}

}  // namespace emopost::models
