#pragma once
// Social-media text to the plain English the text model was trained on: emojis and emoticons become
// their names, hashtags become words, links go, the @mentions that open a reply go and other @mentions
// become [NAME] (GoEmotions' own mask), and words the vocab lacks are respelled (spelling.h).
// The bert-base-uncased vocab maps every emoji to [UNK], so without this 😂 and 😡 read the same.
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "emopost/text/spelling.h"

namespace emopost::text {

// Debian's unicode-cldr-core: English short names (annotations) and the names of derived
// sequences such as ZWJ families (annotationsDerived).
inline const std::filesystem::path kCldrAnnotationsDir = "/usr/share/unicode/cldr/common";

class TextNormalizer {
 public:
  // Reads annotations/en.xml and annotationsDerived/en.xml under `cldr_dir`. `words`: the model's
  // vocab words, which split hashtags written without capitals (#mondaymotivation), and a word
  // list; together they decide which words are respelled, and into what (spelling.h).
  // Throws emopost::Error when the CLDR files are missing or hold no emoji names.
  static TextNormalizer from_cldr(const std::filesystem::path& cldr_dir, Lexicon words);
  TextNormalizer(std::unordered_map<std::string, std::string> emoji_names, Lexicon words);

  // Throws emopost::Error (code "invalid_utf8") on invalid UTF-8. The result has single spaces and
  // no leading or trailing space; it is empty when nothing readable is left.
  std::string normalize(std::string_view text) const;

  // #MondayMotivation -> "monday motivation", #iloveyou -> "i love you" (when the words are known).
  std::string split_hashtag(std::string_view tag) const;
  // The CLDR name of one emoji sequence (skin tones and U+FE0F ignored), or "" when unknown.
  std::string emoji_name(std::string_view emoji) const;
  size_t emoji_count() const { return names_.size(); }

 private:
  std::string segment(std::string_view lower) const;
  void replace_emojis(std::string_view text, std::string& out) const;

  std::unordered_map<std::string, std::string> names_;  // UTF-8 sequence -> short name
  Lexicon words_;
  size_t longest_key_ = 0;  // bytes
};

}  // namespace emopost::text
