// Social-media text normalisation: emojis and emoticons to CLDR words, hashtags split, links and
// mentions normalised, invalid UTF-8 refused.
#include "emopost/text/normalize.h"

#include <gtest/gtest.h>

#include "emopost/text/tokenizer.h"
#include "support.h"

using emopost::text::TextNormalizer;
using namespace emopost::test;

namespace {

const TextNormalizer& normalizer() {
  static const TextNormalizer n = [] {
    auto tok = emopost::text::WordPieceTokenizer::from_file(fs::path(EMOPOST_TEST_DATA).parent_path().parent_path() /
                                                            "assets/vocab/bert-base-uncased-vocab.txt");
    std::vector<std::string> vocab;
    for (size_t i = 0; i < tok.vocab_size(); ++i) vocab.push_back(tok.id_to_token(int64_t(i)));
    return TextNormalizer::from_cldr(emopost::text::kCldrAnnotationsDir, emopost::text::hashtag_words(vocab));
  }();
  return n;
}

}  // namespace

TEST(Normalize, EmojisBecomeTheirCldrNames) {
  const auto& n = normalizer();
  EXPECT_GT(n.emoji_count(), 1500u);  // skin-tone variants fold into their base emoji
  EXPECT_EQ(n.normalize("😂"), "face with tears of joy");
  EXPECT_EQ(n.normalize("so tired😴"), "so tired sleeping face");
  EXPECT_EQ(n.normalize("❤️ it"), "red heart it");          // with U+FE0F
  EXPECT_EQ(n.normalize("👍🏽"), "thumbs up");               // skin tone dropped
  EXPECT_EQ(n.normalize("😡😡"), "enraged face enraged face");
  EXPECT_EQ(n.normalize("👨‍👩‍👧"), "family man, woman, girl");  // one ZWJ sequence, one name
  EXPECT_EQ(n.normalize("🇫🇷"), "flag France");
  EXPECT_EQ(n.emoji_name("😭"), "loudly crying face");
  EXPECT_EQ(n.emoji_name("a"), "");
}

TEST(Normalize, EmoticonsBecomeWordsOnlyAsWholeTokens) {
  const auto& n = normalizer();
  EXPECT_EQ(n.normalize(":("), "sad face");
  EXPECT_EQ(n.normalize("great :) :D <3"), "great smiling face grinning face red heart");
  EXPECT_EQ(n.normalize("meet at 10:30"), "meet at 10:30");  // not an emoticon
  EXPECT_EQ(n.normalize("why :'("), "why crying face");
}

TEST(Normalize, HashtagsSplitIntoWords) {
  const auto& n = normalizer();
  EXPECT_EQ(n.normalize("#MondayMotivation"), "monday motivation");
  EXPECT_EQ(n.split_hashtag("mondaymotivation"), "monday motivation");
  EXPECT_EQ(n.split_hashtag("iloveyou"), "i love you");
  EXPECT_EQ(n.split_hashtag("Top10Songs"), "top 10 songs");
  EXPECT_EQ(n.split_hashtag("BBCNews"), "bbc news");
  EXPECT_EQ(n.split_hashtag("xqzvvk"), "xqzvvk");  // nothing to split on: kept
  EXPECT_EQ(n.normalize("#sad!"), "sad!");
}

TEST(Normalize, LinksGoAndMentionsBecomeNames) {
  const auto& n = normalizer();
  EXPECT_EQ(n.normalize("@maria thanks! https://t.co/x1 www.example.com"), "[NAME] thanks!");
  EXPECT_EQ(n.normalize("hi @bob_2, ok"), "hi [NAME], ok");
  EXPECT_EQ(n.normalize("mail me@home"), "mail me@home");  // not a mention
}

TEST(Normalize, WhitespaceAndEmptyText) {
  const auto& n = normalizer();
  EXPECT_EQ(n.normalize("  a \t b\n"), "a b");
  EXPECT_EQ(n.normalize(" \n\t "), "");
  EXPECT_EQ(n.normalize("https://only.a/link"), "");
}

TEST(Normalize, InvalidUtf8IsAnError) {
  const auto& n = normalizer();
  expect_error_code([&] { n.normalize("ok \xC3\x28 no"); }, "invalid_utf8", "byte offset 3");
  expect_error_code([&] { n.normalize("\xF0\x9F\x98"); }, "invalid_utf8", "byte offset 0");
}

TEST(Normalize, MissingCldrDataIsAClearError) {
  expect_error([] { TextNormalizer::from_cldr("/nonexistent", {}); }, "unicode-cldr-core");
}
