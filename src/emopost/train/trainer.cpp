#include "emopost/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "emopost/core/error.h"
#include "emopost/core/labels.h"
#include "emopost/core/progress.h"
#include "emopost/core/blas.h"
#include "emopost/io/hf_config.h"
#include "emopost/models/threads.h"
#include "emopost/train/pretrain.h"

namespace emopost::train {

namespace fs = std::filesystem;

std::vector<double> class_weights(const std::vector<int>& labels, int k, const std::string& scheme) {
  std::vector<double> counts(k, 0.0), w(k, 1.0);
  for (int y : labels) counts.at(y) += 1;
  if (scheme == "none") return w;
  double present = 0, sum = 0;
  for (int c = 0; c < k; ++c) {
    if (counts[c] == 0) continue;
    double inv = static_cast<double>(labels.size()) / (k * counts[c]);
    w[c] = scheme == "inverse" ? inv : std::sqrt(inv);
    sum += w[c], present += 1;
  }
  for (int c = 0; c < k; ++c) w[c] = counts[c] > 0 ? w[c] * present / sum : 0.0;
  return w;
}

double scheduled_lr(double peak, int64_t step, int64_t total, int64_t warmup) {
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (total <= warmup) return peak;
  return peak * std::max(0.0, static_cast<double>(total - step) / static_cast<double>(total - warmup));
}

Evaluation evaluate(Task& task, const std::string& split, int batch_size, bool bf16,
                    const std::string& label) {
  const auto& data = task.split(split);
  Evaluation ev;
  task.module().eval();
  torch::InferenceMode inference;
  models::Bf16Autocast autocast(bf16);
  std::mt19937 rng(0);
  ProgressBar bar(data.size(), label, "ex");
  double loss_sum = 0;
  for (size_t start = 0; start < data.size(); start += batch_size) {
    std::vector<size_t> idx(std::min<size_t>(batch_size, data.size() - start));
    std::iota(idx.begin(), idx.end(), start);
    auto logits = task.logits(split, idx, false, rng).to(torch::kFloat);
    std::vector<int64_t> y(idx.size());
    for (size_t i = 0; i < idx.size(); ++i) y[i] = data.labels[idx[i]];
    auto target = torch::tensor(y, torch::kLong);
    loss_sum += torch::cross_entropy_loss(logits, target, {}, at::Reduction::Sum).item<double>();
    auto probs = torch::softmax(logits, 1).to(torch::kDouble).contiguous();
    auto pa = probs.accessor<double, 2>();
    for (int64_t r = 0; r < probs.size(0); ++r) {
      std::vector<double> p(pa[r].data(), pa[r].data() + probs.size(1));
      ev.predicted.push_back(static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin()));
      ev.probabilities.push_back(std::move(p));
    }
    bar.update(idx.size());
  }
  bar.finish();
  ev.examples_per_second = bar.rate();
  ev.loss = data.size() ? loss_sum / static_cast<double>(data.size()) : 0.0;
  ev.report = eval::classification_report(data.labels, ev.predicted, kNumLabels);
  return ev;
}

// AdamW with the usual exemption of biases and norm weights from weight decay.
std::unique_ptr<torch::optim::AdamW> make_optimizer(torch::nn::Module& m, const TrainConfig& c) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : m.named_parameters()) {
    const auto& k = p.key();
    bool exempt = p.value().dim() < 2 || k.find("LayerNorm") != std::string::npos ||
                  k.find("norm") != std::string::npos || k.find("embeddings.cls_token") != std::string::npos ||
                  k.find("embeddings.position_embeddings") != std::string::npos;
    (exempt ? no_decay : decay).push_back(p.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(c.learning_rate).weight_decay(c.weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(
                                    torch::optim::AdamWOptions(c.learning_rate).weight_decay(0.0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups),
                                               torch::optim::AdamWOptions(c.learning_rate));
}

// A shuffled order in which neighbouring examples have similar cost: within windows of 50 batches
// examples are sorted by length, then whole batches are shuffled. Padding then costs little, while
// every batch still mixes sources and labels.
std::vector<size_t> batch_order(const std::function<size_t(size_t)>& cost, size_t n, size_t batch, std::mt19937& rng) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const size_t window = batch * 50;
  for (size_t s = 0; s < n; s += window) {
    auto end = order.begin() + std::min(n, s + window);
    std::stable_sort(order.begin() + s, end, [&](size_t a, size_t b) { return cost(a) < cost(b); });
  }
  std::vector<std::vector<size_t>> batches;
  for (size_t s = 0; s < n; s += batch)
    batches.emplace_back(order.begin() + s, order.begin() + std::min(n, s + batch));
  std::shuffle(batches.begin(), batches.end(), rng);
  order.clear();
  for (const auto& b : batches) order.insert(order.end(), b.begin(), b.end());
  return order;
}

void set_lr(torch::optim::AdamW& opt, double lr) {
  for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
}

void append_jsonl(const fs::path& file, const nlohmann::json& j) {
  std::ofstream out(file, std::ios::app);
  out << j.dump() << "\n";
}

torch::Tensor soft_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets,
                                 const torch::Tensor& class_weights, double label_smoothing) {
  auto t = targets.to(torch::kFloat);
  if (label_smoothing > 0) t = t * (1 - label_smoothing) + label_smoothing / double(t.size(1));
  const auto per_example = -(t * torch::log_softmax(logits.to(torch::kFloat), 1)).sum(1);
  const auto weight = (t * class_weights.to(torch::kFloat)).sum(1);
  return (weight * per_example).sum() / weight.sum();
}

namespace {

torch::Tensor targets_of(const SplitData& split, const std::vector<size_t>& rows) {
  auto out = torch::empty({int64_t(rows.size()), kNumLabels});
  for (size_t r = 0; r < rows.size(); ++r)
    std::memcpy(out[int64_t(r)].data_ptr<float>(), split.targets[rows[r]].data(), kNumLabels * sizeof(float));
  return out;
}

// The table the original study printed after every epoch.
void print_epoch_row(const nlohmann::json& row, bool header) {
  if (header)
    std::fprintf(stderr, "%6s %14s %16s %9s %9s\n", "epoch", "training loss", "validation loss",
                 "accuracy", "macro-F1");
  std::fprintf(stderr, "%6d %14.4f %16.4f %9.4f %9.4f\n", row["epoch"].get<int>(),
               row["train_loss"].get<double>(), row["val_loss"].get<double>(),
               row["val_accuracy"].get<double>(), row["val_macro_f1"].get<double>());
}

}  // namespace

FitResult fit(const TrainConfig& c, bool resume) {
  if (c.task == "mlm") return pretrain(c, resume);
  auto wall_start = std::chrono::steady_clock::now();
  int threads = models::configure_runtime(c.threads);
  spdlog::info("{}; {} threads; bf16 {}", blas_report(), threads, c.bf16 ? "on" : "off");
  if (c.bf16 && !cpu_has_native_bf16())
    spdlog::warn("this CPU has no native bf16 (avx512_bf16/AMX): bf16 is emulated and slower than fp32");
  torch::manual_seed(c.seed);
  auto task = make_task(c, {"train", "val"});
  auto& module = task->module();
  const auto& train = task->split("train");
  if (train.size() == 0) throw Error("no training examples");
  fs::create_directories(c.output_dir);
  write_json_file(c.output_dir / "train_config.json", c.to_json());
  const fs::path log = c.output_dir / "log.jsonl";

  auto weights = class_weights(train.labels, kNumLabels, c.class_weights);
  auto weight_tensor = torch::tensor(weights, torch::kFloat);
  auto optimizer = make_optimizer(module, c);
  const int64_t steps_per_epoch = (train.size() + c.batch_size - 1) / c.batch_size;
  int64_t total_steps = steps_per_epoch * c.epochs;
  if (c.max_steps > 0) total_steps = std::min<int64_t>(total_steps, c.max_steps);
  const auto warmup = static_cast<int64_t>(std::ceil(c.warmup_ratio * total_steps));
  // The epochs the run will reach: max_steps may end it sooner than `epochs` says.
  const int64_t epochs = std::min<int64_t>(c.epochs, (total_steps + steps_per_epoch - 1) / steps_per_epoch);

  FitResult result;
  int start_epoch = 1, stale = 0;
  int64_t step = 0;
  if (resume) {
    auto state = read_json_file(c.output_dir / "last/trainer_state.json");
    task->load_weights(c.output_dir / "last");
    torch::load(*optimizer, (c.output_dir / "last/optimizer.pt").string());
    start_epoch = state.at("epoch").get<int>() + 1;
    step = state.at("global_step").get<int64_t>();
    result.best_epoch = state.at("best_epoch").get<int>();
    result.best_macro_f1 = state.at("best_macro_f1").get<double>();
    stale = state.at("stale_epochs").get<int>();
    result.history = state.at("history");
    spdlog::info("resuming after epoch {} (step {}, best macro-F1 {:.4f} at epoch {})", start_epoch - 1,
                 step, result.best_macro_f1, result.best_epoch);
  }
  spdlog::info("{} training examples, {} steps/epoch, {} epochs ({} steps), class weights [{:.2f}]", train.size(),
               steps_per_epoch, epochs, total_steps, fmt::join(weights, ", "));

  double samples = 0, train_seconds = 0;
  for (int epoch = start_epoch; epoch <= c.epochs && (c.max_steps == 0 || step < c.max_steps); ++epoch) {
    // Seeding per epoch makes a resumed run draw the same batches and dropout as an unbroken one.
    std::mt19937 rng(static_cast<uint32_t>(c.seed * 1000003 + epoch));
    torch::manual_seed(c.seed * 1000003 + epoch);
    auto order = batch_order([&](size_t i) { return task->cost("train", i); }, train.size(), c.batch_size, rng);

    module.train();
    ProgressBar bar(order.size(), fmt::format("epoch {}/{}", epoch, epochs), "ex");
    double loss_sum = 0;
    size_t seen = 0;
    for (size_t start = 0; start < order.size(); start += c.batch_size) {
      if (c.max_steps > 0 && step >= c.max_steps) break;
      std::vector<size_t> idx(order.begin() + start,
                              order.begin() + std::min(order.size(), start + c.batch_size));
      std::vector<int64_t> y(idx.size());
      for (size_t i = 0; i < idx.size(); ++i) y[i] = train.labels[idx[i]];
      set_lr(*optimizer, scheduled_lr(c.learning_rate, step, total_steps, warmup));
      optimizer->zero_grad();
      auto cross_entropy = [&](const torch::Tensor& logits, const std::vector<int64_t>& labels,
                               const std::vector<size_t>& rows) {
        if (!train.targets.empty()) return soft_cross_entropy(logits, targets_of(train, rows), weight_tensor,
                                                              c.label_smoothing);
        return torch::nn::functional::cross_entropy(
            logits.to(torch::kFloat), torch::tensor(labels, torch::kLong),
            torch::nn::functional::CrossEntropyFuncOptions().weight(weight_tensor).label_smoothing(c.label_smoothing));
      };
      torch::Tensor loss;
      if (c.mixup > 0) {
        // Mixup (Zhang et al. 2018): each example blended with another of the batch, the loss with both labels.
        std::gamma_distribution<double> gamma(c.mixup, 1.0);
        const double a = gamma(rng), b = gamma(rng);
        const float lambda = a + b > 0 ? float(a / (a + b)) : 1.0f;
        std::vector<size_t> partner(idx);
        std::shuffle(partner.begin(), partner.end(), rng);
        std::vector<int64_t> y2(idx.size());
        for (size_t i = 0; i < idx.size(); ++i) y2[i] = train.labels[partner[i]];
        models::Bf16Autocast autocast(c.bf16);
        auto logits = task->mixed_logits("train", idx, partner, lambda, rng);
        loss = lambda * cross_entropy(logits, y, idx) + (1 - lambda) * cross_entropy(logits, y2, partner);
      } else {
        models::Bf16Autocast autocast(c.bf16);
        loss = cross_entropy(task->logits("train", idx, true, rng), y, idx);
      }
      loss.backward();
      if (c.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(module.parameters(), c.max_grad_norm);
      optimizer->step();
      ++step;
      double l = loss.item<double>();
      if (!std::isfinite(l)) throw Error(fmt::format("training diverged: loss {} at step {}", l, step));
      loss_sum += l * idx.size();
      seen += idx.size();
      bar.update(idx.size(), fmt::format("loss {:.4f}", loss_sum / seen));
      if (step % 50 == 0)
        append_jsonl(log, {{"type", "step"}, {"epoch", epoch}, {"step", step}, {"loss", l},
                           {"lr", scheduled_lr(c.learning_rate, step - 1, total_steps, warmup)}});
    }
    bar.finish(fmt::format("loss {:.4f}", seen ? loss_sum / seen : 0.0));
    samples += seen;
    train_seconds += bar.elapsed_seconds();

    task->end_epoch();
    auto val = evaluate(*task, "val", c.eval_batch_size, c.bf16, "validate");
    nlohmann::json row = {{"type", "epoch"},
                          {"epoch", epoch},
                          {"step", step},
                          {"train_loss", seen ? loss_sum / seen : 0.0},
                          {"val_loss", val.loss},
                          {"val_accuracy", val.report.accuracy},
                          {"val_macro_f1", val.report.macro_f1},
                          {"train_samples_per_second", bar.rate()},
                          {"epoch_seconds", bar.elapsed_seconds()}};
    print_epoch_row(row, epoch == start_epoch);
    append_jsonl(log, row);
    result.history.push_back(row);
    result.epochs_run += 1;

    const auto dtype = c.save_dtype == "float16" ? torch::kHalf : torch::kFloat;
    if (val.report.macro_f1 > result.best_macro_f1 || result.best_epoch == 0) {
      result.best_macro_f1 = val.report.macro_f1;
      result.best_epoch = epoch;
      stale = 0;
      task->save(c.output_dir / "best", dtype);
      spdlog::info("epoch {}: new best validation macro-F1 {:.4f}, saved {}", epoch, val.report.macro_f1,
                   (c.output_dir / "best").string());
    } else {
      ++stale;
    }
    // The last epoch, with what --resume needs: full-precision weights and the optimizer state.
    task->save(c.output_dir / "last", torch::kFloat);
    torch::save(*optimizer, (c.output_dir / "last/optimizer.pt").string());
    write_json_file(c.output_dir / "last/trainer_state.json",
                        {{"epoch", epoch}, {"global_step", step}, {"best_epoch", result.best_epoch},
                         {"best_macro_f1", result.best_macro_f1}, {"stale_epochs", stale},
                         {"history", result.history}});
    // The curves travel with the checkpoint that ships, for `emopost report` (figures 5 and 6).
    fs::copy_file(log, c.output_dir / "best/log.jsonl", fs::copy_options::overwrite_existing);
    if (c.early_stopping_patience > 0 && stale >= c.early_stopping_patience) {
      spdlog::info("early stopping: no better validation macro-F1 for {} epochs", stale);
      break;
    }
  }
  result.train_samples_per_second = train_seconds > 0 ? samples / train_seconds : 0.0;
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  append_jsonl(log, {{"type", "done"}, {"best_epoch", result.best_epoch},
                     {"best_val_macro_f1", result.best_macro_f1},
                     {"train_samples_per_second", result.train_samples_per_second},
                     {"wall_seconds", result.wall_seconds}});
  if (fs::exists(c.output_dir / "best")) fs::copy_file(log, c.output_dir / "best/log.jsonl", fs::copy_options::overwrite_existing);
  return result;
}

}  // namespace emopost::train
