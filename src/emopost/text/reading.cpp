#include "emopost/text/reading.h"

#include <algorithm>

#include <fmt/format.h>

#include "emopost/core/error.h"

namespace emopost::text {

TextReader::TextReader(WordPieceTokenizer tokenizer, TextNormalizer normalizer, size_t max_length,
                       size_t max_windows)
    : tokenizer_(std::move(tokenizer)),
      normalizer_(std::move(normalizer)),
      max_length_(max_length),
      max_windows_(max_windows) {
  if (max_windows_ < 1) throw Error("a text needs at least one window");
  // [CLS] and [SEP] plus a body of at least two ids, so that windows advance by at least one.
  if (max_length_ < 4) throw Error(fmt::format("a text window of {} ids is too short (4 at least)", max_length_));
}

TextReader TextReader::from_vocab(const std::filesystem::path& vocab_txt, size_t max_length,
                                  const std::filesystem::path& cldr_dir, size_t max_windows) {
  auto tokenizer = WordPieceTokenizer::from_file(vocab_txt);
  auto normalizer = TextNormalizer::from_cldr(cldr_dir, Lexicon{known_words(tokenizer.tokens()), read_word_list()});
  return TextReader(std::move(tokenizer), std::move(normalizer), max_length, max_windows);
}

TextInput TextReader::read(std::string_view caption) const {
  TextInput in;
  in.normalized = normalizer_.normalize(caption);
  in.windows = windows(in.normalized, &in.cut);
  return in;
}

std::vector<std::vector<int64_t>> TextReader::windows(std::string_view normalized, bool* cut) const {
  if (cut) *cut = false;
  if (normalized.empty()) return {};
  auto ids = tokenizer_.encode(normalized);
  if (ids.size() <= max_length_) return {std::move(ids)};
  const std::vector<int64_t> body(ids.begin() + 1, ids.end() - 1);
  const size_t width = max_length_ - 2, stride = width / 2;
  std::vector<std::vector<int64_t>> out;
  for (size_t start = 0;; start += stride) {
    const size_t end = std::min(body.size(), start + width);
    std::vector<int64_t> w{tokenizer_.cls_id()};
    w.insert(w.end(), body.begin() + ptrdiff_t(start), body.begin() + ptrdiff_t(end));
    w.push_back(tokenizer_.sep_id());
    out.push_back(std::move(w));
    if (end == body.size()) break;
    if (out.size() == max_windows_) {
      if (cut) *cut = true;
      break;
    }
  }
  return out;
}

}  // namespace emopost::text
