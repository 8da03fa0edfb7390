#pragma once
// The `predict`, `calibrate` and `study-faces` subcommands.
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "emopost/vision/faces.h"

namespace emopost {

struct PredictCommand {
  std::filesystem::path models_dir = "models";
  std::filesystem::path text_model, face_model, fusion_file;  // empty: MODELS/text, face, fusion.json
  std::string text;
  std::filesystem::path image, input, output;
  bool json = false, explain = false, int8 = false, no_mirror = false;
  int batch_size = 32;
  double margin = -1;  // < 0: the predictor's default
  emopost::vision::DetectorOptions detector;
  std::filesystem::path data_root = "../shared/data", out, photos;
  std::string split = "test";
  size_t limit = 0;
};

// Registers the three subcommands on `app`; run_* return the process exit code.
void add_predict_commands(CLI::App& app, PredictCommand& cmd, CLI::App*& predict, CLI::App*& calibrate,
                          CLI::App*& study);
int run_predict(const PredictCommand& cmd);
int run_calibrate(const PredictCommand& cmd);
int run_study_faces(const PredictCommand& cmd);

}  // namespace emopost
