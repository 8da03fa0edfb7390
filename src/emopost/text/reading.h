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
  bool empty() const { return windows.empty(); }
};

class TextReader {
 public:
  // max_length: the model's positions (tokenizer_config.json's model_max_length); at least 4.
  TextReader(WordPieceTokenizer tokenizer, TextNormalizer normalizer, size_t max_length);
  // The vocab's tokenizer, with a normaliser that splits hashtags into the vocab's words.
  static TextReader from_vocab(const std::filesystem::path& vocab_txt, size_t max_length,
                               const std::filesystem::path& cldr_dir = kCldrAnnotationsDir);

  // Normalises, tokenises and cuts into windows. Throws emopost::Error (invalid_utf8).
  TextInput read(std::string_view caption) const;
  // Windows of normalised text, for callers that change the words first (occlusion).
  std::vector<std::vector<int64_t>> windows(std::string_view normalized) const;
  // The windows, padded into one batch (rows in the order given).
  BatchEncoding batch(const std::vector<const std::vector<int64_t>*>& windows) const {
    return tokenizer_.pad(windows);
  }

  const WordPieceTokenizer& tokenizer() const { return tokenizer_; }
  const TextNormalizer& normalizer() const { return normalizer_; }
  size_t max_length() const { return max_length_; }

 private:
  WordPieceTokenizer tokenizer_;
  TextNormalizer normalizer_;
  size_t max_length_;
};

}  // namespace emopost::text
