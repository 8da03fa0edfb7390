#pragma once
// `emopost demo`: until the predictor and the server exist, the main job reads one sample post with
// both architectures and prints shapes and timings.
#include <filesystem>
#include <string>

namespace emopost {

struct DemoOptions {
  std::filesystem::path models_dir = "models";
  std::string text = "I can't believe we finally made it to the beach 😂 #blessed";
  std::filesystem::path image = "samples/face_happy.jpg";
};

int run_demo(const DemoOptions& options, int threads);

}  // namespace emopost
