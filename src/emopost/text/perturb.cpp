#include "emopost/text/perturb.h"

#include <array>
#include <cctype>
#include <vector>

#include "emopost/core/labels.h"

namespace emopost::text {

namespace {

template <typename T>
const T& pick(const std::vector<T>& v, std::mt19937& rng) {
  return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

// Per label, in kLabels order: emojis and emoticons people add to say the same thing again.
const std::array<std::vector<std::string>, kNumLabels> kEmojis = {{
    {"😠", "🤬", "😤", "👿", "💢"},    // anger
    {"🤮", "😖", "🙄", "😑", "🤧"},    // disgust
    {"😨", "😰", "😧", "😟", "🫣"},    // fear
    {"😊", "🥰", "😁", "🎉", "❤️", "😄", "🙌"},  // joy
    {},                                // neutral: none says "neutral"
    {"😭", "💔", "😞", "😔", "🥺"},    // sadness
    {"😲", "🤯", "😯", "😳", "‼️"},     // surprise
}};
const std::array<std::vector<std::string>, kNumLabels> kEmoticons = {{
    {">:-(", "X-(", ">.<"}, {":-/", ":S"}, {":-S", "o_O"}, {":-)", ":D", "^_^", "<3", "xD"},
    {}, {":-(", ":'(", "T_T"}, {":-O", "O_o", ":o"},
}};
const std::vector<std::string> kHashtags = {"#monday", "#family", "#work", "#friends", "#today", "#thoughts",
                                            "#instagood", "#justsaying", "#random", "#photooftheday"};
const std::vector<std::string> kNames = {"@sam", "@jo_smith", "@alex92", "@mike", "@emma_w", "@team", "@dan", "@lucy"};

bool is_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)); }

// [begin, end) of each run of ASCII letters at least `min` long.
std::vector<std::pair<size_t, size_t>> words(const std::string& t, size_t min) {
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t i = 0; i < t.size();) {
    if (!is_letter(t[i])) {
      ++i;
      continue;
    }
    size_t e = i;
    while (e < t.size() && is_letter(t[e])) ++e;
    if (e - i >= min) out.emplace_back(i, e);
    i = e;
  }
  return out;
}

}  // namespace

std::string perturb(const std::string& text, int label, std::mt19937& rng) {
  const size_t l = label >= 0 && label < kNumLabels ? size_t(label) : 0;
  std::string t = text;
  for (int tries = 0; tries < 4; ++tries) {
    switch (std::uniform_int_distribution<int>(0, 9)(rng)) {
      case 0:
        for (auto& c : t) c = char(std::toupper(static_cast<unsigned char>(c)));
        return t;
      case 1: {  // a stretched word: "soooo", "happyyy"
        const auto w = words(t, 3);
        if (w.empty()) continue;
        const auto [b, e] = pick(w, rng);
        t.insert(e, std::string(std::uniform_int_distribution<size_t>(2, 5)(rng), t[e - 1]));
        return t;
      }
      case 2:
        if (kEmojis[l].empty()) continue;
        return t + " " + pick(kEmojis[l], rng);
      case 3:
        if (kEmoticons[l].empty()) continue;
        return t + " " + pick(kEmoticons[l], rng);
      case 4:
        return t + " " + pick(kHashtags, rng);
      case 5: {
        static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        std::string link = " https://t.co/";
        for (int i = 0; i < 10; ++i) link += kAlnum[std::uniform_int_distribution<int>(0, 61)(rng)];
        return t + link;
      }
      case 6:  // a name at the end: the reading drops the @mentions that open a reply
        return t + " " + pick(kNames, rng);
      case 7: {  // two neighbouring letters of a longer word swapped
        const auto w = words(t, 5);
        if (w.empty()) continue;
        const auto [b, e] = pick(w, rng);
        const size_t i = std::uniform_int_distribution<size_t>(b + 1, e - 2)(rng);
        std::swap(t[i], t[i + 1]);
        return t;
      }
      case 8:  // said again: long posts are read in windows, and each must still say it
        return t + " " + t + " " + t;
      default:
        if (!t.empty()) t[0] = char(std::toupper(static_cast<unsigned char>(t[0])));
        return t;
    }
  }
  return t;
}

}  // namespace emopost::text
