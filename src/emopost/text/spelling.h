#pragma once
// Respelling the words a model's vocab lacks: "anixous" -> "anxious", "soooo" -> "so".
// A misspelt word otherwise reaches the model as WordPiece fragments it has rarely seen ("an ##ix
// ##ous"), and the one word that carried the emotion is lost. No torch here.
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace emopost::text {

// Debian's wamerican (SCOWL's size-50 American English list, about 100,000 words with their
// inflections): English words that are spelt right though the vocab lacks them ("cringe", "jaded").
inline const std::filesystem::path kWordListPath = "/usr/share/dict/american-english";

// Word -> its rank in a WordPiece vocab. BERT's vocab lists its whole words by frequency, so a lower
// rank is a commoner word.
using WordRanks = std::unordered_map<std::string, int>;

// The whole words of a WordPiece vocab (no "##" pieces, no [SPECIAL]s, letters only). Single letters
// other than "a" and "i" are left out, or every hashtag would split into them.
WordRanks known_words(const std::vector<std::string>& vocab);

// A word list, one word a line, lower-cased and with apostrophes dropped, so that "didnt" and
// "thats" count as words too. Throws emopost::Error naming the file when it cannot be read.
std::unordered_set<std::string> read_word_list(const std::filesystem::path& file = kWordListPath);

// The words respelling leaves alone and the words it respells into.
struct Lexicon {
  WordRanks vocab;                         // the model's whole words: the targets, commonest first
  std::unordered_set<std::string> words;   // also spelt right (a word list)
};

// `word` (lower case, letters only) as the model knows it: itself when it is in either list; else
// with its letters repeated three or more times cut to two or to one, whichever is the commoner
// vocab word ("happyyyy" -> "happy", "cooool" -> "cool"); else, for words of five letters or more,
// the commonest vocab word one edit away that keeps the first letter (a letter deleted, inserted,
// replaced, or two neighbours swapped: Damerau's four; typists rarely miss the first letter, and
// changing it turns slang into other words, "yikes" into "likes"). Shorter words have too many
// neighbours to guess from, and a word with no such neighbour stays as written.
std::string respell(std::string_view word, const Lexicon& known);

// Each run of ASCII letters in a whitespace-free token respelled ("Anixous!" -> "anxious!"), except
// runs that touch a digit, '_', an apostrophe or a non-ASCII byte: parts of "didn't", handles and
// words in other scripts are not English words to respell.
std::string respell_token(std::string_view token, const Lexicon& known);

}  // namespace emopost::text
