#pragma once
// DistilBertForSequenceClassification, or DistilBertForMaskedLM for pre-training, with Hugging Face's
// parameter names.
#include <vector>

#include <torch/torch.h>

#include "emopost/io/hf_config.h"
#include "emopost/models/transformer.h"

namespace emopost::models {

struct ClassifierOutput {
  torch::Tensor logits;                       // [B, num_labels]
  std::vector<torch::Tensor> hidden_states;  // embeddings, then each layer (when asked for)
};

class DistilBertImpl : public torch::nn::Module {
 public:
  // The head on top of the encoder: the classifier (pre_classifier, classifier; needs labels) or the
  // masked-LM head (vocab_transform, vocab_layer_norm, vocab_projector tied to the word embeddings).
  enum class Head { classification, masked_lm };
  explicit DistilBertImpl(io::DistilBertConfig config, Head head = Head::classification);

  // input_ids, attention_mask: [B, T] int64.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask);
  ClassifierOutput forward_all(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                               bool hidden_states = false);
  // Word embeddings of the ids, and the rest of the model from such embeddings: the split lets
  // attribution take gradients with respect to the input embeddings.
  torch::Tensor embed_words(const torch::Tensor& input_ids);
  ClassifierOutput forward_embeddings(const torch::Tensor& word_embeddings,
                                      const torch::Tensor& attention_mask, bool hidden_states);

  // The last layer's hidden states [B, T, D].
  torch::Tensor encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask);
  // Masked-LM head: vocabulary logits [N, vocab] for hidden states [N, D] (the masked positions).
  torch::Tensor masked_lm_logits(const torch::Tensor& hidden);

  const io::DistilBertConfig& config() const { return config_; }
  torch::Tensor word_embeddings_weight() const { return word_embeddings_->weight; }
  Head head() const { return head_; }
  void init_weights();       // all weights, as transformers initialises them
  void init_head_weights();  // the classifier head only
  // Runs the transformer blocks' linears in dynamic int8 from now on (inference; see int8.h).
  void quantize_int8() {
    for (auto& b : blocks_) b.quantize_int8();
  }

 private:
  torch::Tensor encode_embeddings(const torch::Tensor& words, const torch::Tensor& attention_mask,
                                  std::vector<torch::Tensor>* hidden_states);
  io::DistilBertConfig config_;
  Head head_;
  torch::nn::Embedding word_embeddings_{nullptr}, position_embeddings_{nullptr};
  torch::nn::LayerNorm embeddings_norm_{nullptr};
  std::vector<TransformerBlock> blocks_;
  torch::nn::Linear pre_classifier_{nullptr}, classifier_{nullptr};
  torch::nn::Linear vocab_transform_{nullptr};
  torch::nn::LayerNorm vocab_layer_norm_{nullptr};
  torch::Tensor vocab_projector_bias_;  // the projector's weight is word_embeddings' (tied)
};
TORCH_MODULE(DistilBert);

}  // namespace emopost::models
