// `predict`: one post from the command line, or a JSONL file of posts.
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "command.h"
#include "emopost/core/error.h"
#include "emopost/core/labels.h"
#include "emopost/predict/jsonl.h"

namespace emopost::app {

namespace fs = std::filesystem;

namespace {

struct Options {
  ModelChoice models;
  std::string text;
  fs::path image, input, output, image_root;
  size_t max_image_bytes = 50u << 20;
  bool json = false, explain = false, int8 = false, no_ngrams = false;
  int batch_size = 32;
  double margin = -1;  // < 0: the predictor's default
  vision::DetectorOptions detector;
};

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

int run(const Options& c) {
  if (c.input.empty() && c.text.empty() && c.image.empty())
    throw Error("give --text and/or --image for one post, or --input for a JSONL file of posts (see --help)");
  if (!c.input.empty() && (!c.text.empty() || !c.image.empty()))
    throw Error("--input reads a JSONL file; it cannot be combined with --text or --image");
  auto options = predictor_options(c.models);
  options.batch_size = c.batch_size;
  options.int8 = c.int8;
  options.text_ngrams = !c.no_ngrams;
  if (c.margin >= 0) options.face_margin = c.margin;
  options.detector = c.detector;
  predict::Predictor predictor(options);
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
    const predict::ImageFiles files{c.input.parent_path(), c.image_root, c.max_image_bytes};
    auto stats = predict::run_jsonl(predictor, in, out, files, size_t(c.batch_size), lines);
    spdlog::info("{} lines: {} predicted, {} errors; {:.1f} posts/s", stats.lines, stats.ok, stats.errors,
                 stats.lines / std::max(stats.seconds, 1e-9));
    return 0;
  }
  predict::Post post;
  if (!c.text.empty()) post.text = c.text;
  if (!c.image.empty()) post.image = predict::read_image_file(c.image.string(), {"", c.image_root, c.max_image_bytes});
  auto p = predictor.predict(post, c.explain);
  if (c.json) std::cout << p.to_json().dump(2) << "\n";
  else print_table(p);
  return 0;
}

}  // namespace

void add_predict_command(CLI::App& app, Commands& out) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("predict", "Read the emotion of a post (caption and/or picture) or of a JSONL file of posts");
  add_model_options(cmd, o->models, /*with_fusion=*/true);
  cmd->add_option("--text", o->text, "The caption");
  cmd->add_option("--image", o->image, "The picture (JPEG, PNG, WebP, BMP)");
  cmd->add_option("--input", o->input,
                  "JSONL file: one {\"id\", \"text\", \"image\": path | \"image_base64\": data} per line");
  cmd->add_option("--image-root", o->image_root,
                  "Read the JSONL file's image paths only inside this folder (symbolic links followed)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--max-image-bytes", o->max_image_bytes, "Largest image file a JSONL line may name")
      ->capture_default_str()->check(CLI::Range(size_t(1), size_t(1) << 32));
  cmd->add_option("--output", o->output, "Where the results go, one JSON line per input line (default stdout)");
  cmd->add_option("--batch-size", o->batch_size, "Posts per pass through the models")->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--margin", o->margin, "Face crop margin, a fraction of the detected box per side")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--json", o->json, "Print JSON instead of a table");
  cmd->add_flag("--explain", o->explain, "Score each caption word by occlusion");
  cmd->add_flag("--int8", o->int8, "Run the transformer linears in dynamic int8 (faster, batch-dependent)");
  cmd->add_flag("--no-ngrams", o->no_ngrams, "Read captions with the transformer alone, without the text model's\n"
                "n-gram expert (models/text/ngrams), to compare");
  add_detector_options(cmd, o->detector);
  cmd->footer(
      "Examples:\n"
      "  emopost predict --text \"what a day 😂 #bestdayever\" --image samples/face_happy.jpg\n"
      "  emopost predict --input posts.jsonl --output preds.jsonl");
  out.push_back({cmd, [o] { return run(*o); }});
}

}  // namespace emopost::app
