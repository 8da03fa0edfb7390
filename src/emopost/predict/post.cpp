#include "emopost/predict/post.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "emopost/core/json.h"
#include "emopost/core/labels.h"
#include "emopost/io/base64.h"

namespace emopost::predict {

namespace fs = std::filesystem;

namespace {

nlohmann::json label_map(const Scores& s) {
  nlohmann::json j = nlohmann::json::object();
  for (int i = 0; i < kNumLabels; ++i) j[std::string(kLabels[i])] = s[i];
  return j;
}

}  // namespace

nlohmann::json Prediction::to_json() const {
  nlohmann::json faces_json = nlohmann::json::array();
  for (const auto& f : faces)
    faces_json.push_back({{"box", {{"x", f.box.x}, {"y", f.box.y}, {"width", f.box.width}, {"height", f.box.height}}},
                          {"whole_image", f.whole_image},
                          {"label", std::string(kLabels[fusion::argmax(f.probabilities)])},
                          {"probabilities", label_map(f.probabilities)},
                          {"weight", f.weight}});
  nlohmann::json attr = nlohmann::json::array();
  for (const auto& a : attribution) attr.push_back({{"word", a.word}, {"score", a.score}});
  nlohmann::json timings = nlohmann::json::object();
  for (const auto& [k, v] : timings_ms) timings[k] = v;
  auto optional_map = [](const std::optional<Scores>& s) { return s ? label_map(*s) : nlohmann::json(nullptr); };
  nlohmann::json j = {
      {"label", std::string(kLabels[label])},
      {"confidence", confidence},
      {"modalities", modalities},
      {"notes", notes},
      {"probabilities", {{"fused", label_map(fused)}, {"text", optional_map(text)}, {"image", optional_map(image)}}},
      {"text", {{"normalized", normalized_text}, {"windows", text_windows}}},
      {"image", image_width ? nlohmann::json{{"width", image_width}, {"height", image_height}} : nlohmann::json(nullptr)},
      {"faces", faces_json},
      {"timings_ms", timings}};
  if (!id.empty()) j["id"] = id;
  if (!attribution.empty()) j["attribution"] = attr;
  return j;
}

nlohmann::json Outcome::to_json() const {
  if (prediction) return prediction->to_json();
  nlohmann::json j = {{"error", {{"code", error_kind(error_code).name}, {"message", error_message}}}};
  if (!id.empty()) j["id"] = id;
  return j;
}

std::string post_id(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("id") || j["id"].is_null()) return "";
  const auto& id = j["id"];
  if (id.is_string()) return id.get<std::string>();
  if (id.is_number()) return id.dump();
  throw Error(fmt::format("field \"id\" must be a string or a number, not {}", id.type_name()), Errc::invalid_field);
}

std::string read_image_file(const std::string& path, const ImageFiles& files) {
  fs::path file = fs::path(path).is_absolute() ? fs::path(path) : files.base_dir / path;
  if (!files.root.empty()) {
    std::error_code root_ec, file_ec;
    const auto root = fs::weakly_canonical(files.root, root_ec);
    const auto real = fs::weakly_canonical(file, file_ec);
    const auto [r, f] = std::mismatch(root.begin(), root.end(), real.begin(), real.end());
    if (root_ec || file_ec || r != root.end())
      throw Error(fmt::format("image {} is outside the image root {}", path, files.root.string()), Errc::invalid_field);
    file = real;
  }
  // Opened without blocking (a FIFO would wait for a writer) and checked on the open descriptor,
  // so that what is checked is what is read.
  const int fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("cannot open image {}", path), Errc::bad_image);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    throw Error(fmt::format("image {} is not a regular file", path), Errc::bad_image);
  if (size_t(st.st_size) > files.max_bytes)
    throw Error(fmt::format("image {} is over the limit of {} bytes", path, files.max_bytes), Errc::image_too_large);
  std::string bytes(size_t(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const auto n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += size_t(n);
  }
  bytes.resize(got);  // a file that shrank while read is decoded as what was there
  return bytes;
}

Post post_from_json(const nlohmann::json& j, const ImageFiles* files) {
  if (!j.is_object()) throw Error("a post must be a JSON object with \"text\" and/or \"image\"", Errc::invalid_json);
  Post p;
  auto string_field = [&](const char* key) -> std::optional<std::string> {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    if (!j[key].is_string()) throw Error(fmt::format("field \"{}\" must be a string", key), Errc::invalid_field);
    return j[key].get<std::string>();
  };
  p.id = post_id(j);
  p.text = string_field("text");
  auto image = string_field("image");
  auto b64 = string_field("image_base64");
  if (image && b64) throw Error("give either \"image\" or \"image_base64\", not both", Errc::invalid_field);
  if (image && !files) b64 = std::move(image);
  if (b64) p.image = io::base64_decode(*b64);
  if (image && files) p.image = read_image_file(*image, *files);
  return p;
}

Post parse_post_line(const std::string& line, const ImageFiles& files) {
  return post_from_json(parse_json(line, "the line"), &files);
}

void settle_verdict(Prediction& p, const fusion::FusionModel& fusion) {
  p.modalities.clear();
  if (p.text) p.modalities.push_back("text");
  if (p.image) p.modalities.push_back("image");
  p.fused = fusion.fuse(p.text, p.image);
  p.label = fusion::argmax(p.fused);
  p.confidence = p.fused[size_t(p.label)];
}

std::optional<Scores> pool_faces(std::vector<Face>& faces) {
  if (faces.empty()) return std::nullopt;
  double total = 0;
  for (auto& f : faces) {
    f.weight = double(f.box.area()) * *std::max_element(f.probabilities.begin(), f.probabilities.end());
    total += f.weight;
  }
  Scores pooled{};
  for (auto& f : faces) {
    f.weight = total > 0 ? f.weight / total : 1.0 / double(faces.size());
    for (int c = 0; c < kNumLabels; ++c) pooled[c] += f.weight * f.probabilities[c];
  }
  return pooled;
}

}  // namespace emopost::predict
