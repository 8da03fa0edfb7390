#include "emopost/core/json.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/core/files.h"

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
  const std::string text = read_file(path);
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
