// Tokenizer throughput, one thread, over the CARER + GoEmotions training texts (59,410 posts).
// Data root: $EMOPOST_DATA, else ../shared/data next to the source tree.
// The loader lives here, not in emopost_data, so the benchmark measures nothing but the tokenizer.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "emopost/text/spelling.h"
#include "emopost/text/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using emopost::text::WordPieceTokenizer;

fs::path data_root() {
  if (const char* env = std::getenv("EMOPOST_DATA"); env && *env) return env;
  return fs::path(EMOPOST_SOURCE_DIR) / ".." / "shared" / "data";
}

// CARER lines are "text;label" (the text may itself contain ';'), GoEmotions is "text\tlabels\tid".
void load(const fs::path& path, char sep, bool last_sep, std::vector<std::string>& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "bench_tokenizer: cannot open " << path << " (set EMOPOST_DATA)\n";
    std::exit(1);
  }
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t cut = last_sep ? line.rfind(sep) : line.find(sep);
    out.push_back(cut == std::string::npos ? line : line.substr(0, cut));
  }
}

const std::vector<std::string>& texts() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> t;
    load(data_root() / "text" / "carer" / "train.txt", ';', true, t);
    load(data_root() / "text" / "goemotions" / "train.tsv", '\t', false, t);
    return t;
  }();
  return all;
}

const WordPieceTokenizer& tokenizer() {
  static const WordPieceTokenizer tok = WordPieceTokenizer::from_file(
      fs::path(EMOPOST_SOURCE_DIR) / "assets" / "vocab" / "bert-base-uncased-vocab.txt");
  return tok;
}

void set_rates(benchmark::State& state, size_t texts_done, size_t tokens_done) {
  state.counters["texts/s"] =
      benchmark::Counter(static_cast<double>(texts_done), benchmark::Counter::kIsRate);
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(tokens_done), benchmark::Counter::kIsRate);
}

// ids with [CLS]/[SEP], no truncation: what the trainer calls per post. Tokens counted exclude
// the two specials.
void BM_Encode(benchmark::State& state) {
  const auto& tok = tokenizer();
  const auto& all = texts();
  size_t n_texts = 0, n_tokens = 0;
  for (auto _ : state) {
    for (const auto& t : all) {
      auto ids = tok.encode(t);
      n_tokens += ids.size() - 2;
      benchmark::DoNotOptimize(ids.data());
    }
    n_texts += all.size();
  }
  set_rates(state, n_texts, n_tokens);
}
BENCHMARK(BM_Encode)->Unit(benchmark::kMillisecond);

// The string-returning API (one std::string per token on top of the same work).
void BM_Tokenize(benchmark::State& state) {
  const auto& tok = tokenizer();
  const auto& all = texts();
  size_t n_texts = 0, n_tokens = 0;
  for (auto _ : state) {
    for (const auto& t : all) {
      auto pieces = tok.tokenize(t);
      n_tokens += pieces.size();
      benchmark::DoNotOptimize(pieces.data());
    }
    n_texts += all.size();
  }
  set_rates(state, n_texts, n_tokens);
}
BENCHMARK(BM_Tokenize)->Unit(benchmark::kMillisecond);

// Batches of 32 truncated to 128 and padded, as fed to DistilBERT. Tokens counted are the real
// (mask = 1) ones.
void BM_EncodeBatch32(benchmark::State& state) {
  const auto& tok = tokenizer();
  const auto& all = texts();
  constexpr size_t kBatch = 32;
  std::vector<std::vector<std::string>> batches;
  for (size_t i = 0; i < all.size(); i += kBatch)
    batches.emplace_back(
        all.begin() + static_cast<std::ptrdiff_t>(i),
        all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), i + kBatch)));
  size_t n_texts = 0, n_tokens = 0;
  for (auto _ : state) {
    for (const auto& b : batches) {
      auto enc = tok.encode_batch(b, 128);
      for (const int64_t m : enc.mask) n_tokens += static_cast<size_t>(m);
      benchmark::DoNotOptimize(enc.ids.data());
    }
    n_texts += all.size();
  }
  set_rates(state, n_texts, n_tokens);
}
BENCHMARK(BM_EncodeBatch32)->Unit(benchmark::kMillisecond);

// Respelling alone (text/spelling.h), every whitespace-separated token of every post, as the
// normaliser calls it: its cost per post beside the text stage's (bench_predict's caption_only).
void BM_Respell(benchmark::State& state) {
  const emopost::text::Lexicon known{emopost::text::known_words(tokenizer().tokens()),
                                     emopost::text::read_word_list()};
  const auto& all = texts();
  size_t n_texts = 0, n_changed = 0;
  for (auto _ : state) {
    for (const auto& t : all) {
      for (size_t i = 0; i < t.size();) {
        const size_t end = std::min(t.find(' ', i), t.size());
        const std::string_view word(t.data() + i, end - i);
        auto fixed = emopost::text::respell_token(word, known);
        n_changed += fixed != word;
        benchmark::DoNotOptimize(fixed.data());
        i = end + 1;
      }
    }
    n_texts += all.size();
  }
  state.counters["texts/s"] = benchmark::Counter(double(n_texts), benchmark::Counter::kIsRate);
  state.counters["changed/text"] = double(n_changed) / double(n_texts);
}
BENCHMARK(BM_Respell)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
