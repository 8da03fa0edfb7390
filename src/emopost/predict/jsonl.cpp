#include "emopost/predict/jsonl.h"

#include <chrono>
#include <fstream>
#include <istream>
#include <ostream>
#include <sstream>

#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/core/progress.h"
#include "emopost/io/base64.h"

namespace emopost::predict {

namespace fs = std::filesystem;

Post post_from_json(const nlohmann::json& j, const fs::path* image_dir) {
  if (!j.is_object()) throw Error("a post must be a JSON object with \"text\" and/or \"image\"", Errc::invalid_json);
  Post p;
  auto string_field = [&](const char* key) -> std::optional<std::string> {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    if (!j[key].is_string()) throw Error(fmt::format("field \"{}\" must be a string", key), Errc::invalid_field);
    return j[key].get<std::string>();
  };
  if (j.contains("id")) p.id = j["id"].is_string() ? j["id"].get<std::string>() : dump_json(j["id"]);
  p.text = string_field("text");
  auto image = string_field("image");
  auto b64 = string_field("image_base64");
  if (image && b64) throw Error("give either \"image\" or \"image_base64\", not both", Errc::invalid_field);
  if (image && !image_dir) b64 = std::move(image);
  if (b64) p.image = io::base64_decode(*b64);
  if (image && image_dir) {
    fs::path file = fs::path(*image).is_absolute() ? fs::path(*image) : *image_dir / *image;
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error(fmt::format("cannot open image {}", file.string()), Errc::bad_image);
    p.image = std::string(std::istreambuf_iterator<char>(in), {});
  }
  return p;
}

Post parse_post_line(const std::string& line, const fs::path& base_dir) {
  return post_from_json(parse_json(line, "the line"), &base_dir);
}

JsonlStats run_jsonl(const Predictor& predictor, std::istream& in, std::ostream& out, const fs::path& base_dir,
                     size_t chunk, size_t total_lines, bool progress) {
  JsonlStats stats;
  const auto start = std::chrono::steady_clock::now();
  std::optional<ProgressBar> bar;
  if (progress) bar.emplace(total_lines, "predict", "post");

  // Each slot is either a parsed post or the error its line gave; order is kept.
  std::vector<Post> posts;
  std::vector<Outcome> parse_errors;
  std::vector<bool> parsed;
  std::vector<size_t> line_numbers;
  auto flush = [&] {
    auto results = predictor.predict_many(posts);
    size_t r = 0, e = 0;
    for (size_t k = 0; k < parsed.size(); ++k) {
      Outcome o = parsed[k] ? std::move(results[r++]) : std::move(parse_errors[e++]);
      auto j = o.to_json();
      j["line"] = line_numbers[k];
      out << dump_json(j) << '\n';
      (o.prediction ? stats.ok : stats.errors)++;
    }
    out.flush();
    if (bar) bar->update(parsed.size(), fmt::format("errors {}", stats.errors));
    posts.clear(), parse_errors.clear(), parsed.clear(), line_numbers.clear();
  };

  std::string line;
  while (std::getline(in, line)) {
    ++stats.lines;
    line_numbers.push_back(stats.lines);
    try {
      if (line.find_first_not_of(" \t\r") == std::string::npos) throw Error("the line is empty", Errc::invalid_json);
      posts.push_back(parse_post_line(line, base_dir));
      parsed.push_back(true);
    } catch (const Error& err) {
      parse_errors.push_back(Outcome::failed("", err));
      parsed.push_back(false);
    }
    if (parsed.size() >= chunk) flush();
  }
  if (!parsed.empty()) flush();
  if (bar) bar->finish(fmt::format("errors {}", stats.errors));
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace emopost::predict
