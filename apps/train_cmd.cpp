// `train`, `eval` and `tune`: the model-making commands, over train/.
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "command.h"
#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/core/paths.h"
#include "emopost/train/evaluation.h"
#include "emopost/train/ngram_training.h"
#include "emopost/train/trainer.h"
#include "emopost/train/tune.h"

namespace emopost::app {

namespace fs = std::filesystem;

namespace {

Command train_command(CLI::App& app) {
  struct Options {
    std::string kind;
    fs::path config;
    bool resume = false;
    int max_steps = -1;
    std::string output_dir;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("train", "Train the text or the face model from a config file, or pre-train the text model (mlm)");
  cmd->add_option("kind", o->kind, "text, image, or mlm (masked-LM pre-training of the text model, which `train text` fine-tunes through init_from)")
      ->required()->check(CLI::IsMember({"text", "image", "mlm"}));
  cmd->add_option("--config", o->config, "Training config (configs/NAME.json)")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--resume", o->resume, "Continue from OUTPUT_DIR/last (weights, optimizer, epoch)");
  cmd->add_option("--max-steps", o->max_steps, "Stop after N optimizer steps (smoke runs)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--output-dir", o->output_dir, "Override the config's output_dir");
  cmd->footer("Examples:\n  emopost train text --config configs/text-small-e3.json\n"
              "  emopost train mlm --config configs/text-mlm.json   # then a text config with \"init_from\": \"runs/text-mlm/best\"");
  return {cmd, [o, &app] {
            auto config = train::TrainConfig::load(o->config);
            if (config.task != o->kind)
              throw Error(fmt::format("{} is a \"{}\" config, not \"{}\"", o->config.string(), config.task, o->kind));
            if (o->max_steps >= 0) config.max_steps = o->max_steps;
            if (!o->output_dir.empty()) config.output_dir = o->output_dir;
            if (int t = app.get_option("--threads")->as<int>(); t > 0) config.threads = t;
            auto result = train::fit(config, o->resume);
            if (config.task == "mlm") {
              spdlog::info("done: best validation masked-LM loss {:.4f} at epoch {}; {:.1f} sequences/s; {:.0f} s",
                           result.best_val_loss, result.best_epoch, result.train_samples_per_second, result.wall_seconds);
              return 0;
            }
            spdlog::info("done: best validation macro-F1 {:.4f} at epoch {}; {:.1f} samples/s; {:.0f} s",
                         result.best_macro_f1, result.best_epoch, result.train_samples_per_second, result.wall_seconds);
            return 0;
          }};
}

Command eval_command(CLI::App& app) {
  struct Options {
    train::EvalRequest req;
    fs::path out_dir, predictions;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto& r = o->req;
  auto* cmd = app.add_subcommand("eval", "Evaluate a trained model on a held-out split");
  cmd->add_option("kind", r.kind, "text or image")->required()->check(CLI::IsMember({"text", "image"}));
  cmd->add_option("--model", r.model_dir, "Model folder (config.json + model.safetensors)")->required();
  cmd->add_option("--data", r.data_root,
                  "Data root holding text/ and faces/ (with --format jsonl: a JSONL file; folder: a folder)")
      ->capture_default_str();
  cmd->add_option("--format", r.format,
                  "recipe: a split of the data root's sets; jsonl: your own labelled texts, one\n"
                  "{\"text\": \"...\", \"label\": \"joy\"} per line (bad lines are reported and skipped);\n"
                  "folder: your own labelled face pictures, a labels.csv with path,label columns or one\n"
                  "subfolder per label (anger/, joy/, ...)")
      ->capture_default_str()->check(CLI::IsMember({"recipe", "jsonl", "folder"}));
  cmd->add_option("--split", r.split,
                  "train, val or test (read test once, for the model you ship); faces also photos-val,\n"
                  "1,153 real face photos (validation only: read them as you read val)")
      ->capture_default_str()->check(CLI::IsMember({"train", "val", "test", "photos-val"}));
  cmd->add_option("--labels", r.face_labels,
                  "Image models on FER2013: score against fer2013 (its folders) or ferplus (the majority of\n"
                  "FER+'s ten crowd votes; faces with none usable are left out)")
      ->capture_default_str()->check(CLI::IsMember({"fer2013", "ferplus"}));
  cmd->add_option("--recipe", r.recipe, "Text recipe: all, seed, carer or goemotions")->capture_default_str();
  cmd->add_option("--batch-size", r.batch_size, "Examples per forward pass")->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--limit", r.limit, "Evaluate only the first N examples");
  cmd->add_option("--drop-words", r.drop_words,
                  "Text models: leave these words out of every text (comma-separated, any case), as the\n"
                  "report's ablation does")->delimiter(',');
  cmd->add_flag("--bf16", r.bf16, "Run the model in bf16 autocast");
  cmd->add_flag("--int8", r.int8, "Run the transformer linears in dynamic int8");
  add_mirror_flags(cmd, r.mirror);
  cmd->add_option("--detector", r.faces.detector,
                  "Image models: read each face through this detector (cnn or lbp) and cut it as `predict` does;\n"
                  "faces with none found are read whole. Faces read are cached under --face-cache")
      ->check(CLI::IsMember({"cnn", "lbp"}));
  cmd->add_option("--face-cache", r.faces.cache, "Folder for faces read through a detector")->capture_default_str();
  cmd->add_option("--photo-damage", r.faces.photo_damage,
                  "Image models: damage each face once, as the photo augmentations damage training faces\n"
                  "(blur, downscaling, JPEG, gamma, cutout, rotation, shift), seeded by this number: a\n"
                  "held-out split that stands in for faces cut from real photos");
  cmd->add_option("--out", o->out_dir, "Write eval_KIND_SPLIT.json and .md into this folder");
  cmd->add_flag("--json", o->json, "Print JSON instead of Markdown");
  cmd->add_option("--predictions", o->predictions,
                  "Also write each example's label, prediction and probabilities here (JSONL)");
  cmd->footer("Texts are read as `predict` reads them: normalised, in windows of the model's positions.\n"
              "Examples:\n  emopost eval text --model models/text\n"
              "  emopost eval text --model models/text --format jsonl --data my_posts.jsonl\n"
              "  emopost eval image --model models/face --split photos-val --detector cnn\n"
              "  emopost eval image --model models/face --split val --detector cnn --labels ferplus\n"
              "  emopost eval image --model models/face --format folder --data my_faces/ --detector cnn");
  return {cmd, [o] {
            // The detector's nets beside the face model (models/face: models/detector and
            // models/landmarks), else in the models folder emopost finds, so eval runs from any folder.
            if (auto& f = o->req.faces; !f.detector.empty()) {
              const fs::path beside = o->req.model_dir.parent_path();
              const fs::path dir = fs::exists(beside / "detector") ? beside : find_models_dir();
              f.detector_model = dir / "detector";
              f.landmarks_model = dir / "landmarks";
            }
            auto out = train::run_evaluation(o->req);
            if (!o->out_dir.empty()) {
              fs::create_directories(o->out_dir);
              auto stem = o->out_dir / fmt::format("eval_{}_{}", o->req.kind, out.json["split"].get<std::string>());
              write_json_file(stem.string() + ".json", out.json);
              std::ofstream(stem.string() + ".md") << out.markdown;
            }
            if (!o->predictions.empty()) {
              std::ofstream rows(o->predictions);
              for (const auto& row : out.predictions) rows << row.dump() << '\n';
              if (!rows) throw Error("cannot write " + o->predictions.string());
            }
            std::cout << (o->json ? out.json.dump(2) + "\n" : out.markdown);
            return 0;
          }};
}

Command tune_command(CLI::App& app) {
  auto r = std::make_shared<train::TuneRequest>();
  auto* cmd = app.add_subcommand(
      "tune", "Fit per-class decision offsets on the validation split (for macro-F1) and write a copy\n"
              "of the model with them folded into its classifier bias");
  cmd->add_option("kind", r->kind, "text or image")->required()->check(CLI::IsMember({"text", "image"}));
  cmd->add_option("--model", r->model_dir, "Model folder to start from (left unchanged)")->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", r->out_dir, "Folder for the tuned copy")->required();
  cmd->add_option("--data", r->data_root, "Data root holding text/ and faces/")->capture_default_str();
  cmd->add_option("--split", r->split, "Split to fit on (never the test split you report)")
      ->capture_default_str()->check(CLI::IsMember({"train", "val"}));
  cmd->add_option("--recipe", r->recipe, "Text recipe: all, seed, carer or goemotions")->capture_default_str();
  cmd->add_option("--batch-size", r->batch_size, "Examples per forward pass")->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--range", r->search.range, "Largest offset tried, in log-probability")->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--step", r->search.step, "Grid step of the offsets")->capture_default_str()
      ->check(CLI::PositiveNumber);
  return {cmd, [r] {
            std::cout << train::tune_decision_offsets(*r).dump(2) << "\n";
            return 0;
          }};
}

Command train_ngrams_command(CLI::App& app) {
  auto r = std::make_shared<train::NgramFitRequest>();
  auto* cmd = app.add_subcommand(
      "train-ngrams", "Fit the bag-of-n-grams expert beside a trained text model (TF-IDF + logistic regression,\n"
                      "fused log-linearly with it, weights fitted on validation) into MODEL/ngrams");
  cmd->add_option("--model", r->model_dir, "The text model folder the expert joins")->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", r->out_dir, "Write the expert here instead of MODEL/ngrams");
  cmd->add_option("--data", r->data_root, "Data root holding text/")->capture_default_str();
  cmd->add_option("--recipe", r->recipe, "Text recipe the model was trained on: all, seed, carer or goemotions")
      ->capture_default_str();
  cmd->add_option("--min-df", r->min_df, "Leave out n-grams found in fewer training texts")->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--C", r->inverse_l2, "Inverse L2 strengths tried (chosen on validation macro-F1)")
      ->capture_default_str()->delimiter(',');
  cmd->add_option("--limit", r->limit_examples, "Use only the first N texts of each split (smoke runs)");
  cmd->footer("Run it after `tune`: the offsets tuned on the transformer alone are kept, and a later `tune`\n"
              "of the folder fits them on the fused verdict.\n"
              "Example:\n  emopost train-ngrams --model models/text");
  return {cmd, [r] {
            std::cout << train::fit_ngram_expert(*r).dump(2) << "\n";
            return 0;
          }};
}

}  // namespace

void add_train_commands(CLI::App& app, Commands& out) {
  out.push_back(train_command(app));
  out.push_back(eval_command(app));
  out.push_back(tune_command(app));
  out.push_back(train_ngrams_command(app));
}

}  // namespace emopost::app
