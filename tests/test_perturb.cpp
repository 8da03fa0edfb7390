// Training-time perturbations of texts (text/perturb.h): valid UTF-8 that the normaliser reads, a
// change in most draws, emojis only where one agrees with the label, the same draws for a seed.
#include "emopost/text/perturb.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "emopost/core/labels.h"
#include "emopost/text/normalize.h"

using namespace emopost;

namespace {

const text::TextNormalizer& normalizer() {
  static const auto n = text::TextNormalizer::from_cldr(text::kCldrAnnotationsDir, {});
  return n;
}

bool has_non_ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80) return true;
  return false;
}

}  // namespace

TEST(Perturb, ChangesMostDrawsAndEveryChangeIsReadable) {
  const std::string base = "i feel wonderful about the weekend with my family";
  for (int label = 0; label < kNumLabels; ++label) {
    std::mt19937 rng{static_cast<uint32_t>(label)};
    int changed = 0, emoji = 0;
    for (int i = 0; i < 500; ++i) {
      const auto t = text::perturb(base, label, rng);
      changed += t != base;
      ASSERT_NO_THROW(normalizer().normalize(t)) << t;
      if (has_non_ascii(t)) {
        ++emoji;
        // Each emoji has a CLDR name, so the model reads words, not [UNK].
        EXPECT_FALSE(has_non_ascii(normalizer().normalize(t))) << t;
      }
    }
    EXPECT_GT(changed, 400) << kLabels[label];
    if (kLabels[label] == "neutral") EXPECT_EQ(emoji, 0) << "no emoji says neutral";
    else EXPECT_GT(emoji, 20) << kLabels[label];
  }
}

TEST(Perturb, EachKindOfChangeIsDrawn) {
  const std::string base = "Finally home after a really long shift";
  std::mt19937 rng(7);
  std::map<std::string, int> seen;
  const auto spaces = [](const std::string& t) { return std::count(t.begin(), t.end(), ' '); };
  for (int i = 0; i < 2000; ++i) {
    const auto t = text::perturb(base, 3, rng);
    if (t == "FINALLY HOME AFTER A REALLY LONG SHIFT") ++seen["caps"];
    else if (t.find("https://t.co/") != std::string::npos) ++seen["link"];
    else if (t.find(" @") != std::string::npos) ++seen["mention"];
    else if (t.find(" #") != std::string::npos) ++seen["hashtag"];
    else if (t == base + " " + base + " " + base) ++seen["repeated"];
    else if (has_non_ascii(t)) ++seen["emoji"];
    else if (t.size() == base.size() && t != base) ++seen["typo"];
    else if (spaces(t) == spaces(base) && t.size() > base.size()) ++seen["stretched"];
    else if (spaces(t) == spaces(base) + 1 && t.rfind(base + " ", 0) == 0) ++seen["emoticon"];
  }
  for (const char* kind : {"caps", "link", "mention", "hashtag", "repeated", "emoji", "typo", "stretched", "emoticon"})
    EXPECT_GT(seen[kind], 50) << kind;
}

TEST(Perturb, ASeedGivesTheSameDrawsAndOddTextsPassThrough) {
  std::mt19937 a(3), b(3);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(text::perturb("so tired of this", 5, a), text::perturb("so tired of this", 5, b));
  std::mt19937 rng(1);
  for (int i = 0; i < 200; ++i) {
    EXPECT_NO_THROW(normalizer().normalize(text::perturb("!!!", 0, rng)));
    EXPECT_NO_THROW(normalizer().normalize(text::perturb("déjà vu 😂", 99, rng)));  // an unknown label reads as anger
  }
}
