#pragma once
// The training loop, in the spirit of Hugging Face's Trainer: AdamW with linear warm-up and decay,
// gradient clipping, class-weighted loss, an evaluation after every epoch, the best checkpoint kept
// by validation macro-F1, early stopping, resumable from the last epoch.
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "emopost/eval/scores.h"
#include "emopost/train/config.h"
#include "emopost/train/tasks.h"

namespace emopost::train {

struct Evaluation {
  double loss = 0;
  eval::Report report;
  std::vector<int> predicted;
  std::vector<std::vector<double>> probabilities;
  double examples_per_second = 0;
};

// Runs the model over a whole split (no augmentation, no gradients).
Evaluation evaluate(Task& task, const std::string& split, int batch_size, bool bf16,
                    const std::string& label = "eval");

struct FitResult {
  int best_epoch = 0;
  double best_macro_f1 = 0;
  double best_val_loss = 0;  // pre-training selects on this
  int epochs_run = 0;
  double train_samples_per_second = 0;
  double wall_seconds = 0;
  nlohmann::json history = nlohmann::json::array();
};

// Trains config.task on its data ("mlm": pre-training, train/pretrain.h). Writes output_dir/{best,last}/ and output_dir/log.jsonl.
// With resume, continues from output_dir/last/ (weights, optimizer state, epoch counter).
FitResult fit(const TrainConfig& config, bool resume);

// Class weights for the loss from training label counts ("none", "inverse", "sqrt_inverse"),
// normalised to mean 1 over the classes present.
std::vector<double> class_weights(const std::vector<int>& labels, int num_classes,
                                  const std::string& scheme);

// Cross-entropy of `logits` [B, K] to label distributions `targets` [B, K] (FER+'s votes, a teacher's
// probabilities), each example weighted by its target's mean class weight; with one-hot targets this is
// exactly the class-weighted cross-entropy of hard labels. Label smoothing blends each target with the
// uniform distribution first.
torch::Tensor soft_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets,
                                 const torch::Tensor& class_weights, double label_smoothing = 0);

// Learning rate at `step` of `total`: linear warm-up to peak, then linear decay to 0.
double scheduled_lr(double peak, int64_t step, int64_t total, int64_t warmup);

// Shared by fit and pretrain.
// AdamW with the usual exemption of biases and norm weights from weight decay.
std::unique_ptr<torch::optim::AdamW> make_optimizer(torch::nn::Module& m, const TrainConfig& c);
void set_lr(torch::optim::AdamW& opt, double lr);
// A shuffled order of n examples in which neighbouring ones have similar cost (padding then costs little).
std::vector<size_t> batch_order(const std::function<size_t(size_t)>& cost, size_t n, size_t batch, std::mt19937& rng);
void append_jsonl(const std::filesystem::path& file, const nlohmann::json& j);

}  // namespace emopost::train
