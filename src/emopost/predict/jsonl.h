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

// Where a JSONL file's "image" paths may lead: relative ones are taken from `base_dir`; with `root`,
// every path must resolve (symbolic links followed) to a file inside it. Only regular files are
// read, and only up to `max_bytes`: a FIFO or /dev/zero is refused, not waited on or read forever.
struct ImageFiles {
  std::filesystem::path base_dir;
  std::filesystem::path root;  // empty: anywhere
  size_t max_bytes = 50u << 20;
};

// The bytes of an image file under those rules; throws emopost::Error (bad_image, image_too_large,
// invalid_field for a path outside the root).
std::string read_image_file(const std::string& path, const ImageFiles& files);

// A post from JSON {"id", "text", "image", "image_base64"}. With `files`, "image" is a file path;
// without, "image" is base64 data, as in the HTTP API. Throws emopost::Error naming the problem.
Post post_from_json(const nlohmann::json& j, const ImageFiles* files = nullptr);

// A post's "id": a string, or a number written as JSON writes it; "" when absent. Anything else
// throws emopost::Error (invalid_field): ids are echoed back, and an echoed array could be deep.
std::string post_id(const nlohmann::json& j);

// One line of a JSONL file of posts, its image paths read under `files`' rules.
Post parse_post_line(const std::string& line, const ImageFiles& files);

// Reads posts from `in` and writes one result line per input line to `out`, `chunk` posts per
// pass through the models. `total_lines` (0 = unknown) sizes the progress bar.
JsonlStats run_jsonl(const Predictor& predictor, std::istream& in, std::ostream& out, const ImageFiles& files,
                     size_t chunk = 32, size_t total_lines = 0, bool progress = true);

}  // namespace emopost::predict
