// `convert-detector`: face-api's tfjs Tiny Face Detector weights to a model folder (models/detector).
#include <spdlog/spdlog.h>

#include "command.h"
#include "emopost/models/face_detector.h"

namespace emopost::app {

void add_convert_command(CLI::App& app, Commands& out) {
  struct Options {
    std::filesystem::path manifest, out = "models/detector";
  };
  auto c = std::make_shared<Options>();
  auto* s = app.add_subcommand("convert-detector",
                               "Convert face-api's Tiny Face Detector (tfjs weights) to a model folder");
  s->add_option("--tfjs", c->manifest, "tiny_face_detector_model-weights_manifest.json (its shard beside it)")
      ->required()->check(CLI::ExistingFile);
  s->add_option("--out", c->out, "Model folder to write (config.json, model.safetensors)")->capture_default_str();
  s->footer("The weights come from npm @vladmandic/face-api (MIT), model/: `npm pack @vladmandic/face-api@1.7.15`.");
  out.push_back({s, [c] {
                   models::convert_tiny_face_detector(c->manifest, c->out);
                   spdlog::info("wrote {}", c->out.string());
                   return 0;
                 }});
}

}  // namespace emopost::app
