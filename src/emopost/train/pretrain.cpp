#include "emopost/train/pretrain.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/core/progress.h"
#include "emopost/data/datasets.h"
#include "emopost/models/checkpoint.h"
#include "emopost/models/folder.h"
#include "emopost/models/threads.h"
#include "emopost/text/reading.h"

namespace emopost::train {

namespace fs = std::filesystem;

MaskedTokens mask_tokens(const std::vector<int64_t>& ids, const MaskingIds& s, double probability,
                         std::mt19937& rng) {
  MaskedTokens out{ids, std::vector<int64_t>(ids.size(), kIgnoreIndex)};
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::uniform_int_distribution<int64_t> any_token(0, s.vocab_size - 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == s.cls || ids[i] == s.sep || ids[i] == s.pad || u(rng) >= probability) continue;
    out.labels[i] = ids[i];
    const double r = u(rng);
    if (r < 0.8) out.ids[i] = s.mask;
    else if (r < 0.9) out.ids[i] = any_token(rng);
  }
  return out;
}

std::vector<std::string> wordnet_texts(const fs::path& dir, size_t limit) {
  std::vector<std::string> out;
  for (const char* part : {"data.noun", "data.verb", "data.adj", "data.adv"}) {
    std::ifstream in(dir / part);
    std::string line;
    while (std::getline(in, line)) {
      // "offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt ... | gloss"; the
      // licence header's lines start with spaces.
      if (line.empty() || line[0] == ' ') continue;
      auto bar = line.find(" | ");
      if (bar == std::string::npos) continue;
      std::istringstream fields(line.substr(0, bar));
      std::string offset, lexfile, type, count_hex;
      fields >> offset >> lexfile >> type >> count_hex;
      const int count = static_cast<int>(std::strtol(count_hex.c_str(), nullptr, 16));
      std::string words;
      for (int w = 0; w < count; ++w) {
        std::string word, lex_id;
        fields >> word >> lex_id;
        if (auto paren = word.find('('); paren != std::string::npos) word.resize(paren);  // "big(a)"
        std::replace(word.begin(), word.end(), '_', ' ');
        words += (w ? ", " : "") + word;
      }
      auto gloss = line.substr(bar + 3);
      while (!gloss.empty() && gloss.back() == ' ') gloss.pop_back();
      out.push_back(words + ": " + gloss);
      if (limit && out.size() >= limit) return out;
    }
  }
  return out;
}

namespace {

// Token windows of texts, read as the classifier reads captions; each window is one sequence.
std::vector<std::vector<int64_t>> sequences(const text::TextReader& reader, const std::vector<std::string>& texts) {
  std::vector<std::vector<int64_t>> out;
  for (const auto& t : texts) {
    auto in = reader.read(t);
    for (auto& w : in.windows) out.push_back(std::move(w));
  }
  return out;
}

std::vector<std::string> data_texts(const TrainConfig& c, const std::string& split) {
  std::vector<std::string> out;
  for (auto& e : data::read_text_recipe(c.data_root, c.recipe, split)) out.push_back(std::move(e.text));
  if (c.limit_examples && out.size() > c.limit_examples) out.resize(c.limit_examples);
  return out;
}

struct Batch {
  torch::Tensor ids, mask, labels;  // [B, T]
};

Batch make_batch(const std::vector<MaskedTokens>& rows, int64_t pad) {
  size_t cols = 0;
  for (const auto& r : rows) cols = std::max(cols, r.ids.size());
  const auto B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(cols);
  Batch b{torch::full({B, T}, pad, torch::kLong), torch::zeros({B, T}, torch::kLong),
          torch::full({B, T}, kIgnoreIndex, torch::kLong)};
  auto ids = b.ids.accessor<int64_t, 2>(), mask = b.mask.accessor<int64_t, 2>(), labels = b.labels.accessor<int64_t, 2>();
  for (int64_t r = 0; r < B; ++r)
    for (size_t t = 0; t < rows[r].ids.size(); ++t)
      ids[r][t] = rows[r].ids[t], mask[r][t] = 1, labels[r][t] = rows[r].labels[t];
  return b;
}

struct MlmLoss {
  torch::Tensor loss;  // mean over the masked tokens
  int64_t tokens = 0, correct = 0;  // correct: counted in evaluation only
};

MlmLoss mlm_loss(models::DistilBert& model, const Batch& b) {
  auto chosen = b.labels.ne(kIgnoreIndex);
  auto hidden = model->encode(b.ids, b.mask).index({chosen});  // only masked positions reach the head
  auto target = b.labels.index({chosen});
  MlmLoss out;
  out.tokens = target.size(0);
  if (out.tokens == 0) {
    out.loss = hidden.sum() * 0;  // keeps the graph; nothing was masked in this batch
    return out;
  }
  auto logits = model->masked_lm_logits(hidden);
  out.loss = torch::nn::functional::cross_entropy(logits, target);
  // Only validation reports it: a training step need not wait on an argmax over the vocabulary.
  if (!model->is_training()) out.correct = logits.argmax(1).eq(target).sum().item<int64_t>();
  return out;
}

void save(models::DistilBert& model, const TrainConfig& c, const fs::path& dir, torch::ScalarType dtype) {
  models::save_pretrained(model, dir, dtype);
  models::save_tokenizer(dir, c.vocab, static_cast<size_t>(c.max_length));
}

}  // namespace

FitResult pretrain(const TrainConfig& c, bool resume) {
  auto wall_start = std::chrono::steady_clock::now();
  int threads = models::configure_runtime(c.threads);
  spdlog::info("masked-LM pre-training; {} threads", threads);
  torch::manual_seed(c.seed);
  models::DistilBert model{nullptr};
  if (!c.init_from.empty()) {
    model = models::load_distilbert_masked_lm(c.init_from);
  } else {
    model = models::DistilBert(io::DistilBertConfig::from_json(c.model_config), models::DistilBertImpl::Head::masked_lm);
  }
  if (c.max_length > model->config().max_position_embeddings)
    throw Error(fmt::format("max_length {} exceeds the model's max_position_embeddings {}", c.max_length,
                            model->config().max_position_embeddings));
  auto reader = text::TextReader::from_vocab(c.vocab, static_cast<size_t>(c.max_length));
  const auto& tok = reader.tokenizer();
  MaskingIds special{.mask = tok.token_to_id("[MASK]"), .cls = tok.cls_id(), .sep = tok.sep_id(),
                     .pad = tok.pad_id(), .vocab_size = model->config().vocab_size};
  if (special.mask == tok.unk_id()) throw Error(c.vocab.string() + ": the vocab has no [MASK] token");

  auto texts = data_texts(c, "train");
  const size_t from_data = texts.size();
  if (!c.mlm_wordnet.empty()) {
    auto wn = wordnet_texts(c.mlm_wordnet, c.limit_examples);
    if (wn.empty()) throw Error(c.mlm_wordnet.string() + ": no WordNet data files (data.noun, ...) found");
    texts.insert(texts.end(), std::make_move_iterator(wn.begin()), std::make_move_iterator(wn.end()));
  }
  const auto train = sequences(reader, texts);
  const auto val = sequences(reader, data_texts(c, "val"));
  if (train.empty()) throw Error("no pre-training texts");
  spdlog::info("{} texts ({} from the data sets' training splits, {} from WordNet): {} sequences; {} validation sequences",
               texts.size(), from_data, texts.size() - from_data, train.size(), val.size());
  texts.clear();

  // The validation texts are masked once, so that every epoch is measured on the same question.
  std::vector<MaskedTokens> val_masked;
  std::mt19937 val_rng(static_cast<uint32_t>(c.seed));
  for (const auto& s : val) val_masked.push_back(mask_tokens(s, special, c.mask_probability, val_rng));

  fs::create_directories(c.output_dir);
  write_json_file(c.output_dir / "train_config.json", c.to_json());
  const fs::path log = c.output_dir / "log.jsonl";
  auto optimizer = make_optimizer(*model, c);
  const int64_t steps_per_epoch = (static_cast<int64_t>(train.size()) + c.batch_size - 1) / c.batch_size;
  int64_t total_steps = steps_per_epoch * c.epochs;
  if (c.max_steps > 0) total_steps = std::min<int64_t>(total_steps, c.max_steps);
  const auto warmup = static_cast<int64_t>(std::ceil(c.warmup_ratio * total_steps));
  const int64_t epochs = std::min<int64_t>(c.epochs, (total_steps + steps_per_epoch - 1) / steps_per_epoch);

  FitResult result;
  int start_epoch = 1;
  int64_t step = 0;
  if (resume) {
    auto state = read_json_file(c.output_dir / "last/trainer_state.json");
    copy_state(*model, *models::load_distilbert_masked_lm(c.output_dir / "last"));
    torch::load(*optimizer, (c.output_dir / "last/optimizer.pt").string());
    start_epoch = state.at("epoch").get<int>() + 1;
    step = state.at("global_step").get<int64_t>();
    result.best_epoch = state.at("best_epoch").get<int>();
    result.best_val_loss = state.at("best_val_loss").get<double>();
    result.history = state.at("history");
  }
  spdlog::info("{} steps/epoch, {} epochs ({} steps)", steps_per_epoch, epochs, total_steps);

  double samples = 0, train_seconds = 0;
  for (int epoch = start_epoch; epoch <= c.epochs && (c.max_steps == 0 || step < c.max_steps); ++epoch) {
    std::mt19937 rng(static_cast<uint32_t>(c.seed * 1000003 + epoch));
    torch::manual_seed(c.seed * 1000003 + epoch);
    auto order = batch_order([&](size_t i) { return train[i].size(); }, train.size(), c.batch_size, rng);
    model->train();
    ProgressBar bar(order.size(), fmt::format("epoch {}/{}", epoch, epochs), "seq");
    double loss_sum = 0;
    size_t seen = 0;
    for (size_t start = 0; start < order.size(); start += c.batch_size) {
      if (c.max_steps > 0 && step >= c.max_steps) break;
      std::vector<MaskedTokens> rows;
      for (size_t i = start; i < std::min(order.size(), start + c.batch_size); ++i)
        rows.push_back(mask_tokens(train[order[i]], special, c.mask_probability, rng));
      set_lr(*optimizer, scheduled_lr(c.learning_rate, step, total_steps, warmup));
      optimizer->zero_grad();
      auto out = mlm_loss(model, make_batch(rows, special.pad));
      out.loss.backward();
      if (c.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), c.max_grad_norm);
      optimizer->step();
      ++step;
      const double l = out.loss.item<double>();
      if (!std::isfinite(l)) throw Error(fmt::format("pre-training diverged: loss {} at step {}", l, step));
      loss_sum += l * rows.size();
      seen += rows.size();
      bar.update(rows.size(), fmt::format("loss {:.4f}", loss_sum / seen));
      if (step % 50 == 0) append_jsonl(log, {{"type", "step"}, {"epoch", epoch}, {"step", step}, {"loss", l}});
    }
    bar.finish(fmt::format("loss {:.4f}", seen ? loss_sum / seen : 0.0));
    samples += seen;
    train_seconds += bar.elapsed_seconds();

    // Validation: loss per masked token and how often the masked word is guessed.
    model->eval();
    double val_loss = 0;
    int64_t tokens = 0, correct = 0;
    {
      torch::InferenceMode inference;
      for (size_t start = 0; start < val_masked.size(); start += c.eval_batch_size) {
        std::vector<MaskedTokens> rows(val_masked.begin() + start,
                                       val_masked.begin() + std::min(val_masked.size(), start + c.eval_batch_size));
        auto out = mlm_loss(model, make_batch(rows, special.pad));
        val_loss += out.loss.item<double>() * out.tokens, tokens += out.tokens, correct += out.correct;
      }
    }
    val_loss = tokens ? val_loss / tokens : 0.0;
    const double val_accuracy = tokens ? double(correct) / tokens : 0.0;
    nlohmann::json row = {{"type", "epoch"}, {"epoch", epoch}, {"step", step},
                          {"train_loss", seen ? loss_sum / seen : 0.0}, {"val_loss", val_loss},
                          {"val_masked_accuracy", val_accuracy}, {"train_samples_per_second", bar.rate()},
                          {"epoch_seconds", bar.elapsed_seconds()}};
    spdlog::info("epoch {}: training loss {:.4f}, validation loss {:.4f} (perplexity {:.1f}), masked words guessed {:.2f}%",
                 epoch, row["train_loss"].get<double>(), val_loss, std::exp(val_loss), 100 * val_accuracy);
    append_jsonl(log, row);
    result.history.push_back(row);
    result.epochs_run += 1;
    const auto dtype = c.save_dtype == "float16" ? torch::kHalf : torch::kFloat;
    if (result.best_epoch == 0 || val_loss < result.best_val_loss) {
      result.best_val_loss = val_loss;
      result.best_epoch = epoch;
      save(model, c, c.output_dir / "best", dtype);
    }
    save(model, c, c.output_dir / "last", torch::kFloat);
    torch::save(*optimizer, (c.output_dir / "last/optimizer.pt").string());
    write_json_file(c.output_dir / "last/trainer_state.json",
                    {{"epoch", epoch}, {"global_step", step}, {"best_epoch", result.best_epoch},
                     {"best_val_loss", result.best_val_loss}, {"history", result.history}});
  }
  result.train_samples_per_second = train_seconds > 0 ? samples / train_seconds : 0.0;
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  append_jsonl(log, {{"type", "done"}, {"best_epoch", result.best_epoch}, {"best_val_loss", result.best_val_loss},
                     {"train_samples_per_second", result.train_samples_per_second},
                     {"wall_seconds", result.wall_seconds}});
  if (fs::exists(c.output_dir / "best"))
    fs::copy_file(log, c.output_dir / "best/log.jsonl", fs::copy_options::overwrite_existing);
  return result;
}

}  // namespace emopost::train
