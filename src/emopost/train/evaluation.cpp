#include "emopost/train/evaluation.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "emopost/core/error.h"
#include "emopost/core/json.h"

#include "emopost/core/labels.h"
#include "emopost/eval/scores.h"
#include "emopost/models/folder.h"
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

// Labelled face pictures: a split of the data root, or a user's folder (its bad rows reported and skipped).
std::unique_ptr<Task> load_faces_task(const EvalRequest& r, const std::string& task_split,
                                      std::vector<std::string>& skipped, size_t& left_out) {
  std::vector<data::FaceExample> examples;
  if (r.format == "folder") {
    examples = data::read_labelled_faces(r.data_root, skipped);
    for (const auto& e : skipped) spdlog::warn("skipped {}", e);
    data::take_evenly(examples, r.limit);
  } else {
    examples = face_examples(r.data_root, r.split, r.face_labels, r.limit, &left_out);
  }
  if (examples.empty()) throw Error(r.data_root.string() + ": no labelled face to read");
  return load_image_task(r.model_dir, task_split, examples, r.faces);
}

// The pictures in which the detector found no face (read whole), as a count and a list.
void report_no_face(const SplitData& data, EvalOutput& out) {
  if (data.face_found.empty()) return;
  std::vector<std::string> missed;
  for (size_t i = 0; i < data.size(); ++i)
    if (!data.face_found[i]) missed.push_back(data.files[i]);
  out.json["no_face_found"] = {{"count", missed.size()}, {"files", missed}};
  out.markdown += fmt::format("\n## No face found ({} of {} pictures, read whole)\n\n", missed.size(), data.size());
  for (size_t i = 0; i < missed.size() && i < 50; ++i) out.markdown += "- " + missed[i] + "\n";
  if (missed.size() > 50) out.markdown += fmt::format("- ... and {} more (all in the JSON)\n", missed.size() - 50);
}

}  // namespace

EvalOutput run_evaluation(const EvalRequest& r) {
  if (r.format != "recipe" && r.format != "jsonl" && r.format != "folder")
    throw Error("unknown --format \"" + r.format + "\" (recipe, jsonl or folder)");
  if (r.format == "folder" && r.kind != "image") throw Error("--format folder reads face pictures: use `eval image`");
  if (r.face_labels != "fer2013" && r.face_labels != "ferplus")
    throw Error("unknown --labels \"" + r.face_labels + "\" (fer2013 or ferplus)");
  if (r.face_labels != "fer2013" && r.kind != "image") throw Error("--labels applies to image models only");
  if (!r.drop_words.empty() && r.kind != "text") throw Error("--drop-words applies to text models only");
  if (r.faces.photo_damage && r.kind != "image") throw Error("--photo-damage applies to image models only");
  const bool jsonl = r.format == "jsonl", folder = r.format == "folder";
  const std::string split = jsonl ? r.data_root.stem().string() : folder ? r.data_root.filename().string() : r.split;
  // A user's folder is read under a name of its own (it names the face cache), so that its pictures never
  // meet the cached faces of a split with the same name.
  const std::string task_split =
      folder ? fmt::format("folder-{:016x}", std::hash<std::string>{}(std::filesystem::absolute(r.data_root).string()))
             : split;
  std::vector<std::string> skipped;
  size_t left_out = 0;
  auto task = jsonl ? load_jsonl_task(r, split, skipped)
              : r.kind == "image" ? load_faces_task(r, task_split, skipped, left_out)
                                  : load_task(r.kind, r.model_dir, r.data_root, r.recipe, {r.split}, r.limit, {},
                                              r.drop_words);
  if (r.int8) task->quantize_int8();
  const bool mirror =
      r.mirror.value_or(r.kind == "image" &&
                        models::test_time_mirror(read_json_file(r.model_dir / "config.json")));
  task->set_mirror_average(mirror);
  auto ev = evaluate(*task, task_split, r.batch_size, r.bf16, "eval " + split);
  const auto& data = task->split(task_split);
  std::vector<std::string> labels(kLabels.begin(), kLabels.end());

  EvalOutput out;
  out.json = {{"model", r.model_dir.string()}, {"kind", r.kind}, {"split", split}, {"int8", r.int8}, {"mirror", mirror},
              {"face_detector", r.faces.detector}, {"drop_words", r.drop_words},
              {"photo_damage", r.faces.photo_damage ? nlohmann::json(*r.faces.photo_damage) : nlohmann::json()},
              {"loss", ev.loss}, {"examples_per_second", ev.examples_per_second},
              {"pooled", ev.report.to_json(labels)}};
  out.markdown = fmt::format("# Evaluation of `{}` on {} ({} examples)\n\n## Pooled\n\n{}\n",
                             r.model_dir.string(), split, data.size(), ev.report.to_markdown(labels));
  if (jsonl || folder) {
    out.json["data"] = r.data_root.string();
    out.json["skipped"] = skipped;
    if (!skipped.empty()) {
      out.markdown += fmt::format("\n## {} skipped ({})\n\n", jsonl ? "Lines" : "Rows or folders", skipped.size());
      for (const auto& e : skipped) out.markdown += "- " + e + "\n";
    }
  }
  if (r.kind == "image" && !folder && r.split != "photos-val") {
    out.json["labels"] = r.face_labels;
    if (r.face_labels == "ferplus") {
      out.json["left_out"] = left_out;
      out.markdown += fmt::format("\nScored against FER+'s majority labels; {} faces without a usable FER+ label "
                                  "(a tie, contempt, \"unknown\" or \"not a face\") left out.\n", left_out);
    }
  }
  report_no_face(data, out);
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
