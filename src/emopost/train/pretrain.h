#pragma once
// Masked-language-model pre-training of the text model from scratch (issue 15), as BERT and
// DistilBERT were pre-trained: DistilBertForMaskedLM on unlabelled English text, read exactly as the
// classifier reads captions (text::TextReader), so that fine-tuning starts from words the model
// already knows in the reading it will be used with. The result is a folder transformers loads as
// DistilBertForMaskedLM, and `train text` fine-tunes it through "init_from".
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "emopost/train/config.h"
#include "emopost/train/trainer.h"

namespace emopost::train {

inline constexpr int64_t kIgnoreIndex = -100;  // cross-entropy's ignore_index, as transformers uses it

struct MaskingIds {
  int64_t mask = 103, cls = 101, sep = 102, pad = 0, vocab_size = 30522;
};

// transformers' DataCollatorForLanguageModeling: every token but [CLS], [SEP] and [PAD] is chosen
// with `probability`; a chosen token becomes [MASK] 80% of the time, a random token 10%, and stays
// 10%. `labels` holds the original id where chosen and kIgnoreIndex elsewhere.
struct MaskedTokens {
  std::vector<int64_t> ids, labels;
};
MaskedTokens mask_tokens(const std::vector<int64_t>& ids, const MaskingIds& special, double probability,
                         std::mt19937& rng);

// WordNet's synsets as sentences, "word, other word: gloss; example" (Debian's wordnet-base,
// data.{noun,verb,adj,adv}); an empty list when the folder has none of these files.
std::vector<std::string> wordnet_texts(const std::filesystem::path& dir, size_t limit = 0);

// Pre-trains config.model_config (or continues config.init_from, a DistilBertForMaskedLM folder) on the
// training texts of config.recipe's data sets (their labels unused) plus config.mlm_wordnet's
// synsets; validates on the recipe's validation texts, masked the same way every epoch, and keeps the
// epoch with the lowest validation loss in output_dir/best. Resumable like fit().
FitResult pretrain(const TrainConfig& config, bool resume);

}  // namespace emopost::train
