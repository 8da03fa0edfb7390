#include "predict_cmd.h"

#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "emopost/core/error.h"
#include "emopost/core/labels.h"
#include "emopost/io/hf_config.h"
#include "emopost/predict/batch.h"
#include "emopost/predict/calibrate.h"

namespace emopost {

namespace fs = std::filesystem;

void add_predict_commands(CLI::App& app, PredictCommand& c, CLI::App*& predict, CLI::App*& calibrate,
                          CLI::App*& study) {
  predict = app.add_subcommand("predict", "Read the emotion of a post (caption and/or picture) or of a JSONL batch");
  predict->add_option("--models", c.models_dir, "Folder with text/, face/ and fusion.json")->capture_default_str();
  predict->add_option("--text", c.text, "The caption");
  predict->add_option("--image", c.image, "The picture (JPEG, PNG, WebP, BMP)");
  predict->add_option("--input", c.input,
                      "JSONL batch: one {\"id\", \"text\", \"image\": path | \"image_base64\": data} per line");
  predict->add_option("--output", c.output, "Where the batch results go, one JSON line per input line (default stdout)");
  predict->add_option("--batch-size", c.batch_size, "Posts per model batch")->capture_default_str();
  predict->add_option("--margin", c.margin, "Face crop margin, a fraction of the detected box per side");
  predict->add_flag("--json", c.json, "Print JSON instead of a table");
  predict->add_flag("--explain", c.explain, "Score each caption word by occlusion");
  predict->add_flag("--int8", c.int8, "Run the transformer linears in dynamic int8 (faster, batch-dependent)");
  predict->footer(
      "Examples:\n"
      "  emopost predict --text \"what a day 😂 #bestdayever\" --image samples/face_happy.jpg\n"
      "  emopost predict --input posts.jsonl --output preds.jsonl");

  calibrate = app.add_subcommand("calibrate",
                                 "Fit the fusion (temperatures and weights) on validation posts; write fusion.json");
  calibrate->add_option("--models", c.models_dir, "Folder with text/ and face/")->capture_default_str();
  calibrate->add_option("--data", c.data_root, "Data root holding text/ and faces/")->capture_default_str();
  calibrate->add_option("--out", c.out, "Output file (default MODELS/fusion.json)");
  calibrate->add_option("--limit", c.limit, "Use only N texts and faces per split (smoke runs)");
  calibrate->add_flag("--int8", c.int8, "Run the transformer linears in dynamic int8");

  study = app.add_subcommand("study-faces",
                             "Measure face-detector recall and how the crop margin changes face-model accuracy");
  study->add_option("--models", c.models_dir, "Folder with text/ and face/")->capture_default_str();
  study->add_option("--data", c.data_root, "Data root holding faces/")->capture_default_str();
  study->add_option("--split", c.split, "FER2013 split: val (PublicTest) or test (PrivateTest)")->capture_default_str();
  study->add_option("--photos", c.photos, "Folder of photos with faces.json giving each photo's face count");
  study->add_option("--limit", c.limit, "Use only N images");
  study->add_option("--out", c.out, "Also write the JSON here");
  for (auto* cmd : {predict, calibrate, study}) {
    cmd->add_option("--text-model", c.text_model, "Text model folder (default MODELS/text)");
    cmd->add_option("--face-model", c.face_model, "Face model folder (default MODELS/face, e.g. models/face-vit)");
    cmd->add_flag("--no-mirror", c.no_mirror, "Read each face once, not also as its mirror image");
  }
  predict->add_option("--fusion", c.fusion_file, "Fusion file (default MODELS/fusion.json)");
  for (auto* cmd : {predict, study}) {
    cmd->add_option("--detect-side", c.detector.detect_side, "Face detection runs on a copy this long on its longer side")
        ->capture_default_str();
    cmd->add_option("--scale-factor", c.detector.scale_factor, "Cascade step between window sizes (larger: faster, may miss faces)")
        ->capture_default_str();
    cmd->add_option("--min-neighbors", c.detector.min_neighbors, "Raw detections a face needs (larger: fewer false faces)")
        ->capture_default_str();
  }
}

namespace {

predict::PredictorOptions predictor_options(const PredictCommand& c) {
  predict::PredictorOptions o;
  o.models_dir = c.models_dir;
  o.text_model = c.text_model;
  o.face_model = c.face_model;
  o.fusion_file = c.fusion_file;
  o.batch_size = c.batch_size;
  o.int8 = c.int8;
  if (c.margin >= 0) o.face_margin = c.margin;
  o.detector = c.detector;
  o.face_mirror = !c.no_mirror;
  return o;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open {}", p.string()), "bad_image");
  return {std::istreambuf_iterator<char>(in), {}};
}

void print_table(const predict::Prediction& p) {
  std::cout << fmt::format("verdict: {} ({:.1f}%) from {}\n\n", kLabels[p.label], 100 * p.confidence,
                           p.modalities.size() == 2 ? "text and image" : p.modalities.front() + " only");
  std::cout << fmt::format("{:<10} {:>7} {:>7} {:>7}\n", "label", "text", "image", "fused");
  auto cell = [](const std::optional<predict::Scores>& s, int i) {
    return s ? fmt::format("{:>6.1f}%", 100 * (*s)[i]) : fmt::format("{:>7}", "-");
  };
  for (int i = 0; i < kNumLabels; ++i)
    std::cout << fmt::format("{:<10} {} {} {:>6.1f}%{}\n", kLabels[i], cell(p.text, i), cell(p.image, i),
                             100 * p.fused[i], i == p.label ? "  <" : "");
  if (!p.normalized_text.empty())
    std::cout << fmt::format("\ntext read as: \"{}\"{}\n", p.normalized_text,
                             p.text_windows > 1 ? fmt::format(" ({} windows)", p.text_windows) : "");
  for (size_t i = 0; i < p.faces.size(); ++i) {
    const auto& f = p.faces[i];
    std::cout << fmt::format("face {}: {}x{} at ({}, {}){} -> {} ({:.1f}%), weight {:.2f}\n", i + 1, f.box.width,
                             f.box.height, f.box.x, f.box.y, f.whole_image ? " [whole picture]" : "",
                             kLabels[fusion::argmax(f.probabilities)],
                             100 * *std::max_element(f.probabilities.begin(), f.probabilities.end()), f.weight);
  }
  if (!p.attribution.empty()) {
    std::cout << "\nword influence on the text verdict:";
    for (const auto& a : p.attribution) std::cout << fmt::format(" {}({:+.2f})", a.word, a.score);
    std::cout << "\n";
  }
  for (const auto& n : p.notes) std::cout << "note: " << n << "\n";
  std::cout << "\ntimings:";
  for (const auto& [k, v] : p.timings_ms) std::cout << fmt::format(" {} {:.1f} ms", k, v);
  std::cout << "\n";
}

}  // namespace

int run_predict(const PredictCommand& c) {
  if (c.input.empty() && c.text.empty() && c.image.empty())
    throw Error("give --text and/or --image for one post, or --input for a JSONL batch (see --help)");
  if (!c.input.empty() && (!c.text.empty() || !c.image.empty()))
    throw Error("--input reads a batch; it cannot be combined with --text or --image");
  predict::Predictor predictor(predictor_options(c));
  if (!c.input.empty()) {
    std::ifstream in(c.input);
    if (!in) throw Error(fmt::format("cannot open {}", c.input.string()));
    size_t lines = 0;
    for (std::string l; std::getline(in, l);) ++lines;
    in.clear(), in.seekg(0);
    std::ofstream file;
    if (!c.output.empty()) {
      file.open(c.output);
      if (!file) throw Error(fmt::format("cannot write {}", c.output.string()));
    }
    std::ostream& out = c.output.empty() ? std::cout : file;
    auto stats = predict::run_batch(predictor, in, out, c.input.parent_path(), size_t(c.batch_size), lines);
    spdlog::info("{} lines: {} predicted, {} errors; {:.1f} posts/s", stats.lines, stats.ok, stats.errors,
                 stats.lines / std::max(stats.seconds, 1e-9));
    return 0;
  }
  predict::Post post;
  if (!c.text.empty()) post.text = c.text;
  if (!c.image.empty()) post.image = read_file(c.image);
  auto p = predictor.predict(post, c.explain);
  if (c.json) std::cout << p.to_json().dump(2) << "\n";
  else print_table(p);
  return 0;
}

int run_calibrate(const PredictCommand& c) {
  // A fusion fitted for another pair must not silently replace the shipped pair's.
  if (c.out.empty() && !(c.text_model.empty() && c.face_model.empty()))
    throw Error("with --text-model or --face-model, give --out: MODELS/fusion.json belongs to MODELS' own pair");
  predict::Predictor predictor(predictor_options(c));
  predict::CalibrationRequest r;
  r.data_root = c.data_root;
  r.limit = c.limit;
  auto model = predict::fit_fusion(predictor, r);
  auto out = c.out.empty() ? c.models_dir / "fusion.json" : c.out;
  model.save(out);
  auto j = model.to_json();
  j.erase("fused_report");
  std::cout << j.dump(2) << "\n";
  spdlog::info("wrote {}", out.string());
  return 0;
}

int run_study_faces(const PredictCommand& c) {
  predict::Predictor predictor(predictor_options(c));
  predict::FaceStudyRequest r;
  r.data_root = c.data_root, r.split = c.split, r.photos = c.photos, r.limit = c.limit;
  auto j = predict::study_faces(predictor, r);
  if (!c.out.empty()) io::write_json_file(c.out, j);
  std::cout << j.dump(2) << "\n";
  return 0;
}

}  // namespace emopost
