#include "emopost/core/files.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

namespace emopost {

std::string read_file(const std::filesystem::path& path, Errc code) {
  // A directory opens as a stream on Linux and then fails inside libstdc++ in ways that differ
  // between builds; name the problem before reading.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(fmt::format("cannot read {}: it is a directory", path.string()), code);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)), code);
  std::string text;
  try {  // libstdc++ throws from the stream buffer on read errors such as EISDIR
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {
    throw Error(fmt::format("cannot read {}: {}", path.string(), e.what()), code);
  }
  if (in.bad()) throw Error(fmt::format("cannot read {}", path.string()), code);
  return text;
}

}  // namespace emopost
