#pragma once
// Training-time changes to a text that keep its meaning, the way people write posts: capitals,
// stretched words, an emoji or emoticon that agrees with the label, a hashtag, a link, an @mention,
// a typo, or the text said twice. The text model trained on CARER and GoEmotions alone loses its
// label on such posts far more often than on the texts themselves (bench/RESULTS.md, the yardstick).
// The lists here differ from the perturbation suite's (tests/data/perturbations), which measures
// what this teaches on other words and symbols.
#include <random>
#include <string>

namespace emopost::text {

// One change, picked at random, of `text` whose label is `label` (an index into kLabels).
std::string perturb(const std::string& text, int label, std::mt19937& rng);

}  // namespace emopost::text
