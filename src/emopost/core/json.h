#pragma once
// JSON output that cannot fail: error messages may echo the client's bytes, and nlohmann::json
// refuses to write invalid UTF-8, so such bytes become U+FFFD instead of a second error.
#include <string>

#include <nlohmann/json.hpp>

namespace emopost {

inline std::string dump_json(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace emopost
