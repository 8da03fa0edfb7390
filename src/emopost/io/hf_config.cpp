#include "emopost/io/hf_config.h"

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "emopost/core/error.h"

namespace emopost::io {

namespace {

using json = nlohmann::json;

// Takes the keys this code models out of a copy of the input; whatever is left becomes `extra`,
// which is how unknown keys survive a load/save round trip untouched.
class Reader {
 public:
  Reader(const json& j, std::string what) : what_(std::move(what)) {
    if (!j.is_object()) fail("", fmt::format("expected a JSON object, got {}", j.type_name()));
    rest_ = j;
  }

  [[noreturn]] void fail(std::string_view key, const std::string& why) const {
    if (key.empty()) throw Error(fmt::format("{}: {}", what_, why));
    throw Error(fmt::format("{}: key '{}': {}", what_, key, why));
  }

  std::optional<json> take(const std::string& key) {
    auto it = rest_.find(key);
    if (it == rest_.end()) return std::nullopt;
    json v = std::move(*it);
    rest_.erase(it);
    return v;
  }

  // Reads `key` or one of its aliases (transformers' attribute_map); two spellings with
  // different values are ambiguous, so they are an error rather than a silent pick.
  std::optional<std::pair<std::string, json>> take_any(const std::string& key,
                                                       std::initializer_list<const char*> aliases) {
    std::optional<std::pair<std::string, json>> found;
    auto consider = [&](const std::string& name) {
      auto v = take(name);
      if (!v) return;
      if (found && found->second != *v)
        fail(name, fmt::format("conflicts with '{}' ({} vs {})", found->first, v->dump(),
                               found->second.dump()));
      if (!found) found.emplace(name, std::move(*v));
    };
    consider(key);
    for (const char* a : aliases) consider(a);
    return found;
  }

  int to_int(const std::string& key, const json& v) const {
    if (!v.is_number_integer()) fail(key, fmt::format("expected an integer, got {}", v.type_name()));
    if (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(INT_MAX)
                               : v.get<int64_t>() < INT_MIN || v.get<int64_t>() > INT_MAX)
      fail(key, fmt::format("{} is out of the int range", v.dump()));
    return static_cast<int>(v.get<int64_t>());
  }
  double to_double(const std::string& key, const json& v) const {
    if (!v.is_number()) fail(key, fmt::format("expected a number, got {}", v.type_name()));
    return v.get<double>();
  }

  void get(int& out, const std::string& key, std::initializer_list<const char*> aliases = {}) {
    if (auto f = take_any(key, aliases)) out = to_int(f->first, f->second);
  }
  void get(double& out, const std::string& key) {
    if (auto v = take(key)) out = to_double(key, *v);
  }
  void get(bool& out, const std::string& key) {
    if (auto v = take(key)) {
      if (!v->is_boolean()) fail(key, fmt::format("expected a boolean, got {}", v->type_name()));
      out = v->get<bool>();
    }
  }
  void get(std::vector<int>& out, const std::string& key) {
    auto v = take(key);
    if (!v) return;
    if (!v->is_array() || v->empty())
      fail(key, fmt::format("expected a non-empty array of integers, got {}", v->dump()));
    out.clear();
    for (const json& x : *v) out.push_back(to_int(key, x));
  }
  // One number per colour channel.
  void get_three(std::vector<double>& out, const std::string& key) {
    auto v = take(key);
    if (!v) return;
    if (!v->is_array() || v->size() != 3) fail(key, "expected 3 numbers");
    out.clear();
    for (const json& x : *v) out.push_back(to_double(key, x));
  }
  void get(std::string& out, const std::string& key) {
    if (auto v = take(key)) {
      if (!v->is_string()) fail(key, fmt::format("expected a string, got {}", v->type_name()));
      out = v->get<std::string>();
    }
  }

  // A config saved for the other model family would load "fine" with every size defaulted.
  void expect_model_type(const std::string& expected) {
    std::string mt = expected;
    get(mt, "model_type");
    if (mt != expected) fail("model_type", fmt::format("is '{}', expected '{}'", mt, expected));
  }

  // id2label wins over num_labels (as in transformers); label2id is derived on save.
  std::vector<std::string> labels() {
    auto id2label = take("id2label");
    take("label2id");
    auto num = take("num_labels");
    std::optional<int> n;
    if (num && !num->is_null()) {
      n = to_int("num_labels", *num);
      if (*n < 0) fail("num_labels", fmt::format("{} is negative", *n));
    }
    std::vector<std::string> out;
    if (!id2label || id2label->is_null()) {
      for (int i = 0; i < n.value_or(0); ++i) out.push_back(fmt::format("LABEL_{}", i));
      return out;
    }
    if (!id2label->is_object())
      fail("id2label", fmt::format("expected an object, got {}", id2label->type_name()));
    const size_t count = id2label->size();
    std::vector<std::optional<std::string>> slots(count);
    for (const auto& [k, v] : id2label->items()) {
      size_t idx = 0;
      auto [p, ec] = std::from_chars(k.data(), k.data() + k.size(), idx);
      // Only canonical "0".."n-1": "01" or "1.0" would alias another id.
      if (ec != std::errc() || p != k.data() + k.size() || std::to_string(idx) != k ||
          idx >= count)
        fail("id2label", fmt::format("keys must be \"0\"..\"{}\" without gaps, found \"{}\"",
                                     count - 1, k));
      if (!v.is_string())
        fail("id2label", fmt::format("value for \"{}\" is {}, expected a string", k, v.type_name()));
      slots[idx] = v.get<std::string>();
    }
    std::set<std::string> seen;
    for (auto& s : slots) {
      // label2id would silently drop one of two equal names.
      if (!seen.insert(*s).second) fail("id2label", fmt::format("label '{}' appears twice", *s));
      out.push_back(std::move(*s));
    }
    if (n && *n != static_cast<int>(out.size()))
      fail("num_labels", fmt::format("{} disagrees with id2label ({} entries)", *n, out.size()));
    return out;
  }

  json rest() && { return std::move(rest_); }

 private:
  json rest_;
  std::string what_;
};

json base_of(const json& extra) { return extra.is_object() ? extra : json::object(); }

// The keys of the face nets that undo their preprocessor themselves: grey or RGB input, and the
// (mean, std) they undo to see pixels in 0..1 again.
void get_pixel_keys(Reader& r, int& num_channels, double& pixel_mean, double& pixel_std) {
  r.get(num_channels, "num_channels");
  r.get(pixel_mean, "pixel_mean");
  r.get(pixel_std, "pixel_std");
  if (num_channels != 1 && num_channels != 3) r.fail("num_channels", "must be 1 (grey) or 3 (RGB)");
  if (!(pixel_std > 0)) r.fail("pixel_std", "must be positive");
}

void put_pixel_keys(json& j, int num_channels, double pixel_mean, double pixel_std) {
  j["num_channels"] = num_channels;
  j["pixel_mean"] = pixel_mean;
  j["pixel_std"] = pixel_std;
}

void put_labels(json& j, const std::vector<std::string>& labels, const char* architecture) {
  if (labels.empty()) return;
  json id2label = json::object(), label2id = json::object();
  for (size_t i = 0; i < labels.size(); ++i) {
    id2label[std::to_string(i)] = labels[i];
    label2id[labels[i]] = static_cast<int>(i);
  }
  j["id2label"] = std::move(id2label);
  j["label2id"] = std::move(label2id);
  j["architectures"] = json::array({architecture});
}

}  // namespace

DistilBertConfig DistilBertConfig::from_json(const nlohmann::json& j) {
  DistilBertConfig c;
  Reader r(j, "DistilBERT config");
  r.expect_model_type("distilbert");
  r.get(c.vocab_size, "vocab_size");
  r.get(c.max_position_embeddings, "max_position_embeddings");
  r.get(c.sinusoidal_pos_embds, "sinusoidal_pos_embds");
  r.get(c.n_layers, "n_layers", {"num_hidden_layers"});
  r.get(c.n_heads, "n_heads", {"num_attention_heads"});
  r.get(c.dim, "dim", {"hidden_size"});
  r.get(c.hidden_dim, "hidden_dim");
  r.get(c.dropout, "dropout");
  r.get(c.attention_dropout, "attention_dropout");
  r.get(c.activation, "activation");
  r.get(c.initializer_range, "initializer_range");
  r.get(c.seq_classif_dropout, "seq_classif_dropout");
  r.get(c.pad_token_id, "pad_token_id");
  c.id2label = r.labels();
  c.extra = std::move(r).rest();
  return c;
}

nlohmann::json DistilBertConfig::to_json() const {
  json j = base_of(extra);
  j["vocab_size"] = vocab_size;
  j["max_position_embeddings"] = max_position_embeddings;
  j["sinusoidal_pos_embds"] = sinusoidal_pos_embds;
  j["n_layers"] = n_layers;
  j["n_heads"] = n_heads;
  j["dim"] = dim;
  j["hidden_dim"] = hidden_dim;
  j["dropout"] = dropout;
  j["attention_dropout"] = attention_dropout;
  j["activation"] = activation;
  j["initializer_range"] = initializer_range;
  j["seq_classif_dropout"] = seq_classif_dropout;
  j["pad_token_id"] = pad_token_id;
  j["model_type"] = "distilbert";
  put_labels(j, id2label, "DistilBertForSequenceClassification");
  return j;
}

ViTConfig ViTConfig::from_json(const nlohmann::json& j) {
  ViTConfig c;
  Reader r(j, "ViT config");
  r.expect_model_type("vit");
  r.get(c.hidden_size, "hidden_size");
  r.get(c.num_hidden_layers, "num_hidden_layers");
  r.get(c.num_attention_heads, "num_attention_heads");
  r.get(c.intermediate_size, "intermediate_size");
  r.get(c.hidden_act, "hidden_act");
  r.get(c.hidden_dropout_prob, "hidden_dropout_prob");
  r.get(c.attention_probs_dropout_prob, "attention_probs_dropout_prob");
  r.get(c.initializer_range, "initializer_range");
  r.get(c.layer_norm_eps, "layer_norm_eps");
  r.get(c.image_size, "image_size");
  r.get(c.patch_size, "patch_size");
  r.get(c.num_channels, "num_channels");
  r.get(c.qkv_bias, "qkv_bias");
  c.id2label = r.labels();
  c.extra = std::move(r).rest();
  return c;
}

nlohmann::json ViTConfig::to_json() const {
  json j = base_of(extra);
  j["hidden_size"] = hidden_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["intermediate_size"] = intermediate_size;
  j["hidden_act"] = hidden_act;
  j["hidden_dropout_prob"] = hidden_dropout_prob;
  j["attention_probs_dropout_prob"] = attention_probs_dropout_prob;
  j["initializer_range"] = initializer_range;
  j["layer_norm_eps"] = layer_norm_eps;
  j["image_size"] = image_size;
  j["patch_size"] = patch_size;
  j["num_channels"] = num_channels;
  j["qkv_bias"] = qkv_bias;
  j["model_type"] = "vit";
  put_labels(j, id2label, "ViTForImageClassification");
  return j;
}

ResNetConfig ResNetConfig::from_json(const nlohmann::json& j) {
  ResNetConfig c;
  Reader r(j, "ResNet config");
  r.expect_model_type("resnet");
  r.get(c.num_channels, "num_channels");
  r.get(c.embedding_size, "embedding_size");
  r.get(c.hidden_sizes, "hidden_sizes");
  r.get(c.depths, "depths");
  r.get(c.layer_type, "layer_type");
  r.get(c.hidden_act, "hidden_act");
  r.get(c.downsample_in_first_stage, "downsample_in_first_stage");
  r.get(c.downsample_in_bottleneck, "downsample_in_bottleneck");
  if (c.hidden_sizes.size() != c.depths.size())
    r.fail("depths", fmt::format("has {} stages but hidden_sizes has {}", c.depths.size(),
                                 c.hidden_sizes.size()));
  c.id2label = r.labels();
  c.extra = std::move(r).rest();
  return c;
}

nlohmann::json ResNetConfig::to_json() const {
  json j = base_of(extra);
  j["num_channels"] = num_channels;
  j["embedding_size"] = embedding_size;
  j["hidden_sizes"] = hidden_sizes;
  j["depths"] = depths;
  j["layer_type"] = layer_type;
  j["hidden_act"] = hidden_act;
  j["downsample_in_first_stage"] = downsample_in_first_stage;
  j["downsample_in_bottleneck"] = downsample_in_bottleneck;
  j["model_type"] = "resnet";
  put_labels(j, id2label, "ResNetForImageClassification");
  return j;
}

FaceExpressionConfig FaceExpressionConfig::from_json(const nlohmann::json& j) {
  FaceExpressionConfig c;
  Reader r(j, "face expression config");
  r.expect_model_type("face_expression");
  get_pixel_keys(r, c.num_channels, c.pixel_mean, c.pixel_std);
  r.get(c.input_size, "input_size");
  r.get_three(c.mean_rgb, "mean_rgb");
  if (c.input_size < 16 || c.input_size > 1024 || c.input_size % 16)
    r.fail("input_size", "must be a multiple of 16 from 16 to 1024");
  c.id2label = r.labels();
  c.extra = std::move(r).rest();
  return c;
}

nlohmann::json FaceExpressionConfig::to_json() const {
  json j = base_of(extra);
  put_pixel_keys(j, num_channels, pixel_mean, pixel_std);
  j["input_size"] = input_size;
  j["mean_rgb"] = mean_rgb;
  j["model_type"] = "face_expression";
  put_labels(j, id2label, "FaceExpressionNet");
  return j;
}

FaceResConfig FaceResConfig::from_json(const nlohmann::json& j) {
  FaceResConfig c;
  Reader r(j, "faceres config");
  r.expect_model_type("faceres");
  get_pixel_keys(r, c.num_channels, c.pixel_mean, c.pixel_std);
  r.get(c.image_size, "image_size");
  r.get(c.hidden_size, "hidden_size");
  r.get_three(c.input_mean_bgr, "input_mean_bgr");
  r.get(c.age_gender_heads, "age_gender_heads");
  r.get(c.classifier_dropout, "classifier_dropout");
  // The body pools whatever side it is given; preprocessor_config.json decides the side.
  if (c.image_size != 0) r.fail("image_size", "must be 0: faceres takes any side");
  if (c.hidden_size != 1024) r.fail("hidden_size", "must be 1024, the width of faceres's MobileNet-v1 body");
  if (c.classifier_dropout < 0 || c.classifier_dropout >= 1) r.fail("classifier_dropout", "must be in [0, 1)");
  c.id2label = r.labels();
  c.extra = std::move(r).rest();
  return c;
}

nlohmann::json FaceResConfig::to_json() const {
  json j = base_of(extra);
  put_pixel_keys(j, num_channels, pixel_mean, pixel_std);
  j["image_size"] = image_size;
  j["hidden_size"] = hidden_size;
  j["input_mean_bgr"] = input_mean_bgr;
  j["age_gender_heads"] = age_gender_heads;
  j["classifier_dropout"] = classifier_dropout;
  j["model_type"] = "faceres";
  put_labels(j, id2label, "FaceResForImageClassification");
  return j;
}

std::string model_type_of(const nlohmann::json& config) {
  auto it = config.is_object() ? config.find("model_type") : config.end();
  return it != config.end() && it->is_string() ? it->get<std::string>() : "";
}

ImageProcessorConfig ImageProcessorConfig::from_json(const nlohmann::json& j) {
  ImageProcessorConfig c;
  Reader r(j, "image processor config");
  r.get(c.do_resize, "do_resize");
  r.get(c.do_rescale, "do_rescale");
  r.get(c.do_normalize, "do_normalize");
  r.get(c.rescale_factor, "rescale_factor");
  for (auto [key, out] :
       {std::pair{"image_mean", &c.image_mean}, std::pair{"image_std", &c.image_std}}) {
    auto v = r.take(key);
    if (!v) continue;
    // transformers accepts one number for all channels as well as a per-channel list.
    if (v->is_number()) {
      out->assign(3, v->get<double>());
      continue;
    }
    if (!v->is_array() || v->empty())
      r.fail(key, fmt::format("expected a non-empty array of numbers, got {}", v->type_name()));
    out->clear();
    for (const json& x : *v) out->push_back(r.to_double(key, x));
  }
  if (auto size = r.take("size")) {
    // An int means a square (transformers' get_size_dict with default_to_square). ViT resizes
    // to a fixed square, so a lone shortest_edge is read as that square too.
    if (size->is_number_integer()) {
      c.height = c.width = r.to_int("size", *size);
    } else if (!size->is_object()) {
      r.fail("size", fmt::format("expected an object, got {}", size->type_name()));
    } else if (size->contains("height") && size->contains("width")) {
      c.height = r.to_int("size.height", size->at("height"));
      c.width = r.to_int("size.width", size->at("width"));
    } else if (size->contains("shortest_edge")) {
      c.height = c.width = r.to_int("size.shortest_edge", size->at("shortest_edge"));
    } else {
      r.fail("size", "expected {\"height\", \"width\"} or {\"shortest_edge\"}");
    }
    if (c.height <= 0 || c.width <= 0)
      r.fail("size", fmt::format("{}x{} is not a positive size", c.height, c.width));
  }
  std::string type;
  r.get(type, "image_processor_type");  // rewritten on save; only its type is checked
  c.extra = std::move(r).rest();
  return c;
}

nlohmann::json ImageProcessorConfig::to_json() const {
  json j = base_of(extra);
  j["do_resize"] = do_resize;
  j["do_rescale"] = do_rescale;
  j["do_normalize"] = do_normalize;
  j["rescale_factor"] = rescale_factor;
  j["image_mean"] = image_mean;
  j["image_std"] = image_std;
  j["size"] = {{"height", height}, {"width", width}};
  j["image_processor_type"] = "ViTImageProcessor";
  return j;
}

}  // namespace emopost::io
