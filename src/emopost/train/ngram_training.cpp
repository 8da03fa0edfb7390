#include "emopost/train/ngram_training.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "emopost/core/error.h"
#include "emopost/core/labels.h"
#include "emopost/data/datasets.h"
#include "emopost/eval/scores.h"
#include "emopost/models/folder.h"
#include "emopost/models/ngram_expert.h"
#include "emopost/train/tasks.h"
#include "emopost/train/trainer.h"

namespace fs = std::filesystem;

namespace emopost::train {

namespace {

struct Texts {
  std::vector<std::string> normalized;
  std::vector<int> labels;
};

Texts read_split(const NgramFitRequest& r, const text::TextReader& reader, const std::string& split,
                 std::vector<data::TextExample>* examples) {
  *examples = data::read_text_recipe(r.data_root, r.recipe, split);
  if (r.limit_examples && examples->size() > r.limit_examples) examples->resize(r.limit_examples);
  Texts out;
  for (const auto& e : *examples) out.normalized.push_back(reader.normalizer().normalize(e.text)), out.labels.push_back(e.label);
  return out;
}

// TF-IDF rows in compressed sparse rows. Products with it are two loops here: torch's sparse
// matrix products took twice as long per fit here (K = 7 columns; a fit runs ~250 of each).
struct Csr {
  std::vector<int64_t> start{0};
  std::vector<int32_t> col;
  std::vector<double> val;
  int64_t cols = 0;
  int64_t rows() const { return int64_t(start.size()) - 1; }
};

Csr sparse_rows(const models::NgramExpert& features, const std::vector<std::string>& texts) {
  Csr m;
  m.cols = int64_t(features.num_features());
  for (const auto& t : texts) {
    const auto row = features.features(t);
    m.col.insert(m.col.end(), row.index.begin(), row.index.end());
    m.val.insert(m.val.end(), row.value.begin(), row.value.end());
    m.start.push_back(int64_t(m.col.size()));
  }
  return m;
}

// X [N, F] times W [F, K], or X^T times R [N, K] when `transposed`.
torch::Tensor product(const Csr& x, const torch::Tensor& dense, bool transposed = false) {
  const auto d = dense.contiguous();
  const int64_t k = d.size(1);
  auto out = torch::zeros({transposed ? x.cols : x.rows(), k}, torch::kDouble);
  const double* in = d.data_ptr<double>();
  double* o = out.data_ptr<double>();
  for (int64_t i = 0; i < x.rows(); ++i)
    for (int64_t j = x.start[size_t(i)]; j < x.start[size_t(i) + 1]; ++j) {
      const int64_t c = x.col[size_t(j)];
      const double v = x.val[size_t(j)];
      if (transposed)
        for (int64_t q = 0; q < k; ++q) o[c * k + q] += v * in[i * k + q];
      else
        for (int64_t q = 0; q < k; ++q) o[i * k + q] += v * in[c * k + q];
    }
  return out;
}

struct Fit {
  torch::Tensor weight, bias;  // [F, K], [K]
  double val_macro_f1 = 0;
  double c = 0;
  bool balanced = false;
};

// Multinomial logistic regression as sklearn's LogisticRegression minimises it, divided by C * N:
// sum_i w_{y_i} CE_i / N + |W|^2 / (2 C N), the bias unpenalised; L-BFGS, full batch, with the
// gradient written out: X^T (P - Y) / N + W / (C N).
Fit logistic_regression(const Csr& x, const torch::Tensor& y,
                        const torch::Tensor& class_weight, double c, int max_iter) {
  const double n = double(x.rows());
  auto w = torch::zeros({x.cols, kNumLabels}, torch::dtype(torch::kDouble).requires_grad(true));
  auto b = torch::zeros({kNumLabels}, torch::dtype(torch::kDouble).requires_grad(true));
  const auto weight_of = class_weight.index_select(0, y).unsqueeze(1);                // [N, 1]
  const auto truth = torch::one_hot(y, kNumLabels).to(torch::kDouble);                 // [N, K]
  torch::optim::LBFGS opt({w, b}, torch::optim::LBFGSOptions(1.0).max_iter(max_iter).history_size(20)
                                     .line_search_fn("strong_wolfe").tolerance_grad(1e-6).tolerance_change(1e-9));
  opt.step([&] {
    torch::NoGradGuard no_grad;
    auto logp = torch::log_softmax(product(x, w) + b, 1);
    auto loss = -(weight_of * truth * logp).sum() / n + w.pow(2).sum() / (2.0 * c * n);
    auto residual = (logp.exp() - truth) * weight_of / n;
    w.mutable_grad() = product(x, residual, /*transposed=*/true) + w / (c * n);
    b.mutable_grad() = residual.sum(0);
    return loss;
  });
  return {w.detach(), b.detach(), 0, c, false};
}

std::vector<int> argmax_rows(const torch::Tensor& scores) {
  auto idx = scores.argmax(1).contiguous();
  return {idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel()};
}

}  // namespace

nlohmann::json fit_ngram_expert(const NgramFitRequest& r) {
  const auto out_dir = r.out_dir.empty() ? r.model_dir / models::kNgramFolder : r.out_dir;
  auto folder = models::load_text_folder(r.model_dir);
  std::vector<data::TextExample> train_examples, val_examples;
  const auto train = read_split(r, folder.reader, "train", &train_examples);
  const auto val = read_split(r, folder.reader, "val", &val_examples);
  if (train.labels.empty() || val.labels.empty()) throw Error("the n-gram expert needs training and validation texts");

  // The vocabulary: n-grams in at least min_df training texts, in sorted order (deterministic).
  std::map<std::string, int> df;
  for (const auto& t : train.normalized) {
    auto grams = models::ngrams_of(t);
    for (const auto& g : std::set<std::string>(grams.begin(), grams.end())) ++df[g];
  }
  std::vector<std::string> vocab;
  std::vector<float> idf;
  const double n = double(train.labels.size());
  for (const auto& [g, count] : df)
    if (count >= r.min_df) vocab.push_back(g), idf.push_back(float(std::log((1 + n) / (1 + count)) + 1));  // smooth idf
  if (vocab.empty()) throw Error(fmt::format("no n-gram is in {} or more training texts", r.min_df));
  const size_t F = vocab.size();
  models::NgramExpert expert(vocab, idf, std::vector<float>(F * kNumLabels, 0.f), {}, 1.0, 1.0);
  const auto x = sparse_rows(expert, train.normalized), xv = sparse_rows(expert, val.normalized);
  const auto y = torch::tensor(std::vector<int64_t>(train.labels.begin(), train.labels.end()), torch::kLong);
  spdlog::info("n-gram expert: {} training texts, {} n-grams (of {}) in {}+ texts", train.labels.size(), F, df.size(),
               r.min_df);

  // "balanced" as sklearn: n / (classes present * count); a class the recipe lacks weighs 0.
  std::vector<double> counts(kNumLabels, 0);
  for (int l : train.labels) counts[size_t(l)] += 1;
  const double present = double(std::count_if(counts.begin(), counts.end(), [](double c) { return c > 0; }));
  std::vector<double> balanced(kNumLabels, 0), plain(kNumLabels, 0);
  for (int k = 0; k < kNumLabels; ++k)
    if (counts[size_t(k)] > 0) balanced[size_t(k)] = n / (present * counts[size_t(k)]), plain[size_t(k)] = 1;
  Fit best;
  nlohmann::json tried = nlohmann::json::array();
  for (bool is_balanced : {false, true})
    for (double c : r.inverse_l2) {
      auto fit = logistic_regression(x, y, torch::tensor(is_balanced ? balanced : plain, torch::kDouble), c, r.max_iter);
      fit.balanced = is_balanced;
      fit.val_macro_f1 = eval::classification_report(val.labels, argmax_rows(product(xv, fit.weight) + fit.bias),
                                                     kNumLabels).macro_f1;
      spdlog::info("n-gram expert: C {} class weights {}: validation macro-F1 {:.4f}", c,
                   is_balanced ? "balanced" : "none", fit.val_macro_f1);
      tried.push_back({{"C", c}, {"class_weight", is_balanced ? "balanced" : "none"}, {"val_macro_f1", fit.val_macro_f1}});
      if (best.weight.defined() == false || fit.val_macro_f1 > best.val_macro_f1) best = fit;
    }

  auto wt = best.weight.t().contiguous().to(torch::kFloat);
  auto bias = best.bias.to(torch::kFloat);
  fusion::Scores b;
  for (int k = 0; k < kNumLabels; ++k) b[size_t(k)] = bias[k].item<float>();
  expert = models::NgramExpert(std::move(vocab), std::move(idf),
                               std::vector<float>(wt.data_ptr<float>(), wt.data_ptr<float>() + wt.numel()), b, 1.0, 1.0);

  // The fusion weights, on validation log-loss: the transformer alone (as its folder reads) beside
  // the expert's log-probabilities of the same texts.
  auto task = load_text_task(r.model_dir, "val", val_examples, {}, /*with_expert=*/false);
  const auto model_probs = evaluate(*task, "val", r.batch_size, false, "n-gram fusion").probabilities;
  const auto& kept = task->split("val");  // texts with nothing readable are left out, as evaluation does
  std::vector<fusion::Scores> model_lp, expert_lp;
  {
    size_t j = 0;
    for (size_t i = 0; i < val_examples.size() && j < kept.size(); ++i) {
      if (val_examples[i].text != kept.texts[j]) continue;
      fusion::Scores p;
      std::copy_n(model_probs[j].begin(), p.size(), p.begin());
      model_lp.push_back(fusion::floored_log(p)), expert_lp.push_back(expert.log_probabilities(val.normalized[i])), ++j;
    }
  }
  auto score = [&](double a, double e) {
    std::vector<int> pred;
    const double nll = fusion::pooled_nll(model_lp, expert_lp, kept.labels, a, e, &pred);
    return std::pair{nll, eval::classification_report(kept.labels, pred, kNumLabels).macro_f1};
  };
  const auto [best_a, best_e] = fusion::fit_pool_weights(model_lp, expert_lp, kept.labels, {0.25, 1.5, 0.125},
                                                         {0, 2, 0.125});
  const auto [nll_alone, f1_alone] = score(1, 0);
  const auto [nll_expert, f1_expert] = score(1e-9, 1);
  const auto [nll_fused, f1_fused] = score(best_a, best_e);
  expert.set_fusion(best_a, best_e);
  expert.info() = {
      {"fitted_on", {{"data_root", r.data_root.string()}, {"recipe", r.recipe}, {"train_texts", train.labels.size()},
                     {"val_texts", model_lp.size()}}},
      {"min_df", r.min_df},
      {"C", best.c},
      {"class_weight", best.balanced ? "balanced" : "none"},
      {"tried", tried},
      {"validation", {{"transformer", {{"log_loss", nll_alone}, {"macro_f1", f1_alone}}},
                      {"expert", {{"log_loss", nll_expert}, {"macro_f1", f1_expert}}},
                      {"fused", {{"log_loss", nll_fused}, {"macro_f1", f1_fused}}}}}};
  expert.save(out_dir);
  spdlog::info("n-gram expert: fusion {} * transformer + {} * expert; validation macro-F1 {:.4f} -> {:.4f}, "
               "log-loss {:.4f} -> {:.4f}; wrote {}", best_a, best_e, f1_alone, f1_fused, nll_alone, nll_fused,
               out_dir.string());
  return expert.info();
}

}  // namespace emopost::train
