// `study-faces`: the face detector's recall and the crop margin's effect, measured.
#include <iostream>

#include "command.h"
#include "emopost/core/json.h"
#include "emopost/predict/calibrate.h"
#include "emopost/predict/photo_study.h"

namespace emopost::app {

void add_study_faces_command(CLI::App& app, Commands& out) {
  struct Options {
    ModelChoice models;
    vision::DetectorOptions detector;
    predict::FaceStudyRequest request;
    std::filesystem::path out, framing, photos;
  };
  auto o = std::make_shared<Options>();
  auto& r = o->request;
  auto* cmd = app.add_subcommand("study-faces",
                                 "Measure face-detector recall and how the crop margin changes face-model accuracy");
  add_model_options(cmd, o->models, /*with_fusion=*/false);
  add_detector_options(cmd, o->detector);
  cmd->add_option("--data", r.data_root, "Data root holding faces/")->capture_default_str();
  cmd->add_option("--split", r.split,
                  "FER2013 split: val (PublicTest) or test (PrivateTest); or photos-val (1,153 real face photos)")
      ->capture_default_str()->check(CLI::IsMember({"train", "val", "test", "photos-val"}));
  cmd->add_option("--photos", o->photos,
                  "Instead: measure the detector and the face model on this real-photo set (faces.json with\n"
                  "hand-checked boxes and expressions, as in samples/photos)");
  cmd->add_option("--limit", r.limit, "Use only N images");
  cmd->add_option("--out", o->out, "Also write the JSON here");
  cmd->add_option("--framing", o->framing,
                  "Instead: measure where FER2013's eyes sit (landmark net on --split, e.g. train) and write "
                  "that framing here (models/landmarks/framing.json)");
  out.push_back({cmd, [o] {
                   if (!o->framing.empty()) {
                     const auto models = predictor_options(o->models).models_dir;
                     auto j = predict::measure_face_framing(models / "landmarks", o->request.data_root,
                                                            o->request.split, o->request.limit);
                     write_json_file(o->framing, j);
                     std::cout << j.dump(2) << "\n";
                     return 0;
                   }
                   auto options = predictor_options(o->models);
                   options.detector = o->detector;
                   predict::Predictor predictor(options);
                   auto j = o->photos.empty() ? predict::study_faces(predictor, o->request)
                                              : predict::study_photos(predictor, o->photos);
                   if (!o->out.empty()) write_json_file(o->out, j);
                   std::cout << j.dump(2) << "\n";
                   return 0;
                 }});
}

}  // namespace emopost::app
