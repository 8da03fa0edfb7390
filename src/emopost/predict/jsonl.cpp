#include "emopost/predict/jsonl.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <istream>
#include <ostream>

#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/core/progress.h"
#include "emopost/io/base64.h"

namespace emopost::predict {

namespace fs = std::filesystem;

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

JsonlStats run_jsonl(const Predictor& predictor, std::istream& in, std::ostream& out, const ImageFiles& files,
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
