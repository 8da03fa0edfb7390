#pragma once
// Hugging Face checkpoint folders (config.json + model.safetensors) in and out of the models.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "emopost/io/safetensors.h"
#include "emopost/models/distilbert.h"
#include "emopost/models/resnet.h"
#include "emopost/models/vit.h"

namespace emopost::models {

// safetensors <-> torch. Loaded tensors are copied out of the mapping; F16/BF16 are kept as is.
torch::Tensor to_tensor(const io::TensorView& view);
std::map<std::string, torch::Tensor> load_tensors(const std::filesystem::path& file);
// Writes float tensors as `float_dtype` (kFloat, kHalf or kBFloat16); other dtypes unchanged.
void save_tensors(const std::filesystem::path& file,
                  const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                  torch::ScalarType float_dtype = torch::kFloat);

// The float dtype a safetensors file stores its weights in (kFloat when it holds none), read from
// its header alone.
torch::ScalarType stored_float_dtype(const std::filesystem::path& file);

struct LoadReport {
  std::vector<std::string> initialized;  // head keys missing from the checkpoint, drawn fresh
  std::vector<std::string> ignored;      // keys of other heads (MLM, pooler), left unused
  std::string summary() const;           // one line, as transformers reports it
};

struct LoadOptions {
  // Overrides the labels of config.json (a base checkpoint has none, or LABEL_0..); with a
  // different count the head is drawn fresh rather than loaded.
  std::optional<std::vector<std::string>> labels;
};

// Copies `tensors` into `module` (parameters and buffers), mapping names through the architecture table. Missing head keys
// are initialised fresh (and reported); any other missing or unexpected key or a shape mismatch
// throws emopost::Error listing the keys.
LoadReport load_state(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors,
                      const ArchitectureNames& names, const ArchitectureNames* alt, int num_layers,
                      const std::string& origin, bool fresh_head);

DistilBert load_distilbert(const std::filesystem::path& dir, const LoadOptions& options = {},
                           LoadReport* report = nullptr);
// A DistilBertForMaskedLM folder with its head (pre-training; load_distilbert reads it as a base for
// a classifier, leaving the head out).
DistilBert load_distilbert_masked_lm(const std::filesystem::path& dir);
ViT load_vit(const std::filesystem::path& dir, const LoadOptions& options = {},
             LoadReport* report = nullptr);
ResNet load_resnet(const std::filesystem::path& dir, const LoadOptions& options = {},
                   LoadReport* report = nullptr);

// `tensors` as dir/model.safetensors (through a temporary name, so a crash never leaves half a
// checkpoint) and `config`, with its "dtype", as dir/config.json. Every checkpoint writer ends here.
void save_folder(const std::filesystem::path& dir, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                 nlohmann::json config, torch::ScalarType float_dtype = torch::kFloat);

// config.json + model.safetensors in Hugging Face layout (float_dtype: kFloat or kHalf).
void save_pretrained(DistilBert& model, const std::filesystem::path& dir,
                     torch::ScalarType float_dtype = torch::kFloat);
void save_pretrained(ViT& model, const std::filesystem::path& dir,
                     torch::ScalarType float_dtype = torch::kFloat);
void save_pretrained(ResNet& model, const std::filesystem::path& dir,
                     torch::ScalarType float_dtype = torch::kFloat);

}  // namespace emopost::models
