#pragma once
// emopost's JSON helpers, in one place: files in and out, parsing with errors that name the input,
// and output that cannot fail.
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace emopost {

// Error messages may echo the client's bytes, and nlohmann::json refuses to write invalid UTF-8,
// so such bytes become U+FFFD instead of a second error.
inline std::string dump_json(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Deep enough for any document emopost reads (posts, configs, fusion.json); a deeper one would make
// every recursive walk of it (dump, copy, compare) a way to overflow the stack.
inline constexpr int kMaxJsonDepth = 64;

// Parses `text`; throws emopost::Error (invalid_json) whose message starts with `what`, also when
// arrays and objects nest deeper than `max_depth`.
nlohmann::json parse_json(std::string_view text, std::string_view what, int max_depth = kMaxJsonDepth);

// Reads a JSON file, throwing emopost::Error with the path on I/O or parse errors.
nlohmann::json read_json_file(const std::filesystem::path& path);
// Writes `j` indented by 2, as transformers' save_pretrained does.
void write_json_file(const std::filesystem::path& path, const nlohmann::json& j);

}  // namespace emopost
