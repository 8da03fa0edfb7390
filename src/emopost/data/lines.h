#pragma once
// The data readers' shared line reading (datasets.cpp, xed.cpp): lines with their numbers, and errors
// that start with `file:line:`. Internal to data/. No torch here.
#include <filesystem>
#include <string>
#include <vector>

namespace emopost::data {

// Every message about a line starts with `file:line:` so that editors and people can jump to it:
// at_line() writes one (for a line skipped and recorded), fail_at() throws it.
std::string at_line(const std::filesystem::path& file, size_t line, const std::string& what);
[[noreturn]] void fail_at(const std::filesystem::path& file, size_t line, const std::string& what);

// Throws emopost::Error unless `split` is "train", "val" or "test".
void require_split(const std::string& split);

struct Line {
  size_t number;  // 1-based
  std::string text;
};

// Reads a text file as lines without '\n' / '\r\n' and without a leading UTF-8 BOM. Blank lines
// at the very end (a trailing newline, an editor adding one more) are dropped; a blank line in
// the middle is kept so that the parser reports it instead of silently skipping data.
std::vector<Line> read_lines(const std::filesystem::path& file);

}  // namespace emopost::data
