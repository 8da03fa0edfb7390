#include "emopost/core/paths.h"

#include <cstdlib>
#include <system_error>

namespace emopost {

namespace fs = std::filesystem;

fs::path installed_data_dir() {
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  auto dir = exe.parent_path().parent_path() / "share" / "emopost";
  return fs::is_directory(dir, ec) ? dir : fs::path();
}

fs::path find_models_dir(const fs::path& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("EMOPOST_MODELS"); env && *env) return env;
  std::error_code ec;
  if (fs::is_directory("models", ec)) return "models";
  if (auto share = installed_data_dir(); !share.empty() && fs::is_directory(share / "models", ec))
    return share / "models";
  return "models";
}

}  // namespace emopost
