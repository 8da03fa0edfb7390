#pragma once
// Caption -> model input, the one way emopost reads text: training, evaluation, tuning,
// calibration and prediction all go through TextReader, so a model is used on exactly the reading
// it was trained and measured on. No torch here.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "emopost/text/normalize.h"
#include "emopost/text/tokenizer.h"

namespace emopost::text {

struct TextInput {
  std::string normalized;  // what the model reads, in words
  // [CLS] body [SEP] windows of at most max_length ids, each overlapping the next by half; the
  // model's logits are averaged over them. Empty when nothing readable is left (the text abstains).
  std::vector<std::vector<int64_t>> windows;
  bool cut = false;  // longer than max_windows: only the first ones are read
  bool empty() const { return windows.empty(); }
};

// A caption's model passes are bounded: a 20 kB caption is about 300 windows of 128, and every one
// costs a forward pass. Past this many only the first are read (about 1,000 words at 128).
inline constexpr size_t kMaxWindows = 16;

class TextReader {
 public:
  // max_length: the model's positions (tokenizer_config.json's model_max_length); at least 4.
  TextReader(WordPieceTokenizer tokenizer, TextNormalizer normalizer, size_t max_length,
             size_t max_windows = kMaxWindows);
  // The vocab's tokenizer, with a normaliser that splits hashtags into the vocab's words.
  static TextReader from_vocab(const std::filesystem::path& vocab_txt, size_t max_length,
                               const std::filesystem::path& cldr_dir = kCldrAnnotationsDir,
                               size_t max_windows = kMaxWindows);

  // Normalises, tokenises and cuts into windows. Throws emopost::Error (invalid_utf8).
  TextInput read(std::string_view caption) const;
  // Windows of normalised text, for callers that change the words first (occlusion); `cut` tells
  // whether there were more than max_windows.
  std::vector<std::vector<int64_t>> windows(std::string_view normalized, bool* cut = nullptr) const;
  // The windows, padded into one batch (rows in the order given).
  BatchEncoding batch(const std::vector<const std::vector<int64_t>*>& windows) const {
    return tokenizer_.pad(windows);
  }

  const WordPieceTokenizer& tokenizer() const { return tokenizer_; }
  const TextNormalizer& normalizer() const { return normalizer_; }
  size_t max_length() const { return max_length_; }
  size_t max_windows() const { return max_windows_; }

 private:
  WordPieceTokenizer tokenizer_;
  TextNormalizer normalizer_;
  size_t max_length_, max_windows_;
};

}  // namespace emopost::text
