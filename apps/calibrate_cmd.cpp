// `calibrate`: fits the fusion on validation posts and writes fusion.json.
#include <iostream>

#include <spdlog/spdlog.h>

#include "command.h"
#include "emopost/core/error.h"
#include "emopost/predict/calibrate.h"

namespace emopost::app {

void add_calibrate_command(CLI::App& app, Commands& out) {
  struct Options {
    ModelChoice models;
    predict::CalibrationRequest request;
    std::filesystem::path out;
    bool int8 = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("calibrate",
                                 "Fit the fusion (temperatures and weights) on validation posts; write fusion.json");
  add_model_options(cmd, o->models, /*with_fusion=*/false);
  cmd->add_option("--data", o->request.data_root, "Data root holding text/ and faces/")->capture_default_str();
  cmd->add_option("--out", o->out, "Output file (default MODELS/fusion.json)");
  cmd->add_option("--limit", o->request.limit, "Use only N texts and faces per split (smoke runs)");
  cmd->add_option("--face-labels", o->request.face_labels,
                  "The FER2013 faces' labels: fer2013 (its own) or ferplus (the majority of FER+'s ten votes;\n"
                  "faces without a usable one left out), for a face model that learnt them")
      ->capture_default_str()->check(CLI::IsMember({"fer2013", "ferplus"}));
  cmd->add_flag("--int8", o->int8, "Run the transformer linears in dynamic int8");
  out.push_back({cmd, [o] {
                   // A fusion fitted for another pair must not silently replace the shipped pair's.
                   if (o->out.empty() && !(o->models.text_model.empty() && o->models.face_model.empty()))
                     throw Error("with --text-model or --face-model, give --out: MODELS/fusion.json belongs to "
                                 "MODELS' own pair");
                   auto options = predictor_options(o->models);
                   options.int8 = o->int8;
                   predict::Predictor predictor(options);
                   auto model = predict::fit_fusion(predictor, o->request);
                   auto file = o->out.empty() ? options.models_dir / "fusion.json" : o->out;
                   model.save(file);
                   auto j = model.to_json();
                   j.erase("fused_report");
                   std::cout << j.dump(2) << "\n";
                   spdlog::info("wrote {}", file.string());
                   return 0;
                 }});
}

}  // namespace emopost::app
