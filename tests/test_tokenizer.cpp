// Parity of the C++ WordPiece tokenizer with transformers' BertTokenizer (bert-base-uncased) on
// the 545 reference cases in tests/data/hf/tokenizer/cases.jsonl, plus the error paths.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "emopost/core/error.h"
#include "emopost/text/tokenizer.h"

namespace {

using emopost::text::WordPieceTokenizer;

const std::string kCases = EMOPOST_TEST_DATA "/hf/tokenizer/cases.jsonl";
const std::string kHfVocab = EMOPOST_TEST_DATA "/hf/tokenizer/bert-base-uncased/vocab.txt";
// The vocab the project ships (made by scripts/fetch-vocab), not the fixture copy.
const std::string kVocab = EMOPOST_TEST_DATA "/../../assets/vocab/bert-base-uncased-vocab.txt";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const WordPieceTokenizer& tok() {
  static const WordPieceTokenizer t = WordPieceTokenizer::from_file(kVocab);
  return t;
}

struct Case {
  std::string text;
  std::vector<std::string> tokens;
  std::vector<int64_t> ids, ids_trunc32;
};

std::vector<Case> load_cases() {
  std::ifstream in(kCases);
  EXPECT_TRUE(in) << "cannot open " << kCases;
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    cases.push_back(
        {j.at("text").get<std::string>(), j.at("tokens").get<std::vector<std::string>>(),
         j.at("ids").get<std::vector<int64_t>>(), j.at("ids_trunc32").get<std::vector<int64_t>>()});
  }
  return cases;
}

template <typename T>
std::string show(const std::vector<T>& v) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ']';
  return os.str();
}

}  // namespace

TEST(Tokenizer, ShippedVocabIsTheFixtureVocab) {
  const std::string shipped = read_all(kVocab);
  ASSERT_FALSE(shipped.empty());
  EXPECT_TRUE(shipped == read_all(kHfVocab))
      << kVocab << " differs from " << kHfVocab << " (rerun scripts/fetch-vocab)";
}

TEST(Tokenizer, SpecialIds) {
  EXPECT_EQ(tok().vocab_size(), 30522u);
  EXPECT_EQ(tok().pad_id(), 0);
  EXPECT_EQ(tok().unk_id(), 100);
  EXPECT_EQ(tok().cls_id(), 101);
  EXPECT_EQ(tok().sep_id(), 102);
  EXPECT_EQ(tok().token_to_id("the"), 1996);
  EXPECT_EQ(tok().token_to_id("##s"), 2015);
  EXPECT_EQ(tok().token_to_id("no-such-token"), tok().unk_id());
  EXPECT_EQ(tok().id_to_token(1996), "the");
  EXPECT_THROW(tok().id_to_token(30522), emopost::Error);
}

TEST(Tokenizer, MatchesTransformersOnAllCases) {
  const auto cases = load_cases();
  ASSERT_EQ(cases.size(), 545u);
  size_t ok = 0, shown = 0;
  std::ostringstream diffs;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    std::vector<std::string> tokens;
    std::vector<int64_t> ids, trunc;
    std::string error;
    try {
      tokens = tok().tokenize(c.text);
      ids = tok().encode(c.text);
      trunc = tok().encode(c.text, 32);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (error.empty() && tokens == c.tokens && ids == c.ids && trunc == c.ids_trunc32) {
      ++ok;
      continue;
    }
    if (shown++ < 5) {
      diffs << "case " << i << " text " << nlohmann::json(c.text).dump() << "\n";
      if (!error.empty()) diffs << "  threw: " << error << "\n";
      if (tokens != c.tokens)
        diffs << "  tokens got  " << nlohmann::json(tokens).dump() << "\n"
              << "  tokens want " << nlohmann::json(c.tokens).dump() << "\n";
      if (ids != c.ids)
        diffs << "  ids got  " << show(ids) << "\n  ids want " << show(c.ids) << "\n";
      if (trunc != c.ids_trunc32)
        diffs << "  trunc32 got  " << show(trunc) << "\n  trunc32 want " << show(c.ids_trunc32)
              << "\n";
    }
  }
  std::cout << "[ parity   ] " << ok << "/" << cases.size()
            << " cases identical to transformers (tokens, ids, ids_trunc32)\n";
  EXPECT_EQ(ok, cases.size()) << (cases.size() - ok) << " mismatching cases; first ones:\n"
                              << diffs.str();
}

TEST(Tokenizer, EmptyAndBlankTextGiveOnlySpecials) {
  EXPECT_EQ(tok().encode(""), (std::vector<int64_t>{101, 102}));
  EXPECT_EQ(tok().encode(" \t\r\n\u3000"), (std::vector<int64_t>{101, 102}));
  EXPECT_TRUE(tok().tokenize("").empty());
}

TEST(Tokenizer, LongWordsBecomeUnk) {
  const std::string w100(100, 'y'), w101(101, 'z');
  EXPECT_NE(tok().tokenize(w100), (std::vector<std::string>{"[UNK]"}));
  EXPECT_EQ(tok().tokenize(w101), (std::vector<std::string>{"[UNK]"}));
  // The limit counts characters, not bytes: 60 two-byte letters is a 60-char word.
  std::string e60;
  for (int i = 0; i < 60; ++i) e60 += "\xc3\xa9";  // é -> e after accent stripping
  EXPECT_NE(tok().tokenize(e60), (std::vector<std::string>{"[UNK]"}));
  EXPECT_EQ(tok().tokenize("hello " + w101 + " world"),
            (std::vector<std::string>{"hello", "[UNK]", "world"}));
}

TEST(Tokenizer, LowerCaseDetails) {
  // Python's str.lower() gives final sigma at the end of a word, plain sigma inside it.
  EXPECT_EQ(tok().tokenize("\xce\x9f\xce\xa3"),  // ΟΣ
            (std::vector<std::string>{"ο", "##ς"}));
  EXPECT_EQ(tok().tokenize("\xce\xa3\xce\x9f"),  // ΣΟ
            (std::vector<std::string>{"σ", "##ο"}));
  // İ lowers to i + U+0307, whose mark is then stripped.
  EXPECT_EQ(tok().tokenize("\xc4\xb0stanbul"), tok().tokenize("istanbul"));
  // NFC then NFD: a decomposed accent is stripped like a precomposed one.
  EXPECT_EQ(tok().tokenize("Cafe\xcc\x81"), (std::vector<std::string>{"cafe"}));
}

TEST(Tokenizer, LineAndParagraphSeparatorsSplitWords) {
  EXPECT_EQ(tok().tokenize("happy\u2028sad\u2029angry"),
            (std::vector<std::string>{"happy", "sad", "angry"}));
}

TEST(Tokenizer, TruncationKeepsSpecials) {
  const auto full = tok().encode("i feel really very happy today");
  ASSERT_GT(full.size(), 5u);
  const auto cut = tok().encode("i feel really very happy today", 5);
  EXPECT_EQ(cut, (std::vector<int64_t>{101, full[1], full[2], full[3], 102}));
  EXPECT_EQ(tok().encode("i feel", 2), (std::vector<int64_t>{101, 102}));
  EXPECT_EQ(tok().encode("i", 100), tok().encode("i"));
  EXPECT_THROW(tok().encode("i", 1), emopost::Error);
}

TEST(Tokenizer, BatchPadsToLongestRow) {
  const std::vector<std::string> texts{"i am so happy today", "ok", "", "this is disgusting!"};
  const auto batch = tok().encode_batch(texts);
  std::vector<std::vector<int64_t>> rows;
  size_t longest = 0;
  for (const auto& t : texts) {
    rows.push_back(tok().encode(t));
    longest = std::max(longest, rows.back().size());
  }
  ASSERT_EQ(batch.rows, 4);
  ASSERT_EQ(batch.cols, static_cast<int64_t>(longest));
  ASSERT_EQ(batch.ids.size(), 4 * longest);
  ASSERT_EQ(batch.mask.size(), 4 * longest);
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < longest; ++c) {
      const bool real = c < rows[r].size();
      EXPECT_EQ(batch.ids[r * longest + c], real ? rows[r][c] : tok().pad_id()) << r << "," << c;
      EXPECT_EQ(batch.mask[r * longest + c], real ? 1 : 0) << r << "," << c;
    }
  }
  // "ok" -> [CLS] ok [SEP] then padding.
  EXPECT_EQ(batch.ids[1 * longest + 0], 101);
  EXPECT_EQ(batch.ids[1 * longest + 2], 102);
  EXPECT_EQ(batch.ids[1 * longest + 3], 0);

  const auto cut = tok().encode_batch(texts, 4);
  EXPECT_EQ(cut.cols, 4);
  EXPECT_EQ(cut.ids[3], 102);  // row 0 truncated, [SEP] kept
  EXPECT_EQ((std::vector<int64_t>(cut.mask.begin() + 8, cut.mask.begin() + 12)),
            (std::vector<int64_t>{1, 1, 0, 0}));  // row 2 is "" -> [CLS][SEP]

  const auto none = tok().encode_batch({});
  EXPECT_EQ(none.rows, 0);
  EXPECT_EQ(none.cols, 0);
  EXPECT_TRUE(none.ids.empty());
}

TEST(Tokenizer, InvalidUtf8Throws) {
  struct Bad {
    std::string bytes;
    size_t offset;
  };
  const std::vector<Bad> bad{
      {"\xff", 0},              // never valid
      {"ok \x80", 3},           // stray continuation byte
      {"caf\xc3", 3},           // truncated 2-byte sequence at the end
      {"ab\xe2\x82 cd", 2},     // truncated 3-byte sequence
      {"\xf0\x9f\x98", 0},      // truncated 4-byte sequence
      {"x\xc0\xaf", 1},         // overlong '/'
      {"\xe0\x80\xaf", 0},      // overlong 3-byte
      {"\xf0\x80\x80\xaf", 0},  // overlong 4-byte
      {"\xed\xa0\x80", 0},      // UTF-16 surrogate
      {"\xf4\x90\x80\x80", 0},  // above U+10FFFF
  };
  for (const auto& b : bad) {
    try {
      tok().encode(b.bytes);
      ADD_FAILURE() << "no error for the input that is bad at byte " << b.offset;
    } catch (const emopost::Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(e.code(), "invalid_utf8") << msg;
      EXPECT_NE(msg.find("UTF-8"), std::string::npos) << msg;
      EXPECT_NE(msg.find("byte offset " + std::to_string(b.offset)), std::string::npos) << msg;
    }
    EXPECT_THROW(tok().tokenize(b.bytes), emopost::Error);
  }
  EXPECT_THROW(tok().encode_batch({"fine", "\xff"}), emopost::Error);
}

TEST(Tokenizer, MissingVocabNamesThePath) {
  const std::string path = "/nonexistent/dir/vocab-missing.txt";
  try {
    WordPieceTokenizer::from_file(path);
    FAIL() << "expected emopost::Error";
  } catch (const emopost::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(Tokenizer, VocabWithoutSpecialsIsRejected) {
  EXPECT_THROW(WordPieceTokenizer({"[PAD]", "[UNK]", "hello"}), emopost::Error);
  const WordPieceTokenizer small({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "hel", "##lo", "!"});
  EXPECT_EQ(small.tokenize("Hello!"), (std::vector<std::string>{"hel", "##lo", "!"}));
  EXPECT_EQ(small.tokenize("help"), (std::vector<std::string>{"[UNK]"}));
  EXPECT_EQ(small.encode("hello"), (std::vector<int64_t>{2, 4, 5, 3}));
}
