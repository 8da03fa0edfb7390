#include "emopost/predict/calibrate.h"

#include <chrono>
#include <functional>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "emopost/core/error.h"
#include "emopost/core/progress.h"
#include "emopost/data/datasets.h"
#include "emopost/eval/scores.h"
#include "emopost/io/hf_config.h"
#include "emopost/models/face_detector.h"

namespace emopost::predict {

namespace fs = std::filesystem;
using fusion::Scores;

namespace {

std::vector<Scores> logits_in_chunks(size_t n, const std::string& label, const std::string& unit,
                                     const std::function<std::vector<Scores>(size_t, size_t)>& run) {
  std::vector<Scores> out;
  ProgressBar bar(n, label, unit);
  for (size_t begin = 0; begin < n; begin += 256) {
    size_t end = std::min(n, begin + 256);
    auto part = run(begin, end);
    out.insert(out.end(), part.begin(), part.end());
    bar.update(end - begin);
  }
  bar.finish();
  return out;
}

struct Split {
  std::vector<Scores> text_logits, face_logits;
  std::vector<int> text_labels, face_labels;
};

Split load_split(const Predictor& predictor, const CalibrationRequest& r, const std::string& text_split,
                 const std::string& face_split) {
  Split s;
  auto texts = data::read_text_recipe(r.data_root, r.recipe, text_split);
  auto faces = data::read_fer2013(r.data_root, face_split);
  if (r.face_labels == "ferplus") data::relabel_ferplus(faces, r.data_root, /*soft=*/false);
  data::take_evenly(texts, r.limit);
  data::take_evenly(faces, r.limit);
  // Read as training read them: texts with no words left are left out there and here.
  std::vector<text::TextInput> inputs;
  for (const auto& t : texts) {
    auto in = predictor.reader().read(t.text);
    if (in.empty()) continue;
    inputs.push_back(std::move(in));
    s.text_labels.push_back(t.label);
  }
  for (const auto& f : faces) s.face_labels.push_back(f.label);
  s.text_logits = logits_in_chunks(inputs.size(), "text " + text_split, "text", [&](size_t b, size_t e) {
    return predictor.text_logits(std::vector<text::TextInput>(inputs.begin() + ptrdiff_t(b), inputs.begin() + ptrdiff_t(e)));
  });
  // Each FER2013 image is read as the predictor reads a picture: its face found and cut (aligned, by
  // the CNN), or the image whole when none is found.
  s.face_logits = logits_in_chunks(faces.size(), "faces " + face_split, "img", [&](size_t b, size_t e) {
    std::vector<cv::Mat> batch;
    for (size_t i = b; i < e; ++i)
      batch.push_back(vision::read_face(vision::read_rgb(faces[i].path), predictor.detector(),
                                                  predictor.options().face_margin));
    return predictor.face_logits(batch);
  });
  return s;
}

std::vector<Scores> probabilities(const std::vector<Scores>& logits, double temperature) {
  std::vector<Scores> p;
  for (const auto& l : logits) p.push_back(fusion::softmax(l, temperature));
  return p;
}

std::vector<int> argmaxes(const std::vector<Scores>& p) {
  std::vector<int> out;
  for (const auto& s : p) out.push_back(fusion::argmax(s));
  return out;
}

double ece(const std::vector<Scores>& p, const std::vector<int>& labels) {
  std::vector<std::vector<double>> rows;
  for (const auto& s : p) rows.emplace_back(s.begin(), s.end());
  return eval::expected_calibration_error(rows, labels);
}

}  // namespace

std::vector<size_t> pair_faces(const std::vector<int>& text_labels, const std::vector<int>& face_labels,
                               uint32_t seed) {
  std::vector<std::vector<size_t>> by_label(kNumLabels);
  for (size_t i = 0; i < face_labels.size(); ++i) by_label.at(face_labels[i]).push_back(i);
  std::mt19937 rng(seed);
  std::vector<size_t> out;
  for (int y : text_labels) {
    const auto& pool = by_label.at(y);
    if (pool.empty()) throw Error(fmt::format("no face labelled {} to pair with a text", kLabels[y]));
    out.push_back(pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)]);
  }
  return out;
}

nlohmann::json score_posts(const fusion::FusionModel& fusion, const std::vector<Scores>& text_logits,
                           const std::vector<Scores>& image_logits, const std::vector<int>& labels) {
  auto text_raw = probabilities(text_logits, 1), image_raw = probabilities(image_logits, 1);
  auto text_cal = probabilities(text_logits, fusion.text_temperature);
  auto image_cal = probabilities(image_logits, fusion.image_temperature);
  std::vector<Scores> fused_raw, fused_cal;
  for (size_t i = 0; i < labels.size(); ++i) {
    fused_raw.push_back(fusion.fuse(text_raw[i], image_raw[i]));
    fused_cal.push_back(fusion.fuse(text_cal[i], image_cal[i]));
  }
  auto t = argmaxes(text_cal), im = argmaxes(image_cal), f = argmaxes(fused_cal);
  auto rt = eval::classification_report(labels, t, kNumLabels);
  auto ri = eval::classification_report(labels, im, kNumLabels);
  auto rf = eval::classification_report(labels, f, kNumLabels);
  // Posts whose text and face disagree: whom does the fusion follow, and is it right?
  size_t n = 0, follows_text = 0, follows_image = 0, neither = 0, text_right = 0, image_right = 0, fused_right = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (t[i] == im[i]) continue;
    ++n;
    follows_text += f[i] == t[i], follows_image += f[i] == im[i], neither += f[i] != t[i] && f[i] != im[i];
    text_right += t[i] == labels[i], image_right += im[i] == labels[i], fused_right += f[i] == labels[i];
  }
  auto frac = [&](size_t k) { return n ? double(k) / double(n) : 0.0; };
  std::vector<std::string> names(kLabels.begin(), kLabels.end());
  return {{"posts", labels.size()},
          {"text_only_accuracy", rt.accuracy}, {"image_only_accuracy", ri.accuracy}, {"fused_accuracy", rf.accuracy},
          {"text_only_macro_f1", rt.macro_f1}, {"image_only_macro_f1", ri.macro_f1}, {"fused_macro_f1", rf.macro_f1},
          {"ece_before_calibration", {{"text", ece(text_raw, labels)}, {"image", ece(image_raw, labels)},
                                      {"fused", ece(fused_raw, labels)}}},
          {"ece_after_calibration", {{"text", ece(text_cal, labels)}, {"image", ece(image_cal, labels)},
                                     {"fused", ece(fused_cal, labels)}}},
          {"disagreement", {{"posts", n}, {"share_of_posts", double(n) / double(labels.size())},
                            {"fused_follows_text", frac(follows_text)}, {"fused_follows_image", frac(follows_image)},
                            {"fused_picks_a_third_label", frac(neither)}, {"text_accuracy", frac(text_right)},
                            {"image_accuracy", frac(image_right)}, {"fused_accuracy", frac(fused_right)}}},
          {"fused_report", rf.to_json(names)}};
}

fusion::FusionModel fit_fusion(const Predictor& predictor, const CalibrationRequest& r) {
  if (r.face_labels != "fer2013" && r.face_labels != "ferplus")
    throw Error("unknown face labels \"" + r.face_labels + "\" (fer2013 or ferplus)");
  auto val = load_split(predictor, r, "val", "val");
  auto test = load_split(predictor, r, "test", "test");

  fusion::FusionModel model;
  model.text_temperature = fusion::fit_temperature(val.text_logits, val.text_labels);
  model.image_temperature = fusion::fit_temperature(val.face_logits, val.face_labels);
  spdlog::info("temperatures: text {:.3f}, image {:.3f}", model.text_temperature, model.image_temperature);

  auto posts = [&](const Split& s, uint32_t seed) {
    auto idx = pair_faces(s.text_labels, s.face_labels, seed);
    std::vector<Scores> faces;
    for (auto i : idx) faces.push_back(s.face_logits[i]);
    return faces;
  };
  auto val_faces = posts(val, r.seed);
  auto [wt, wi] = fusion::fit_weights(probabilities(val.text_logits, model.text_temperature),
                                      probabilities(val_faces, model.image_temperature), val.text_labels);
  model.text_weight = wt, model.image_weight = wi;
  spdlog::info("weights: text {:.2f}, image {:.2f}", wt, wi);

  model.report = score_posts(model, test.text_logits, posts(test, r.seed + 1), test.text_labels);
  model.report["validation"] = score_posts(model, val.text_logits, val_faces, val.text_labels);
  model.report["validation"].erase("fused_report");
  model.report["data"] = {{"recipe", r.recipe}, {"seed", r.seed}, {"limit", r.limit}, {"face_labels", r.face_labels},
                          {"validation_posts", "CARER+GoEmotions val texts, each with a FER2013 PublicTest face of its label"},
                          {"test_posts", "CARER+GoEmotions test texts, each with a FER2013 PrivateTest face of its label"},
                          {"text_val", val.text_labels.size()}, {"face_val", val.face_labels.size()},
                          {"text_test", test.text_labels.size()}, {"face_test", test.face_labels.size()}};
  return model;
}

nlohmann::json study_faces(const Predictor& predictor, const FaceStudyRequest& r) {
  auto faces = data::read_face_split(r.data_root, r.split);
  data::take_evenly(faces, r.limit);
  const auto& detector = predictor.detector();
  std::vector<int> labels, detected_labels;
  std::vector<cv::Mat> whole, whole_detected, cut_detected;
  std::vector<std::vector<cv::Mat>> by_margin(r.margins.size());
  double detect_ms = 0;
  size_t found_with_fallback = 0;  // as predict reads a picture: a small square crop stands for its face
  {
    ProgressBar bar(faces.size(), "detect " + r.split, "img");
    for (const auto& f : faces) {
      cv::Mat img = vision::read_rgb(f.path);
      labels.push_back(f.label);
      whole.push_back(img);
      auto t = std::chrono::steady_clock::now();
      auto boxes = detector.detect(img, /*crop_fallback=*/false);
      detect_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
      found_with_fallback += !boxes.empty() || !detector.detect(img, /*crop_fallback=*/true).empty();
      if (!boxes.empty()) {
        detected_labels.push_back(f.label);
        whole_detected.push_back(img);
        cut_detected.push_back(detector.cut(img, boxes.front(), predictor.options().face_margin));  // as predict cuts it
        for (size_t m = 0; m < r.margins.size(); ++m)
          by_margin[m].push_back(vision::crop_with_margin(img, boxes.front().box, r.margins[m]));
      }
      bar.update(1);
    }
    bar.finish();
  }
  auto accuracy = [&](const std::vector<cv::Mat>& imgs, const std::vector<int>& y) {
    if (imgs.empty()) return nlohmann::json(nullptr);
    auto logits = logits_in_chunks(imgs.size(), "classify", "img", [&](size_t b, size_t e) {
      return predictor.face_logits(std::vector<cv::Mat>(imgs.begin() + b, imgs.begin() + e));
    });
    auto rep = eval::classification_report(y, argmaxes(logits), kNumLabels);
    return nlohmann::json{{"accuracy", rep.accuracy}, {"macro_f1", rep.macro_f1}};
  };
  nlohmann::json margins = nlohmann::json::array();
  for (size_t m = 0; m < r.margins.size(); ++m)
    margins.push_back({{"margin", r.margins[m]}, {"scores", accuracy(by_margin[m], detected_labels)}});
  nlohmann::json out = {
      {"split", r.split}, {"images", faces.size()},
      {"detector_recall", faces.empty() ? 0.0 : double(detected_labels.size()) / double(faces.size())},
      {"detect_ms_per_image", faces.empty() ? 0.0 : detect_ms / double(faces.size())},
      {"recall_with_crop_fallback", faces.empty() ? 0.0 : double(found_with_fallback) / double(faces.size())},
      {"whole_image_all", accuracy(whole, labels)},
      {"whole_image_on_detected", accuracy(whole_detected, detected_labels)},
      {"cut_as_predict_on_detected", accuracy(cut_detected, detected_labels)},
      {"crop_by_margin_on_detected", margins}};
  return out;
}

nlohmann::json measure_face_framing(const fs::path& landmarks, const fs::path& data_root, const std::string& split,
                                    size_t limit) {
  const auto net = models::FaceLandmarker::load(landmarks);
  auto faces = data::read_fer2013(data_root, split);
  data::take_evenly(faces, limit);
  if (faces.empty()) throw Error(fmt::format("no FER2013 {} images under {}", split, data_root.string()), Errc::invalid_input);
  std::array<std::vector<double>, 4> coords;  // left x, left y, right x, right y
  {
    ProgressBar bar(faces.size(), "framing " + split, "img");
    for (const auto& f : faces) {
      const cv::Mat img = vision::read_rgb(f.path);
      const auto eyes = vision::eye_centres(net.detect(img, cv::Rect2d(0, 0, img.cols, img.rows)).points);
      coords[0].push_back(eyes[0].x / img.cols), coords[1].push_back(eyes[0].y / img.rows);
      coords[2].push_back(eyes[1].x / img.cols), coords[3].push_back(eyes[1].y / img.rows);
      bar.update(1);
    }
    bar.finish();
  }
  auto quantile = [](std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[size_t(q * double(v.size() - 1) + 0.5)];
  };
  auto point = [&](int k, double q) { return nlohmann::json::array({quantile(coords[k], q), quantile(coords[k + 1], q)}); };
  return {{"left_eye", point(0, 0.5)},
          {"right_eye", point(2, 0.5)},
          {"left_eye_q25_q75", {point(0, 0.25), point(0, 0.75)}},
          {"right_eye_q25_q75", {point(2, 0.25), point(2, 0.75)}},
          {"measured_on", fmt::format("FER2013 {} ({} images), the landmark net on each whole 48x48 image", split,
                                      faces.size())},
          {"command", fmt::format("emopost study-faces --framing FILE --split {} --limit {}", split, limit)}};
}

}  // namespace emopost::predict
