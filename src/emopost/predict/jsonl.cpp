#include "emopost/predict/jsonl.h"

#include <chrono>
#include <istream>
#include <ostream>

#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/core/progress.h"

namespace emopost::predict {

JsonlStats run_jsonl(const PostReader& predictor, std::istream& in, std::ostream& out, const ImageFiles& files,
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
      posts.push_back(parse_post_line(line, files));
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
