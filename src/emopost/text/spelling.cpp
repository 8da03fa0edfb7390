#include "emopost/text/spelling.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <limits>

#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/text/words.h"

namespace emopost::text {

namespace {

constexpr size_t kMinEditLength = 5;
constexpr size_t kMaxLength = 24;  // longer runs are not mistyped words (and would cost many lookups)

bool ascii_letter(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

// Runs of three or more of one letter cut to `keep` letters.
std::string squeeze_repeats(std::string_view w, size_t keep) {
  std::string out;
  for (size_t i = 0; i < w.size();) {
    size_t j = i;
    while (j < w.size() && w[j] == w[i]) ++j;
    out.append(j - i >= 3 ? keep : j - i, w[i]);
    i = j;
  }
  return out;
}

}  // namespace

WordRanks known_words(const std::vector<std::string>& vocab) {
  WordRanks words;
  for (size_t i = 0; i < vocab.size(); ++i) {
    const auto& t = vocab[i];
    if (t.empty() || !std::all_of(t.begin(), t.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
      continue;
    if (t.size() == 1 && t != "a" && t != "i") continue;
    words.emplace(t, int(i));
  }
  return words;
}

std::unordered_set<std::string> read_word_list(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw Error(fmt::format("cannot open the word list {} (install wamerican)", file.string()));
  std::unordered_set<std::string> words;
  std::string line;
  while (std::getline(in, line)) {
    std::string w;
    bool plain = true;
    for (unsigned char ch : line) {
      if (ascii_letter(ch)) w += char(std::tolower(ch));
      else if (ch != '\'' && ch != '\r') plain = false;  // "études", "e-mail": left to WordPiece
    }
    if (plain && !w.empty()) words.insert(std::move(w));
  }
  if (words.empty()) throw Error(fmt::format("the word list {} holds no words", file.string()));
  return words;
}

std::string respell(std::string_view word, const Lexicon& known) {
  std::string w(word);
  if (known.vocab.count(w) || known.words.count(w)) return w;
  int best_rank = std::numeric_limits<int>::max();
  std::string best = w, c;
  auto consider = [&] {
    auto it = known.vocab.find(c);
    if (it != known.vocab.end() && it->second < best_rank) best_rank = it->second, best = c;
  };
  if (c = squeeze_repeats(w, 2); c != w) {
    consider();
    c = squeeze_repeats(w, 1), consider();
    if (best != w) return best;
  }
  if (w.size() < kMinEditLength || w.size() > kMaxLength) return w;
  for (size_t i = 1; i < w.size(); ++i) {
    c = w, c.erase(i, 1), consider();
    if (i + 1 < w.size()) c = w, std::swap(c[i], c[i + 1]), consider();
    for (char ch = 'a'; ch <= 'z'; ++ch) {
      if (ch != w[i]) c = w, c[i] = ch, consider();
      c = w, c.insert(i, 1, ch), consider();
    }
  }
  for (char ch = 'a'; ch <= 'z'; ++ch) c = w + ch, consider();
  return best;
}

std::string respell_token(std::string_view token, const Lexicon& known) {
  auto blocks = [](unsigned char c) { return std::isdigit(c) || c == '_' || c == '\'' || c >= 0x80; };
  std::string out;
  for (size_t i = 0; i < token.size();) {
    if (!ascii_letter(token[i])) {
      out += token[i++];
      continue;
    }
    size_t end = i;
    while (end < token.size() && ascii_letter(token[end])) ++end;
    const bool alone = (i == 0 || !blocks(token[i - 1])) && (end == token.size() || !blocks(token[end]));
    std::string run(token.substr(i, end - i));
    if (alone) {
      const std::string lowered = lower(run);
      std::string fixed = respell(lowered, known);
      if (fixed != lowered) run = std::move(fixed);  // known words keep their capitals
    }
    out += run;
    i = end;
  }
  return out;
}

}  // namespace emopost::text
