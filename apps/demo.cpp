#include "demo.h"

#include <chrono>
#include <cstdio>

#include <fmt/format.h>
#include <torch/torch.h>

#include "emopost/core/labels.h"
#include "emopost/core/runtime.h"
#include "emopost/models/checkpoint.h"
#include "emopost/models/image_classifier.h"
#include "emopost/models/runtime.h"
#include "emopost/text/tokenizer.h"
#include "emopost/vision/preprocess.h"

namespace emopost {

namespace fs = std::filesystem;

namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

std::string top_label(const torch::Tensor& logits) {
  auto p = torch::softmax(logits.to(torch::kFloat), -1)[0];
  auto i = p.argmax().item<int64_t>();
  return fmt::format("{} ({:.1f}%)", kLabels[i], 100.0 * p[i].item<double>());
}

}  // namespace

int run_demo(const DemoOptions& o, int threads) {
  int used = models::configure_runtime(threads);
  std::printf("%s\nthreads: %d\n\n", blas_report().c_str(), used);
  std::vector<std::string> labels(kLabels.begin(), kLabels.end());

  // Text: the shipped model when there is one, else a small randomly initialised DistilBERT.
  auto text_dir = o.models_dir / "text";
  bool trained_text = fs::exists(text_dir / "model.safetensors");
  auto vocab = trained_text ? text_dir / "vocab.txt" : fs::path("assets/vocab/bert-base-uncased-vocab.txt");
  auto tokenizer = text::WordPieceTokenizer::from_file(vocab);
  models::DistilBert text_model{nullptr};
  if (trained_text) {
    text_model = models::load_distilbert(text_dir);
  } else {
    io::DistilBertConfig c;
    c.n_layers = 4, c.dim = 256, c.n_heads = 4, c.hidden_dim = 1024, c.max_position_embeddings = 128;
    c.id2label = labels;
    text_model = models::DistilBert(c);
  }
  text_model->eval();
  auto t0 = std::chrono::steady_clock::now();
  auto ids = tokenizer.encode(o.text, 128);
  double tokenize_ms = ms_since(t0);
  auto input = torch::tensor(ids, torch::kLong).unsqueeze(0);
  auto mask = torch::ones_like(input);
  torch::InferenceMode inference;
  text_model->forward(input, mask);  // warm-up
  t0 = std::chrono::steady_clock::now();
  auto text_logits = text_model->forward(input, mask);
  double text_ms = ms_since(t0);

  std::printf("caption: %s\n", o.text.c_str());
  std::printf("  tokens: %zu  [", ids.size());
  for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%s", i ? " " : "", tokenizer.id_to_token(ids[i]).c_str());
  std::printf("]\n  %s text model %s: logits %s, %s\n  tokenise %.3f ms, forward %.2f ms\n\n",
              trained_text ? "trained" : "untrained", c10::str(input.sizes()).c_str(),
              c10::str(text_logits.sizes()).c_str(), top_label(text_logits).c_str(), tokenize_ms, text_ms);

  // Face: the shipped model, else a small randomly initialised ViT on 48x48 grey.
  auto face_dir = o.models_dir / "face";
  bool trained_face = fs::exists(face_dir / "model.safetensors");
  std::optional<models::ImageClassifier> face_model;
  vision::PreprocessOptions pre;
  if (trained_face) {
    face_model = models::ImageClassifier::load(face_dir);
    pre = vision::from_processor_config(models::read_processor_config(face_dir, *face_model), face_model->num_channels());
  } else {
    face_model = models::ImageClassifier::create({{"model_type", "vit"}, {"image_size", 48}, {"patch_size", 8},
                                                  {"num_channels", 1}, {"hidden_size", 256},
                                                  {"num_hidden_layers", 6}, {"num_attention_heads", 4},
                                                  {"intermediate_size", 512}},
                                                 labels);
    pre.height = pre.width = 48, pre.channels = 1;
    pre.mean = {0.5}, pre.std = {0.5};
  }
  face_model->module().eval();
  t0 = std::chrono::steady_clock::now();
  auto rgb = vision::read_rgb(o.image);
  double decode_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  auto chw = vision::preprocess(rgb, pre);
  double pre_ms = ms_since(t0);
  auto pixels = torch::from_blob(chw.data(), {1, pre.channels, pre.height, pre.width}).clone();
  face_model->forward(pixels);  // warm-up
  t0 = std::chrono::steady_clock::now();
  auto face_logits = face_model->forward(pixels);
  double face_ms = ms_since(t0);
  std::printf("image: %s (%dx%d)\n  %s face model %s: logits %s, %s\n  decode %.2f ms, preprocess %.2f ms, forward %.2f ms\n",
              o.image.c_str(), rgb.cols, rgb.rows, trained_face ? "trained" : "untrained",
              c10::str(pixels.sizes()).c_str(), c10::str(face_logits.sizes()).c_str(),
              top_label(face_logits).c_str(), decode_ms, pre_ms, face_ms);
  if (!trained_text || !trained_face)
    std::printf("\n(untrained weights: labels are meaningless until `emopost train` has written models/)\n");
  return 0;
}

}  // namespace emopost
