#include "emopost/models/checkpoint.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "emopost/core/error.h"

namespace emopost::models {

namespace {

torch::ScalarType scalar_type(io::DType t) {
  switch (t) {
    case io::DType::F32: return torch::kFloat;
    case io::DType::F16: return torch::kHalf;
    case io::DType::BF16: return torch::kBFloat16;
    case io::DType::I64: return torch::kLong;
    case io::DType::I32: return torch::kInt;
    case io::DType::U8: return torch::kByte;
  }
  throw Error("unknown dtype");
}

io::DType dtype_of(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat: return io::DType::F32;
    case torch::kHalf: return io::DType::F16;
    case torch::kBFloat16: return io::DType::BF16;
    case torch::kLong: return io::DType::I64;
    case torch::kInt: return io::DType::I32;
    case torch::kByte: return io::DType::U8;
    default: throw Error(std::string("safetensors: cannot store dtype ") + c10::toString(t));
  }
}

}  // namespace

torch::ScalarType stored_float_dtype(const std::filesystem::path& file) {
  const auto st = io::SafetensorsFile::open(file);  // named: tensors() refers into it
  for (const auto& view : st.tensors()) {
    auto t = scalar_type(view.dtype);
    if (c10::isFloatingType(t)) return t;
  }
  return torch::kFloat;
}

namespace {

std::string join(const std::vector<std::string>& keys, size_t most = 20) {
  std::string s;
  for (size_t i = 0; i < keys.size() && i < most; ++i) s += (i ? ", " : "") + keys[i];
  if (keys.size() > most) s += fmt::format(", ... ({} in all)", keys.size());
  return s;
}

bool has_prefix(const std::string& key, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (key.rfind(p, 0) == 0) return true;
  return false;
}

}  // namespace

torch::Tensor to_tensor(const io::TensorView& view) {
  auto options = torch::TensorOptions().dtype(scalar_type(view.dtype));
  if (view.nbytes == 0) return torch::empty(view.shape, options);
  return torch::from_blob(const_cast<std::byte*>(view.data), view.shape, options).clone();
}

std::map<std::string, torch::Tensor> load_tensors(const std::filesystem::path& file) {
  auto st = io::SafetensorsFile::open(file);
  std::map<std::string, torch::Tensor> out;
  for (const auto& view : st.tensors()) out.emplace(view.name, to_tensor(view));
  return out;
}

void save_tensors(const std::filesystem::path& file,
                  const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                  torch::ScalarType float_dtype) {
  std::vector<torch::Tensor> keep;  // owns the bytes the views point into
  std::vector<io::TensorView> views;
  for (const auto& [name, t] : tensors) {
    auto c = t.detach().to(torch::kCPU);
    if (c.is_floating_point()) c = c.to(float_dtype);
    c = c.contiguous();
    keep.push_back(c);
    views.push_back({name, dtype_of(c.scalar_type()),
                     std::vector<int64_t>(c.sizes().begin(), c.sizes().end()),
                     static_cast<const std::byte*>(c.data_ptr()), c.nbytes()});
  }
  io::write_safetensors(file, views);
}

std::string LoadReport::summary() const {
  std::string s;
  if (!initialized.empty())
    s += "newly initialized (not in the checkpoint): " + join(initialized) +
         "; train this model on a down-stream task before using it for predictions";
  if (!ignored.empty()) s += (s.empty() ? "" : "; ") + std::string("unused checkpoint keys: ") + join(ignored);
  return s;
}

LoadReport load_state(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors,
                      const ArchitectureNames& names, const ArchitectureNames* alt, int num_layers,
                      const std::string& origin, bool fresh_head) {
  // Parameters and buffers (ResNet's BatchNorm statistics) alike are checkpoint keys.
  std::map<std::string, torch::Tensor> params;
  std::vector<std::string> canonical;
  for (const auto& p : module.named_parameters()) params[p.key()] = p.value(), canonical.push_back(p.key());
  for (const auto& b : module.named_buffers()) params[b.key()] = b.value(), canonical.push_back(b.key());

  LoadReport report;
  std::vector<std::string> unexpected, mismatched;
  std::map<std::string, const torch::Tensor*> found;
  for (const auto& [key, tensor] : tensors) {
    auto name = canonical_key(key, names, alt, num_layers, canonical);
    if (!name) {
      (has_prefix(key, names.ignored) ? report.ignored : unexpected).push_back(key);
      continue;
    }
    if (fresh_head && has_prefix(*name, names.head)) {
      report.ignored.push_back(key);
      continue;
    }
    const auto& target = params.at(*name);
    if (target.sizes() != tensor.sizes())
      mismatched.push_back(fmt::format("{} (checkpoint {}, model {})", key, c10::str(tensor.sizes()),
                                       c10::str(target.sizes())));
    found[*name] = &tensor;
  }
  std::vector<std::string> missing;
  for (const auto& name : canonical) {
    // transformers' own loader tolerates checkpoints without BatchNorm's step counter.
    if (found.count(name) || name.ends_with(".num_batches_tracked")) continue;
    (has_prefix(name, names.head) ? report.initialized : missing).push_back(name);
  }

  std::sort(report.initialized.begin(), report.initialized.end());
  std::sort(report.ignored.begin(), report.ignored.end());
  std::string problems;
  if (!missing.empty()) problems += "\n  missing keys: " + join(missing);
  if (!unexpected.empty()) problems += "\n  unexpected keys: " + join(unexpected);
  if (!mismatched.empty()) problems += "\n  shape mismatches: " + join(mismatched);
  if (!problems.empty())
    throw Error(fmt::format("{}: checkpoint does not fit the {} model:{}", origin, names.model_type,
                            problems));

  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : found) params.at(name).copy_(*tensor);
  return report;
}

namespace {

template <typename Model, typename Config>
Model load_model(const std::filesystem::path& dir, const LoadOptions& options, LoadReport* report,
                 const ArchitectureNames& names, const ArchitectureNames* alt,
                 int Config::*num_layers) {
  auto json = read_json_file(dir / "config.json");
  auto config = Config::from_json(json);
  bool fresh_head = false;
  if (options.labels) {
    fresh_head = options.labels->size() != config.id2label.size();
    config.id2label = *options.labels;
  }
  Model model(config);
  auto file = dir / "model.safetensors";
  auto r = load_state(*model, load_tensors(file), names, alt, num_layers ? config.*num_layers : 0, file.string(),
                      fresh_head);
  if (!r.initialized.empty() || !r.ignored.empty()) spdlog::info("{}: {}", dir.string(), r.summary());
  if (report) *report = r;
  model->eval();
  return model;
}

void save_model(torch::nn::Module& module, const nlohmann::json& config,
                const std::filesystem::path& dir, torch::ScalarType float_dtype,
                std::vector<std::pair<std::string, torch::Tensor>> tensors = {}) {
  for (const auto& p : module.named_parameters()) tensors.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers()) tensors.emplace_back(b.key(), b.value());
  save_folder(dir, tensors, config, float_dtype);
}

}  // namespace

void save_folder(const std::filesystem::path& dir, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                 nlohmann::json config, torch::ScalarType float_dtype) {
  std::filesystem::create_directories(dir);
  config["dtype"] = float_dtype == torch::kHalf ? "float16" : "float32";
  save_tensors(dir / "model.safetensors.tmp", tensors, float_dtype);
  std::filesystem::rename(dir / "model.safetensors.tmp", dir / "model.safetensors");
  write_json_file(dir / "config.json", config);
}

DistilBert load_distilbert(const std::filesystem::path& dir, const LoadOptions& options,
                           LoadReport* report) {
  return load_model<DistilBert, io::DistilBertConfig>(dir, options, report, distilbert_names(),
                                                      nullptr, &io::DistilBertConfig::n_layers);
}

ViT load_vit(const std::filesystem::path& dir, const LoadOptions& options, LoadReport* report) {
  return load_model<ViT, io::ViTConfig>(dir, options, report, vit_names(),
                                        &vit_names_transformers5(),
                                        &io::ViTConfig::num_hidden_layers);
}

ResNet load_resnet(const std::filesystem::path& dir, const LoadOptions& options, LoadReport* report) {
  return load_model<ResNet, io::ResNetConfig>(dir, options, report, resnet_names(), nullptr, nullptr);
}

void save_pretrained(ResNet& model, const std::filesystem::path& dir, torch::ScalarType float_dtype) {
  save_model(*model, model->config().to_json(), dir, float_dtype);
}

void save_pretrained(DistilBert& model, const std::filesystem::path& dir,
                     torch::ScalarType float_dtype) {
  auto json = model->config().to_json();
  if (model->head() == DistilBertImpl::Head::classification) return save_model(*model, json, dir, float_dtype);
  // As transformers publishes DistilBertForMaskedLM: the tied projector weight is written too.
  json["architectures"] = nlohmann::json::array({"DistilBertForMaskedLM"});
  const auto& names = distilbert_names();
  auto words = model->named_parameters()[names.name("word_embeddings") + ".weight"];
  save_model(*model, json, dir, float_dtype, {{names.name("vocab_projector") + ".weight", words}});
}

DistilBert load_distilbert_masked_lm(const std::filesystem::path& dir) {
  auto config = io::DistilBertConfig::from_json(read_json_file(dir / "config.json"));
  DistilBert model(config, DistilBertImpl::Head::masked_lm);
  auto file = dir / "model.safetensors";
  auto tensors = load_tensors(file);
  const auto projector = distilbert_names().name("vocab_projector") + ".weight";
  if (!tensors.count(projector)) throw Error(file.string() + ": not a masked-LM checkpoint (no " + projector + ")");
  load_state(*model, tensors, distilbert_names(), nullptr, config.n_layers, file.string(), false);
  model->eval();
  return model;
}

void save_pretrained(ViT& model, const std::filesystem::path& dir, torch::ScalarType float_dtype) {
  save_model(*model, model->config().to_json(), dir, float_dtype);
}

}  // namespace emopost::models
