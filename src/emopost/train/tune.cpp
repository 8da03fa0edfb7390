#include "emopost/train/tune.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "emopost/core/error.h"
#include "emopost/core/labels.h"
#include "emopost/io/hf_config.h"
#include "emopost/models/checkpoint.h"
#include "emopost/models/ngram_expert.h"
#include "emopost/train/tasks.h"
#include "emopost/train/trainer.h"

namespace fs = std::filesystem;

namespace emopost::train {

namespace {

// Every architecture's head is the module "classifier" in emopost's names (models/names.cpp).
void add_to_classifier_bias(torch::nn::Module& module, const std::vector<double>& offsets) {
  auto params = module.named_parameters();
  auto* bias = params.find("classifier.bias");
  if (bias == nullptr) throw Error("the model has no classifier.bias to fold decision offsets into");
  if (bias->numel() != static_cast<int64_t>(offsets.size()))
    throw Error(fmt::format("classifier.bias has {} entries, the offsets {}", bias->numel(), offsets.size()));
  torch::NoGradGuard no_grad;
  bias->add_(torch::tensor(offsets, torch::kDouble).to(bias->scalar_type()));
}

// A source that was itself tuned holds its earlier offsets in its bias; zeros for an untuned one.
std::vector<double> earlier_offsets(const fs::path& model_dir) {
  std::vector<double> out(kLabels.size(), 0.0);
  const auto file = model_dir / "decision_offsets.json";
  if (!fs::exists(file)) return out;
  auto earlier = read_json_file(file);
  try {
    for (size_t k = 0; k < out.size(); ++k)
      out[k] = earlier.at("total_offsets").at(std::string(kLabels[k])).get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: no usable \"total_offsets\" ({})", file.string(), e.what()), Errc::bad_model);
  }
  return out;
}

}  // namespace

nlohmann::json tune_decision_offsets(const TuneRequest& r) {
  if (r.out_dir.empty()) throw Error("give an output folder for the tuned model");
  if (fs::exists(r.out_dir) && fs::equivalent(r.out_dir, r.model_dir))
    throw Error(fmt::format("the tuned model must go to a new folder, not over {}", r.model_dir.string()));
  const auto earlier = earlier_offsets(r.model_dir);  // before the evaluation: a bad file fails fast
  auto task = load_task(r.kind, r.model_dir, r.data_root, r.recipe, {r.split});
  auto ev = evaluate(*task, r.split, r.batch_size, /*bf16=*/false, "tune " + r.split);
  const auto& truth = task->split(r.split).labels;
  auto fit = eval::fit_decision_offsets(ev.probabilities, truth, r.search);

  nlohmann::json per_class = nlohmann::json::object(), per_class_total = nlohmann::json::object();
  for (size_t k = 0; k < fit.offsets.size(); ++k) {
    per_class[std::string(kLabels[k])] = fit.offsets[k];
    per_class_total[std::string(kLabels[k])] = earlier[k] + fit.offsets[k];
  }
  nlohmann::json out = {
      {"offsets", per_class},
      {"total_offsets", per_class_total},
      {"folded_into", "classifier.bias"},
      {"source_model", r.model_dir.string()},
      {"fitted_on", {{"data_root", r.data_root.string()}, {"split", r.split}, {"examples", truth.size()},
                     {"recipe", r.kind == "text" ? r.recipe : ""}}},
      {"objective", "macro_f1"},
      {"search", {{"range", r.search.range}, {"step", r.search.step}, {"sweeps", r.search.sweeps}}},
      {"before", {{"macro_f1", fit.macro_f1_before}, {"accuracy", fit.accuracy_before}}},
      {"after", {{"macro_f1", fit.macro_f1_after}, {"accuracy", fit.accuracy_after}}}};

  fs::create_directories(r.out_dir);
  for (const auto& entry : fs::directory_iterator(r.model_dir))
    if (entry.is_regular_file())
      fs::copy_file(entry.path(), r.out_dir / entry.path().filename(), fs::copy_options::overwrite_existing);
  // With an n-gram expert the model's log-probabilities are weighed by a in the fused scores, so
  // an offset d on them is d / a on the model's logits.
  auto folded = fit.offsets;
  if (fs::exists(r.model_dir / models::kNgramFolder)) {
    const auto expert = models::NgramExpert::load(r.model_dir / models::kNgramFolder);
    for (auto& d : folded) d /= expert.model_weight();
    fs::copy(r.model_dir / models::kNgramFolder, r.out_dir / models::kNgramFolder,
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  }
  add_to_classifier_bias(task->module(), folded);
  // The source's float dtype, so tuning keeps fp16 files fp16.
  task->save(r.out_dir, models::stored_float_dtype(r.model_dir / "model.safetensors"));
  write_json_file(r.out_dir / "decision_offsets.json", out);
  spdlog::info("{} macro-F1 {:.4f} -> {:.4f}, accuracy {:.4f} -> {:.4f}; wrote {}", r.split,
               fit.macro_f1_before, fit.macro_f1_after, fit.accuracy_before, fit.accuracy_after,
               r.out_dir.string());
  return out;
}

}  // namespace emopost::train
