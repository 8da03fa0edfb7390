// Social-media text normalisation: emojis and emoticons to CLDR words, hashtags split, links and
// mentions normalised, invalid UTF-8 refused.
#include "emopost/text/normalize.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "emopost/text/tokenizer.h"
#include "support.h"

using emopost::text::TextNormalizer;
using namespace emopost::test;

namespace {

// A CLDR tree of our own (annotations/en.xml, annotationsDerived/en.xml) in a fresh temp folder.
class TempCldr {
 public:
  TempCldr() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() /
            ("emopost_cldr_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(root_);
  }
  ~TempCldr() { fs::remove_all(root_); }
  const fs::path& root() const { return root_; }
  fs::path write(const std::string& rel, const std::string& content) const {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  fs::path root_;
};

std::string ldml(const std::string& annotations) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n"
         "<!DOCTYPE ldml SYSTEM \"../../common/dtd/ldml.dtd\">\n"
         "<ldml>\n\t<identity><language type=\"en\"/></identity>\n\t<annotations>\n" +
         annotations + "\t</annotations>\n</ldml>\n";
}

// 120 named emoji from U+1F300 on (from_cldr wants at least 100 names), as CLDR writes them.
std::string many_faces() {
  std::string out;
  for (char32_t c = 0x1F300; c < 0x1F300 + 120; ++c) {
    const std::string cp{char(0xF0), char(0x80 | ((c >> 12) & 0x3F)), char(0x80 | ((c >> 6) & 0x3F)),
                         char(0x80 | (c & 0x3F))};
    const std::string n = std::to_string(uint32_t(c));
    out += "\t\t<annotation cp=\"" + cp + "\">face | " + n + "</annotation>\n";
    out += "\t\t<annotation cp=\"" + cp + "\" type=\"tts\">face " + n + "</annotation>\n";
  }
  return out;
}

const TextNormalizer& normalizer() {
  static const TextNormalizer n = [] {
    auto tok = emopost::text::WordPieceTokenizer::from_file(fs::path(EMOPOST_TEST_DATA).parent_path().parent_path() /
                                                            "assets/vocab/bert-base-uncased-vocab.txt");
    return TextNormalizer::from_cldr(emopost::text::kCldrAnnotationsDir,
                                     {emopost::text::known_words(tok.tokens()), emopost::text::read_word_list()});
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
  EXPECT_EQ(n.normalize("thanks @maria! https://t.co/x1 www.example.com"), "thanks [NAME]!");
  EXPECT_EQ(n.normalize("hi @bob_2, ok"), "hi [NAME], ok");
  // A reply's opening mentions say whom it answers: the text reads as it would without them.
  EXPECT_EQ(n.normalize("@maria @bob_2: so happy for you"), "so happy for you");
  EXPECT_EQ(n.normalize("@maria so happy for @bob_2"), "so happy for [NAME]");
  EXPECT_EQ(n.normalize("@maria @bob"), "[NAME] [NAME]");  // nothing else to read
  EXPECT_EQ(n.normalize("mail me@home"), "mail me@home");  // not a mention
}

TEST(Normalize, WordsTheVocabLacksAreRespelled) {
  const auto& n = normalizer();
  // One edit from a known word: the commonest such word (BERT's vocab lists words by frequency).
  EXPECT_EQ(n.normalize("i feel anixous and off"), "i feel anxious and off");      // swapped
  EXPECT_EQ(n.normalize("Cannot dsiagree with this one"), "Cannot disagree with this one");
  EXPECT_EQ(n.normalize("i feel restles"), "i feel restless");                       // dropped
  EXPECT_EQ(n.normalize("so disapointed!"), "so disappointed!");                     // punctuation kept
  EXPECT_EQ(n.normalize("I FEEL ANIXOUS"), "I FEEL anxious");  // the tokenizer lower-cases anyway
  // Stretched letters cut to two, then to one.
  EXPECT_EQ(n.normalize("soooo happyyyy"), "so happy");
  EXPECT_EQ(n.normalize("Sometimessss"), "sometimes");
  EXPECT_EQ(n.normalize("cooool"), "cool");
  EXPECT_EQ(n.normalize("nooooooooooooooooooooooooooooooo"), "no");  // however long the stretch
  // Left as written: known words, short words (too many neighbours), words with no known neighbour,
  // and runs that are parts of contractions, handles, numbers or other scripts.
  EXPECT_EQ(n.normalize("Happy days"), "Happy days");
  EXPECT_EQ(n.normalize("tbh idk"), "tbh idk");
  EXPECT_EQ(n.normalize("hizakieval"), "hizakieval");
  EXPECT_EQ(n.normalize("didn't couldn’t"), "didn't couldn’t");
  EXPECT_EQ(n.normalize("abc_defgh 12abcdefg caf\xC3\xA9s"), "abc_defgh 12abcdefg caf\xC3\xA9s");
  // Hashtags and emoji names are read their own way, not respelled.
  EXPECT_EQ(n.normalize("#anixous"), n.split_hashtag("anixous"));
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

TEST(Normalize, CldrFilesAreReadAsXml) {
  TempCldr cldr;
  cldr.write("annotations/en.xml",
             ldml(many_faces() +
                  "\t\t<annotation cp=\"\xF0\x9F\x90\xB1\" type=\"tts\">cat &amp; &#x64;og</annotation>\n"
                  "\t\t<annotation cp=\"&#x221A;\" type=\"tts\">square root</annotation>\n"));
  cldr.write("annotationsDerived/en.xml",
             ldml("\t\t<annotation cp=\"\xF0\x9F\x8C\x80\" type=\"tts\">derived name</annotation>\n"
                  "\t\t<annotation cp=\"\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7\" type=\"tts\">flag: "
                  "France</annotation>\n"));
  const auto n = TextNormalizer::from_cldr(cldr.root(), {});
  EXPECT_EQ(n.emoji_count(), 122u);                            // 120 faces, the cat, the flag
  EXPECT_EQ(n.emoji_name("\xF0\x9F\x90\xB1"), "cat & dog");      // entities and char references
  EXPECT_EQ(n.emoji_name("\xF0\x9F\x8C\x80"), "face 127744");    // the first file wins
  EXPECT_EQ(n.emoji_name("\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"), "flag  France");
  EXPECT_EQ(n.emoji_name("\xE2\x88\x9A"), "");                    // a symbol, not an emoji
}

TEST(Normalize, MalformedCldrXmlIsAClearError) {
  TempCldr cldr;
  cldr.write("annotationsDerived/en.xml", ldml(many_faces()));
  // An end tag that does not match: the error names the file and says it cannot be parsed.
  const auto broken = cldr.write(
      "annotations/en.xml",
      ldml(many_faces() + "\t\t<annotation cp=\"\xF0\x9F\x90\xB1\" type=\"tts\">cat</annot>\n"));
  try {
    TextNormalizer::from_cldr(cldr.root(), {});
    ADD_FAILURE() << "no emopost::Error for a malformed CLDR file";
  } catch (const emopost::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(broken.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("cannot parse CLDR annotations"), std::string::npos) << msg;
  }
  // Well-formed XML that is not an LDML annotations file.
  cldr.write("annotations/en.xml", "<?xml version=\"1.0\"?><html><body/></html>");
  expect_error([&] { TextNormalizer::from_cldr(cldr.root(), {}); }, broken.string());
  // Truncated in the middle of an element.
  cldr.write("annotations/en.xml", ldml(many_faces()).substr(0, 500));
  expect_error([&] { TextNormalizer::from_cldr(cldr.root(), {}); }, "cannot parse CLDR annotations " + broken.string());
}

TEST(Spelling, KnownWordsAreTheVocabsWholeWordsWithTheirRanks) {
  const auto known = emopost::text::known_words({"[PAD]", "the", "##ing", "a", "b", "don't", "Hello", "i", "feel"});
  const emopost::text::WordRanks want{{"the", 1}, {"a", 3}, {"i", 7}, {"feel", 8}};
  EXPECT_EQ(known, want);
}

TEST(Spelling, TheCommonestWordOneEditAwayWins) {
  using emopost::text::respell;
  const emopost::text::Lexicon known{{{"scares", 50}, {"scars", 20}, {"sears", 30}, {"so", 5}, {"soo", 9},
                                      {"likes", 3}},
                                     {"cringe"}};
  EXPECT_EQ(respell("scaers", known), "scars");  // a deletion and a swap both reach a word: the commoner
  EXPECT_EQ(respell("scares", known), "scares");  // known: kept
  EXPECT_EQ(respell("soooo", known), "so");       // cut to two or one letters: the commoner word
  EXPECT_EQ(respell("sxyz", known), "sxyz");      // under five letters: no guessing
  EXPECT_EQ(respell("qwertyuiop", known), "qwertyuiop");
  EXPECT_EQ(respell("", known), "");
  EXPECT_EQ(respell("yikes", known), "yikes");    // "likes" is one edit away, but not at the first letter
  EXPECT_EQ(respell("cringe", known), "cringe");  // in the word list: spelt right
  std::string long_run;
  for (int i = 0; i < 20; ++i) long_run += "scaersqxyz";
  EXPECT_EQ(respell(long_run, known), long_run);                 // past 24 letters: not a mistyped word
  EXPECT_EQ(respell(std::string(200, 'o'), known), std::string(200, 'o'));  // no known word in it
}

TEST(Spelling, AWordListDropsApostrophesAndSkipsWhatIsNotPlainEnglish) {
  const auto file = fs::temp_directory_path() / ("emopost-words-" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(file, std::ios::binary);
    out << "Cringe\ndidn't\r\n\xC3\xA9tudes\ne-mail\n\njaded\n";
  }
  const auto words = emopost::text::read_word_list(file);
  EXPECT_EQ(words, (std::unordered_set<std::string>{"cringe", "didnt", "jaded"}));
  fs::remove(file);
  expect_error([&] { emopost::text::read_word_list(file); }, "install wamerican");
  { std::ofstream out(file); out << "\xC3\xA9t\xC3\xA9\n"; }
  expect_error([&] { emopost::text::read_word_list(file); }, "holds no words");
  fs::remove(file);
}
