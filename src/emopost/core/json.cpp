#include "emopost/core/json.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "emopost/core/error.h"

namespace emopost {

using nlohmann::json;

namespace {
struct TooDeep {};
}  // namespace

json parse_json(std::string_view text, std::string_view what, int max_depth) {
  auto limit = [max_depth](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_depth)
      throw TooDeep{};
    return true;
  };
  try {
    return json::parse(text, limit);
  } catch (const json::exception& e) {
    throw Error(fmt::format("{} is not valid JSON: {}", what, e.what()), Errc::invalid_json);
  } catch (const TooDeep&) {
    throw Error(fmt::format("{} nests arrays and objects more than {} deep", what, max_depth), Errc::invalid_json);
  }
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  // A directory opens as a stream on Linux and then fails inside libstdc++ in ways that differ
  // between builds; name the problem before reading.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(fmt::format("cannot read {}: it is a directory", path.string()));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  std::string text;
  try {  // libstdc++ throws from the stream buffer on read errors such as EISDIR
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {
    throw Error(fmt::format("cannot read {}: {}", path.string(), e.what()));
  }
  if (in.bad()) throw Error(fmt::format("cannot read {}", path.string()));
  try {
    return parse_json(text, path.string());
  } catch (const Error& e) {
    throw Error(e.what());  // a file's problem, not a request's: keep the default code
  }
}

void write_json_file(const std::filesystem::path& path, const nlohmann::json& j) {
  std::string text;
  try {
    text = j.dump(2) + "\n";  // the layout transformers' save_pretrained produces
  } catch (const json::exception& e) {
    throw Error(fmt::format("cannot serialise JSON for {}: {}", path.string(), e.what()));
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(fmt::format("cannot create {}: {}", path.string(), std::strerror(errno)));
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.flush();
  if (!out) throw Error(fmt::format("cannot write {}", path.string()));
}

}  // namespace emopost
