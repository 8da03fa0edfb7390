#include "emopost/train/face_reading.h"

#include <cstdint>
#include <fstream>
#include <functional>
#include <map>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "emopost/core/error.h"
#include "emopost/core/files.h"
#include "emopost/core/progress.h"
#include "emopost/models/face_detector.h"
#include "emopost/vision/augment.h"
#include "emopost/vision/faces.h"
#include "emopost/vision/preprocess.h"

namespace emopost::train {

namespace fs = std::filesystem;

namespace {

// Changes to any file or setting that shapes the faces give a new key, so a stale cache is never read.
std::string cache_key(const FaceReading& how, const vision::DetectorOptions& o, int channels) {
  std::string all = fmt::format("v2 {} {} {} {} {} {} {} {} {} ", how.detector, channels, how.margin, o.min_score,
                                o.cnn_input, o.detect_side, o.scale_factor, o.min_neighbors, o.min_face_fraction);
  if (how.detector == "cnn") {
    for (auto f : {how.detector_model / "model.safetensors", how.detector_model / "config.json",
                   how.landmarks_model / "model.safetensors", how.landmarks_model / "framing.json"})
      if (fs::exists(f)) all += read_file(f);  // without framing.json the CNN cuts unaligned
  } else {
    all += read_file(vision::kDefaultCascade);
  }
  return fmt::format("{}-{:016x}", how.detector, std::hash<std::string>{}(all));
}

// An example's name in the cache: its class folder and file name, whatever the data root's path.
std::string name_of(const fs::path& p) { return (p.parent_path().filename() / p.filename()).generic_string(); }

// A face as cut, and whether the detector found it (else the picture was read whole).
struct CachedFace {
  cv::Mat face;
  bool found = false;
};
using Faces = std::map<std::string, CachedFace>;

Faces load_cache(const fs::path& file) {
  Faces faces;
  std::ifstream in(file, std::ios::binary);
  if (!in) return faces;
  uint32_t n = 0;
  in.read(reinterpret_cast<char*>(&n), sizeof n);
  for (uint32_t i = 0; i < n && in; ++i) {
    uint32_t len = 0;
    int32_t rows = 0, cols = 0, type = 0;
    in.read(reinterpret_cast<char*>(&len), sizeof len);
    if (!in || len > 4096) break;
    std::string name(len, '\0');
    in.read(name.data(), len);
    in.read(reinterpret_cast<char*>(&rows), sizeof rows);
    in.read(reinterpret_cast<char*>(&cols), sizeof cols);
    in.read(reinterpret_cast<char*>(&type), sizeof type);
    char found = 0;
    in.read(&found, 1);
    if (!in || rows <= 0 || cols <= 0 || rows > 4096 || cols > 4096 || (type != CV_8UC1 && type != CV_8UC3)) break;
    cv::Mat m(rows, cols, type);
    in.read(reinterpret_cast<char*>(m.data), std::streamsize(m.total() * m.elemSize()));
    if (in) faces[name] = {m, found != 0};
  }
  if (faces.size() != n) spdlog::warn("{}: damaged face cache, reading again what it lacks", file.string());
  return faces;
}

void save_cache(const fs::path& file, const Faces& faces) {
  fs::create_directories(file.parent_path());
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    auto n = uint32_t(faces.size());
    out.write(reinterpret_cast<const char*>(&n), sizeof n);
    for (const auto& [name, cached] : faces) {
      const cv::Mat& m = cached.face;
      auto len = uint32_t(name.size());
      int32_t dims[] = {m.rows, m.cols, m.type()};
      const char found = cached.found;
      out.write(reinterpret_cast<const char*>(&len), sizeof len);
      out.write(name.data(), len);
      out.write(reinterpret_cast<const char*>(dims), sizeof dims);
      out.write(&found, 1);
      cv::Mat c = m.isContinuous() ? m : m.clone();
      out.write(reinterpret_cast<const char*>(c.data), std::streamsize(c.total() * c.elemSize()));
    }
    if (!out) throw Error("cannot write the face cache " + tmp.string());
  }
  fs::rename(tmp, file);  // a killed run leaves the old cache whole
}

cv::Mat in_channels(const cv::Mat& rgb, int channels) { return channels == 1 ? vision::rgb_to_luma(rgb) : rgb; }

// One seed per face, so that a face's damage does not depend on the faces read before it.
std::vector<cv::Mat> damaged(std::vector<cv::Mat> faces, const FaceReading& how) {
  if (!how.photo_damage) return faces;
  const auto options = vision::AugmentOptions::for_photos();
  for (size_t i = 0; i < faces.size(); ++i) {
    std::seed_seq seed{*how.photo_damage, unsigned(i)};
    std::mt19937 rng(seed);
    faces[i] = vision::augment(faces[i], rng, options);
  }
  return faces;
}

std::vector<cv::Mat> read_clean_faces(const std::vector<data::FaceExample>& examples, int channels,
                                      const FaceReading& how, const std::string& split, std::vector<char>* found_out) {
  std::vector<cv::Mat> out;
  out.reserve(examples.size());
  if (found_out) found_out->clear();
  if (how.detector.empty()) {
    ProgressBar bar(examples.size(), "decode " + split, "img");
    for (const auto& e : examples) out.push_back(in_channels(vision::read_rgb(e.path), channels)), bar.update(1);
    bar.finish();
    return out;
  }
  vision::DetectorOptions options;
  options.kind = how.detector;
  auto detector = models::make_face_detector(options, vision::kDefaultCascade, how.detector_model, how.landmarks_model);
  const fs::path file = how.cache / cache_key(how, options, channels) / (split + ".bin");
  Faces cached = load_cache(file);
  size_t fresh = 0, found = 0;
  ProgressBar bar(examples.size(), fmt::format("faces {} ({})", split, how.detector), "img");
  for (const auto& e : examples) {
    auto& [face, was_found] = cached[name_of(e.path)];
    if (face.empty()) {
      // Decoded as predict decodes it (in colour for a detector that reads colour), found and cut.
      const cv::Mat rgb = vision::read_rgb(e.path);
      const cv::Mat picture = detector->reads_colour() ? rgb : in_channels(rgb, channels);
      face = vision::read_face(picture, *detector, how.margin);
      was_found = face.data != picture.data;
      found += was_found;
      if (face.channels() != channels) face = in_channels(face, channels);
      ++fresh;
    }
    out.push_back(face);
    if (found_out) found_out->push_back(was_found);
    bar.update(1);
#ifdef __GLIBC__
    // The detector's freed activations sit between the kept crops on glibc's heap, which grows by
    // 2-5 MB a face; handing the free pages back every 32 faces holds it at 0.25-0.45 GB (every 256:
    // a saw-tooth up to ~2 GB).
    if (fresh % 32 == 31) malloc_trim(0);
#endif
  }
  bar.finish(fmt::format("{} read now, {} from {}", fresh, examples.size() - fresh, file.string()));
  if (!fresh) return out;
  spdlog::info("{}: of {} faces read now, the {} detector cut {}; the rest are read whole", split, fresh,
               how.detector, found);
  save_cache(file, cached);
  return out;
}

}  // namespace

std::vector<cv::Mat> read_faces(const std::vector<data::FaceExample>& examples, int channels, const FaceReading& how,
                                const std::string& split, std::vector<char>* found) {
  return damaged(read_clean_faces(examples, channels, how, split, found), how);
}

}  // namespace emopost::train
