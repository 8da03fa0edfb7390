#include "emopost/train/evaluation.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "emopost/core/error.h"

#include "emopost/core/labels.h"
#include "emopost/eval/scores.h"
#include "emopost/train/tasks.h"
#include "emopost/train/trainer.h"

namespace emopost::train {

namespace {

// A user's JSONL: its bad lines are reported and skipped, the rest is read.
std::unique_ptr<Task> load_jsonl_task(const EvalRequest& r, const std::string& split, std::vector<std::string>& skipped) {
  if (r.kind != "text") throw Error("--format jsonl reads texts: use `eval text`");
  auto examples = data::read_labelled_jsonl(r.data_root, skipped);
  for (const auto& e : skipped) spdlog::warn("skipped {}", e);
  if (r.limit && examples.size() > r.limit) examples.resize(r.limit);
  if (examples.empty()) throw Error(r.data_root.string() + ": no line could be read");
  return load_text_task(r.model_dir, split, std::move(examples), r.drop_words);
}

}  // namespace

EvalOutput run_evaluation(const EvalRequest& r) {
  if (r.format != "recipe" && r.format != "jsonl") throw Error("unknown --format \"" + r.format + "\" (recipe or jsonl)");
  if (!r.drop_words.empty() && r.kind != "text") throw Error("--drop-words applies to text models only");
  if (r.faces.photo_damage && r.kind != "image") throw Error("--photo-damage applies to image models only");
  const bool jsonl = r.format == "jsonl";
  const std::string split = jsonl ? r.data_root.stem().string() : r.split;
  std::vector<std::string> skipped;
  auto task = jsonl ? load_jsonl_task(r, split, skipped)
                    : load_task(r.kind, r.model_dir, r.data_root, r.recipe, {r.split}, r.limit, r.faces, r.drop_words);
  if (r.int8) task->quantize_int8();
  task->set_mirror_average(r.mirror);
  auto ev = evaluate(*task, split, r.batch_size, r.bf16, "eval " + split);
  const auto& data = task->split(split);
  std::vector<std::string> labels(kLabels.begin(), kLabels.end());

  EvalOutput out;
  out.json = {{"model", r.model_dir.string()}, {"kind", r.kind}, {"split", split}, {"int8", r.int8}, {"mirror", r.mirror},
              {"face_detector", r.faces.detector}, {"drop_words", r.drop_words},
              {"photo_damage", r.faces.photo_damage ? nlohmann::json(*r.faces.photo_damage) : nlohmann::json()},
              {"loss", ev.loss}, {"examples_per_second", ev.examples_per_second},
              {"pooled", ev.report.to_json(labels)}};
  out.markdown = fmt::format("# Evaluation of `{}` on {} ({} examples)\n\n## Pooled\n\n{}\n",
                             r.model_dir.string(), split, data.size(), ev.report.to_markdown(labels));
  if (jsonl) {
    out.json["data"] = r.data_root.string();
    out.json["skipped"] = skipped;
    if (!skipped.empty()) {
      out.markdown += fmt::format("\n## Lines skipped ({})\n\n", skipped.size());
      for (const auto& e : skipped) out.markdown += "- " + e + "\n";
    }
  }
  for (size_t i = 0; i < data.size(); ++i) {
    out.predictions.push_back({{"index", i}, {"source", data.sources[i]}, {"label", labels[data.labels[i]]},
                               {"predicted", labels[ev.predicted[i]]}, {"probabilities", ev.probabilities[i]}});
    if (i < data.texts.size()) out.predictions.back()["text"] = data.texts[i];
    if (i < data.files.size()) out.predictions.back()["file"] = data.files[i];
  }
  // Per source data set: CARER and GoEmotions differ a lot in difficulty, so pooled alone misleads.
  std::map<std::string, std::pair<std::vector<int>, std::vector<int>>> by_source;
  for (size_t i = 0; i < data.size(); ++i) {
    by_source[data.sources[i]].first.push_back(data.labels[i]);
    by_source[data.sources[i]].second.push_back(ev.predicted[i]);
  }
  if (by_source.size() > 1) {
    for (const auto& [source, pair] : by_source) {
      auto report = eval::classification_report(pair.first, pair.second, kNumLabels);
      out.json["by_source"][source] = report.to_json(labels);
      out.markdown += fmt::format("\n## {} ({} examples)\n\n{}\n", source, pair.first.size(),
                                  report.to_markdown(labels));
    }
  }
  return out;
}

}  // namespace emopost::train
