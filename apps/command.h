#pragma once
// What each command file gives main(): its CLI11 subcommand, and what runs when it is chosen.
// Options live in the command's own file; nothing here knows how models work.
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include <CLI/CLI.hpp>

#include "emopost/predict/predictor.h"

namespace emopost::app {

struct Command {
  CLI::App* cli = nullptr;
  std::function<int()> run;  // returns the exit code; emopost::Error's exit code comes from its kind
  std::function<void()> setup = {};  // runs first, before the runtime starts any thread
};
using Commands = std::vector<Command>;

void add_train_commands(CLI::App& app, Commands& out);  // train, eval, tune
void add_predict_command(CLI::App& app, Commands& out);
void add_calibrate_command(CLI::App& app, Commands& out);
void add_study_faces_command(CLI::App& app, Commands& out);
void add_serve_command(CLI::App& app, Commands& out);
void add_convert_command(CLI::App& app, Commands& out);  // convert-detector
void add_telegram_command(CLI::App& app, Commands& out);
void add_report_command(CLI::App& app, Commands& out);

// The model folders of the commands that read posts.
struct ModelChoice {
  std::filesystem::path models_dir;  // empty: found as find_models_dir() says
  std::filesystem::path text_model, face_model, fusion_file;  // empty: MODELS/text, face, fusion.json
  std::optional<bool> mirror;  // unset: the face folder's choice
};
void add_model_options(CLI::App* cmd, ModelChoice& c, bool with_fusion);
// --mirror and --no-mirror: set `mirror`; neither leaves the face folder's choice (test_time_mirror).
void add_mirror_flags(CLI::App* cmd, std::optional<bool>& mirror);
predict::PredictorOptions predictor_options(const ModelChoice& c);
// The same choice written into options the command already holds (its detector and limits kept).
void apply_model_choice(const ModelChoice& c, predict::PredictorOptions& o);

// Detector options for the commands that look for faces.
void add_detector_options(CLI::App* cmd, vision::DetectorOptions& d);

inline const char* kModelsHelp =
    "Folder with text/, face/ and fusion.json (default: $EMOPOST_MODELS, else ./models, else the installed "
    "share/emopost/models)";

}  // namespace emopost::app
