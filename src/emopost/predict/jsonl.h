#pragma once
// `emopost predict --input posts.jsonl`: one JSON post per line in, exactly one JSON line out per
// line in. A bad line gets its own error record and the rest of the file goes on.
#include <filesystem>
#include <iosfwd>
#include <string>

#include "emopost/predict/predictor.h"

namespace emopost::predict {

struct JsonlStats {
  size_t lines = 0, ok = 0, errors = 0;
  double seconds = 0;
};

// A post from JSON {"id", "text", "image", "image_base64"}. With `image_dir`, "image" is a file path
// (relative ones are taken from that folder); without, "image" is base64 data, as in the HTTP API.
// Throws emopost::Error naming the problem.
Post post_from_json(const nlohmann::json& j, const std::filesystem::path* image_dir = nullptr);

// One line of a JSONL file of posts; relative image paths are taken from `base_dir`.
Post parse_post_line(const std::string& line, const std::filesystem::path& base_dir);

// Reads posts from `in` and writes one result line per input line to `out`, `chunk` posts per
// pass through the models. `total_lines` (0 = unknown) sizes the progress bar.
JsonlStats run_jsonl(const Predictor& predictor, std::istream& in, std::ostream& out,
                     const std::filesystem::path& base_dir, size_t chunk = 32, size_t total_lines = 0,
                     bool progress = true);

}  // namespace emopost::predict
