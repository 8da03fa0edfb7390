// emopost: the command-line front of the library. Each command file declares its own options and
// calls the library; this file only dispatches and turns errors into messages and exit codes.
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "command.h"
#include "emopost/core/error.h"
#include "emopost/core/paths.h"
#include "emopost/models/threads.h"

namespace emopost::app {

void add_model_options(CLI::App* cmd, ModelChoice& c, bool with_fusion) {
  cmd->add_option("--models", c.models_dir, kModelsHelp);
  cmd->add_option("--text-model", c.text_model, "Text model folder (default MODELS/text)");
  cmd->add_option("--face-model", c.face_model, "Face model folder (default MODELS/face, e.g. models/face-vit)");
  if (with_fusion) cmd->add_option("--fusion", c.fusion_file, "Fusion file (default MODELS/fusion.json)");
  add_mirror_flags(cmd, c.mirror);
}

void add_mirror_flags(CLI::App* cmd, std::optional<bool>& mirror) {
  cmd->add_flag_callback("--mirror", [&mirror] { mirror = true; },
                         "Also read each face as its mirror image and average the two (default: as the face\n"
                         "model's config.json says, test_time_mirror)");
  cmd->add_flag_callback("--no-mirror", [&mirror] { mirror = false; }, "Read each face once, not also as its mirror image");
}

void apply_model_choice(const ModelChoice& c, predict::PredictorOptions& o) {
  o.models_dir = find_models_dir(c.models_dir);
  o.text_model = c.text_model;
  o.face_model = c.face_model;
  o.fusion_file = c.fusion_file;
  o.face_mirror = c.mirror;
}

predict::PredictorOptions predictor_options(const ModelChoice& c) {
  predict::PredictorOptions o;
  apply_model_choice(c, o);
  return o;
}

void add_detector_options(CLI::App* cmd, vision::DetectorOptions& d) {
  cmd->add_option("--detector", d.kind,
                  "Face detector: lbp (OpenCV's LBP cascade) or cnn (face-api's Tiny Face Detector, MODELS/detector)")
      ->capture_default_str()->check(CLI::IsMember({"lbp", "cnn"}));
  cmd->add_option("--detect-side", d.detect_side, "The cascade runs on a copy this long on its longer side")
      ->capture_default_str()->check(CLI::Range(48, 8192));
  cmd->add_option("--scale-factor", d.scale_factor, "Cascade step between window sizes (larger: faster, may miss faces)")
      ->capture_default_str()->check(CLI::Range(1.01, 2.0));
  cmd->add_option("--min-neighbors", d.min_neighbors, "Raw detections a face needs (larger: fewer false faces)")
      ->capture_default_str()->check(CLI::Range(0, 100));
  cmd->add_option("--min-score", d.min_score, "CNN: the score a face needs (0: config.json's, face-api's 0.5)")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--cnn-input", d.cnn_input, "CNN: the side the picture is read at, a multiple of 32 (0: config.json's)")
      ->capture_default_str()->check(CLI::Range(0, 1024));
}

}  // namespace emopost::app

int main(int argc, char** argv) {
  using namespace emopost;
  // On a busy machine, OpenMP threads that spin between parallel regions take the CPU the other work
  // needs; on a quiet one, threads that sleep at once wake too late. libgomp reads its policy once,
  // as it loads, before main: so emopost re-executes itself once with a short spin (3,000 turns),
  // then sleep. 300 photos of photos-val, 2 threads (bench/RESULTS.md, 2026-12-07): 9.0 s quiet and
  // 22.7 s beside two busy processes, against 10.3 s and 80.3 s spinning (OMP_WAIT_POLICY=active) and
  // 13.1 s and 26.8 s sleeping at once (passive). A policy or spin count the user set is kept.
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT") && setenv("OMP_WAIT_POLICY", "passive", 1) == 0 &&
      setenv("GOMP_SPINCOUNT", "3000", 1) == 0)
    execv("/proc/self/exe", argv);
  // Buffers of 256 KiB and more (torch's activations) are mapped and unmapped, not taken from the
  // heap: glibc's adaptive threshold otherwise moves them onto the heap, where the small face crops
  // kept between detections pin the space they free, and reading FER2013 through the CNN grew by
  // ~5 MB a face (1.2 GB for 1,500 faces; 0.2 GB flat with this).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  // Logs go to stderr so that stdout carries only results (JSON, tables).
  spdlog::set_default_logger(spdlog::stderr_color_mt("emopost"));
  CLI::App cli{
      "emopost reads the emotional colouring of social-media posts (a picture and an English\n"
      "caption) with a DistilBERT text model and a face model (by default a MobileNet pretrained on\n"
      "faces) over 7 labels: anger, disgust, fear, joy, neutral, sadness, surprise."};
  cli.require_subcommand(1);
  cli.set_version_flag("--version", "emopost 0.1.0");
  int threads = 0;
  cli.add_option("--threads", threads, "Intra-op threads (0 = all cores)")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  std::string exit_codes = "Exit codes: 0 success";
  for (int code : {2, 3, 4, 5, 1}) {
    exit_codes += fmt::format("; {}:", code);
    for (const auto& k : kErrorTable)
      if (k.exit_code == code) exit_codes += fmt::format(" {}", k.name);
  }
  cli.footer(exit_codes + ".");

  app::Commands commands;
  app::add_train_commands(cli, commands);
  app::add_predict_command(cli, commands);
  app::add_calibrate_command(cli, commands);
  app::add_study_faces_command(cli, commands);
  app::add_serve_command(cli, commands);
  app::add_telegram_command(cli, commands);
  app::add_report_command(cli, commands);
  app::add_convert_command(cli, commands);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a bad option is the table's invalid_input, not CLI11's own code.
    return cli.exit(e) == 0 ? 0 : error_kind(Errc::invalid_input).exit_code;
  }
  try {
    for (auto& c : commands)
      if (c.cli->parsed()) {
        if (c.setup) c.setup();
        models::configure_runtime(threads);
        return c.run();
      }
  } catch (const Error& e) {
    spdlog::error("{} [{}]", e.what(), e.code());
    return e.kind().exit_code;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return error_kind(Errc::internal).exit_code;
  }
  return 0;
}
