// emopost: the command-line front of the library. Each subcommand parses its flags and calls one
// library function; nothing here knows how models work.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "emopost/core/error.h"
#include "emopost/core/runtime.h"
#include "emopost/io/hf_config.h"
#include "emopost/train/decision.h"
#include "emopost/train/evaluation.h"
#include "emopost/train/trainer.h"
#include "emopost/models/runtime.h"
#include "demo.h"
#include "predict_cmd.h"
#include "serve_cmd.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  // Logs go to stderr so that stdout carries only results (JSON, tables).
  spdlog::set_default_logger(spdlog::stderr_color_mt("emopost"));
  CLI::App app{
      "emopost reads the emotional colouring of social-media posts (a picture and an English\n"
      "caption) with a DistilBERT text model and a face model (ResNet or ViT) over 7 labels: anger, disgust,\n"
      "fear, joy, neutral, sadness, surprise."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "emopost 0.1.0");
  int threads = 0;
  app.add_option("--threads", threads, "Intra-op threads (0 = all cores)")->capture_default_str();

  // demo
  auto* demo = app.add_subcommand("demo", "Run a sample post through both architectures and time it");
  emopost::DemoOptions demo_opts;
  demo->add_option("--models", demo_opts.models_dir, "Folder with text/ and face/ models")->capture_default_str();
  demo->add_option("--text", demo_opts.text, "Caption to read");
  demo->add_option("--image", demo_opts.image, "Picture to read");

  // train
  auto* train = app.add_subcommand("train", "Train the text or the face model from a config file");
  std::string train_kind;
  fs::path config_path;
  bool resume = false;
  int max_steps = -1;
  std::string output_dir;
  train->add_option("kind", train_kind, "text or image")->required()->check(CLI::IsMember({"text", "image"}));
  train->add_option("--config", config_path, "Training config (configs/NAME.json)")->required()->check(CLI::ExistingFile);
  train->add_flag("--resume", resume, "Continue from OUTPUT_DIR/last (weights, optimizer, epoch)");
  train->add_option("--max-steps", max_steps, "Stop after N optimizer steps (smoke runs)");
  train->add_option("--output-dir", output_dir, "Override the config's output_dir");

  // eval
  auto* evalc = app.add_subcommand("eval", "Evaluate a trained model on a held-out split");
  emopost::train::EvalRequest req;
  fs::path out_dir;
  bool json = false;
  evalc->add_option("kind", req.kind, "text or image")->required()->check(CLI::IsMember({"text", "image"}));
  evalc->add_option("--model", req.model_dir, "Model folder (config.json + model.safetensors)")->required();
  evalc->add_option("--data", req.data_root, "Data root holding text/ and faces/")->capture_default_str();
  evalc->add_option("--split", req.split, "train, val or test")->capture_default_str()
      ->check(CLI::IsMember({"train", "val", "test"}));
  evalc->add_option("--recipe", req.recipe, "Text recipe: all or seed")->capture_default_str();
  evalc->add_option("--batch-size", req.batch_size, "Examples per forward pass")->capture_default_str();
  evalc->add_option("--limit", req.limit, "Evaluate only the first N examples");
  evalc->add_flag("--bf16", req.bf16, "Run the model in bf16 autocast");
  evalc->add_flag("--int8", req.int8, "Run the transformer linears in dynamic int8");
  evalc->add_flag("--mirror", req.mirror, "Image models: average each face with its mirror image, as `predict` does");
  evalc->add_option("--out", out_dir, "Write eval_KIND_SPLIT.json and .md into this folder");
  evalc->add_flag("--json", json, "Print JSON instead of Markdown");
  fs::path predictions_file;
  evalc->add_option("--predictions", predictions_file,
                    "Also write each example's label, prediction and probabilities here (JSONL)");

  // tune
  auto* tune = app.add_subcommand(
      "tune", "Fit per-class decision offsets on the validation split (for macro-F1) and write a copy\n"
              "of the model with them folded into its classifier bias");
  emopost::train::TuneRequest tune_req;
  tune->add_option("kind", tune_req.kind, "text or image")->required()->check(CLI::IsMember({"text", "image"}));
  tune->add_option("--model", tune_req.model_dir, "Model folder to start from (left unchanged)")->required()
      ->check(CLI::ExistingDirectory);
  tune->add_option("--out", tune_req.out_dir, "Folder for the tuned copy")->required();
  tune->add_option("--data", tune_req.data_root, "Data root holding text/ and faces/")->capture_default_str();
  tune->add_option("--split", tune_req.split, "Split to fit on (never the test split you report)")
      ->capture_default_str()->check(CLI::IsMember({"train", "val"}));
  tune->add_option("--recipe", tune_req.recipe, "Text recipe: all or seed")->capture_default_str();
  tune->add_option("--batch-size", tune_req.batch_size, "Examples per forward pass")->capture_default_str();
  tune->add_option("--range", tune_req.search.range, "Largest offset tried, in log-probability")->capture_default_str();
  tune->add_option("--step", tune_req.search.step, "Grid step of the offsets")->capture_default_str();

  emopost::PredictCommand predict_cmd;
  CLI::App *predict = nullptr, *calibrate = nullptr, *study = nullptr;
  emopost::add_predict_commands(app, predict_cmd, predict, calibrate, study);

  emopost::ServeCommand serve_cmd;
  auto* serve = emopost::add_serve_command(app, serve_cmd);

  CLI11_PARSE(app, argc, argv);
  try {
    if (*demo) return emopost::run_demo(demo_opts, threads);
    if (*serve) {
      emopost::models::configure_runtime(threads);
      return emopost::run_serve(serve_cmd);
    }
    if (*predict || *calibrate || *study) {
      emopost::models::configure_runtime(threads);
      if (*predict) return emopost::run_predict(predict_cmd);
      if (*calibrate) return emopost::run_calibrate(predict_cmd);
      return emopost::run_study_faces(predict_cmd);
    }
    if (*train) {
      auto config = emopost::train::TrainConfig::load(config_path);
      if (config.task != train_kind)
        throw emopost::Error(fmt::format("{} is a \"{}\" config, not \"{}\"", config_path.string(),
                                         config.task, train_kind));
      if (max_steps >= 0) config.max_steps = max_steps;
      if (!output_dir.empty()) config.output_dir = output_dir;
      if (threads > 0) config.threads = threads;
      auto result = emopost::train::fit(config, resume);
      spdlog::info("done: best validation macro-F1 {:.4f} at epoch {}; {:.1f} samples/s; {:.0f} s",
                   result.best_macro_f1, result.best_epoch, result.train_samples_per_second,
                   result.wall_seconds);
      return 0;
    }
    if (*tune) {
      emopost::models::configure_runtime(threads);
      std::cout << emopost::train::tune_decision_offsets(tune_req).dump(2) << "\n";
      return 0;
    }
    if (*evalc) {
      emopost::models::configure_runtime(threads);
      auto out = emopost::train::run_evaluation(req);
      if (!out_dir.empty()) {
        fs::create_directories(out_dir);
        auto stem = out_dir / fmt::format("eval_{}_{}", req.kind, req.split);
        emopost::io::write_json_file(stem.string() + ".json", out.json);
        std::ofstream(stem.string() + ".md") << out.markdown;
      }
      if (!predictions_file.empty()) {
        std::ofstream rows(predictions_file);
        for (const auto& row : out.predictions) rows << row.dump() << '\n';
        if (!rows) throw emopost::Error("cannot write " + predictions_file.string());
      }
      std::cout << (json ? out.json.dump(2) + "\n" : out.markdown);
      return 0;
    }
  } catch (const emopost::Error& e) {
    spdlog::error("{} [{}]", e.what(), e.code());
    return 1;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
