#include "emopost/predict/photo_study.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/core/files.h"
#include "emopost/core/json.h"
#include "emopost/core/labels.h"
#include "emopost/core/progress.h"

namespace emopost::predict {

namespace fs = std::filesystem;

std::vector<AnnotatedPhoto> read_photo_set(const fs::path& dir) {
  const auto j = read_json_file(dir / "faces.json");
  std::vector<AnnotatedPhoto> set;
  for (const auto& [file, entry] : j.items()) {
    auto fail = [&](const std::string& what) {
      throw Error(fmt::format("{}: \"{}\": {}", (dir / "faces.json").string(), file, what), Errc::invalid_input);
    };
    if (!entry.is_object() || !entry.contains("faces") || !entry["faces"].is_array()) fail("needs a \"faces\" list");
    AnnotatedPhoto photo{file, {}};
    for (const auto& f : entry["faces"]) {
      const auto& b = f.value("box", nlohmann::json());
      if (!b.is_array() || b.size() != 4) fail("each face needs \"box\": [x, y, width, height]");
      PhotoFace face{cv::Rect(b[0].get<int>(), b[1].get<int>(), b[2].get<int>(), b[3].get<int>()), std::nullopt,
                     f.value("close_up", false)};
      if (face.box.width <= 0 || face.box.height <= 0) fail("a box has no area");
      if (f.contains("expression") && !f["expression"].is_null()) {
        const auto name = f["expression"].get<std::string>();
        const auto it = std::find(kLabels.begin(), kLabels.end(), name);
        if (it == kLabels.end()) fail("unknown expression \"" + name + "\"");
        face.label = int(it - kLabels.begin());
      }
      photo.faces.push_back(face);
    }
    set.push_back(std::move(photo));
  }
  return set;
}

bool same_face(const cv::Rect& found, const cv::Rect& truth) {
  auto centre = [](const cv::Rect& r) { return cv::Point(r.x + r.width / 2, r.y + r.height / 2); };
  return found.contains(centre(truth)) && truth.contains(centre(found));
}

namespace {

double ratio(size_t a, size_t b) { return b ? double(a) / double(b) : 0.0; }

}  // namespace

nlohmann::json study_photos(const Predictor& predictor, const fs::path& dir) {
  const auto set = read_photo_set(dir);
  size_t faces = 0, close_ups = 0, found = 0, close_ups_found = 0, boxes = 0, labelled = 0, labelled_found = 0,
         correct = 0;
  double read_ms = 0;  // decoding, detection and the face model, as predict reads a photo
  nlohmann::json per_photo = nlohmann::json::array();
  ProgressBar bar(set.size(), "photos", "photo");
  for (const auto& photo : set) {
    const Post post{photo.file, std::nullopt, read_file(dir / photo.file)};
    const auto start = std::chrono::steady_clock::now();
    Prediction p;
    try {
      p = predictor.predict(post);
    } catch (const Error& e) {
      if (e.errc() != Errc::no_signal) throw;  // no face found, and no caption: nothing to count
    }
    read_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    // Found boxes are matched to hand-checked faces one to one, in the detector's order (largest first).
    std::vector<bool> taken(photo.faces.size(), false);
    size_t photo_found = 0, photo_false = 0;
    for (const auto& f : p.faces) {
      if (f.whole_image) continue;  // the crop fallback is not a detection
      ++boxes;
      size_t match = photo.faces.size();
      for (size_t t = 0; t < photo.faces.size() && match == photo.faces.size(); ++t)
        if (!taken[t] && same_face(f.box, photo.faces[t].box)) match = t;
      if (match == photo.faces.size()) {
        ++photo_false;
        continue;
      }
      taken[match] = true;
      ++photo_found;
      const auto& truth = photo.faces[match];
      close_ups_found += truth.close_up;
      if (truth.label) {
        ++labelled_found;
        correct += std::max_element(f.probabilities.begin(), f.probabilities.end()) - f.probabilities.begin() ==
                   *truth.label;
      }
    }
    for (const auto& t : photo.faces) close_ups += t.close_up, labelled += t.label.has_value();
    faces += photo.faces.size();
    found += photo_found;
    per_photo.push_back({{"file", photo.file}, {"faces", photo.faces.size()}, {"found", photo_found},
                         {"false_boxes", photo_false}});
    bar.update(1);
  }
  bar.finish();
  return {{"detector", predictor.detector().options().kind},
          {"photos", set.size()},
          {"faces", faces},
          {"found", found},
          {"recall", ratio(found, faces)},
          {"close_ups", close_ups},
          {"close_ups_found", close_ups_found},
          {"close_up_recall", ratio(close_ups_found, close_ups)},
          {"boxes", boxes},
          {"false_boxes", boxes - found},
          {"false_box_rate", ratio(boxes - found, boxes)},
          {"ms_per_photo", set.empty() ? 0.0 : read_ms / double(set.size())},
          {"expression",
           {{"labelled_faces", labelled},
            {"found", labelled_found},
            {"correct", correct},
            {"accuracy_on_found", ratio(correct, labelled_found)},
            {"accuracy_of_all_labelled", ratio(correct, labelled)}}},
          {"per_photo", per_photo}};
}

}  // namespace emopost::predict
