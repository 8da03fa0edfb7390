#pragma once
// Reading a whole file, with errors that name it. No torch here.
#include <filesystem>
#include <string>

#include "emopost/core/error.h"

namespace emopost {

// The file's bytes. Throws emopost::Error (`code`) naming the file when it is a directory, cannot be
// opened or fails while read.
std::string read_file(const std::filesystem::path& path, Errc code = Errc::invalid_input);

}  // namespace emopost
