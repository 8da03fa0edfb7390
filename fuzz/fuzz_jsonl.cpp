// libFuzzer target: the JSONL batch reader (`emopost predict --input`), with a stand-in reader.
// Whatever the file holds, each line in gets exactly one JSON line out, numbered in order; image
// paths are read only inside a scratch root.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>

#include "emopost/core/json.h"
#include "emopost/predict/jsonl.h"
#include "stand_in_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const emopost::test::StandInReader reader;
  static const emopost::predict::ImageFiles files = [] {
    const auto root = std::filesystem::temp_directory_path() / ("emopost_fuzz_jsonl_" + std::to_string(::getpid()));
    std::filesystem::create_directories(root);
    std::filesystem::copy_file(EMOPOST_SOURCE_DIR "/samples/face_happy.jpg", root / "face.jpg",
                               std::filesystem::copy_options::overwrite_existing);
    return emopost::predict::ImageFiles{root, root, 1 << 20};
  }();
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::ostringstream out;
  const auto stats = emopost::predict::run_jsonl(reader, in, out, files, 4, 0, /*progress=*/false);
  std::istringstream written(out.str());
  std::string line;
  size_t n = 0;
  while (std::getline(written, line)) {
    const auto j = emopost::parse_json(line, "an output line");
    if (j["line"] != ++n) __builtin_trap();
  }
  if (n != stats.lines || stats.ok + stats.errors != stats.lines) __builtin_trap();
  return 0;
}
