#pragma once
// The 7 labels shared by the text model, the face model and the fusion, in id order.
#include <array>
#include <optional>
#include <string_view>

namespace emopost {

inline constexpr std::array<std::string_view, 7> kLabels = {
    "anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"};
inline constexpr int kNumLabels = static_cast<int>(kLabels.size());

inline std::optional<int> label_id(std::string_view name) {
  for (int i = 0; i < kNumLabels; ++i)
    if (kLabels[i] == name) return i;
  return std::nullopt;
}

}  // namespace emopost
