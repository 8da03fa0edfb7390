#pragma once
// `emopost predict --input posts.jsonl`: one JSON post per line in, exactly one JSON line out per
// line in. A bad line gets its own error record and the rest of the file goes on.
#include <filesystem>
#include <iosfwd>
#include <string>

#include "emopost/predict/post.h"

namespace emopost::predict {

struct JsonlStats {
  size_t lines = 0, ok = 0, errors = 0;
  double seconds = 0;
};

// Reads posts from `in` and writes one result line per input line to `out`, `chunk` posts per
// pass through the models. `total_lines` (0 = unknown) sizes the progress bar.
JsonlStats run_jsonl(const PostReader& predictor, std::istream& in, std::ostream& out, const ImageFiles& files,
                     size_t chunk = 32, size_t total_lines = 0, bool progress = true);

}  // namespace emopost::predict
