#pragma once
// Where emopost finds what it reads at run time, so that it works from any folder, installed or not.
#include <filesystem>

namespace emopost {

// <prefix>/share/emopost beside the running binary (<prefix>/bin/emopost), or "" when the binary
// is not installed that way.
std::filesystem::path installed_data_dir();

// The models folder: `given` when not empty, else $EMOPOST_MODELS, else ./models when it exists,
// else the installed share/emopost/models. Falls back to "models" so that errors name it.
std::filesystem::path find_models_dir(const std::filesystem::path& given = {});

}  // namespace emopost
