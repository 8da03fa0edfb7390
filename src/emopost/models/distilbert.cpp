#include "emopost/models/distilbert.h"

#include <fmt/format.h>

#include "emopost/core/error.h"

namespace emopost::models {

namespace nn = torch::nn;

DistilBertImpl::DistilBertImpl(io::DistilBertConfig config, Head head) : config_(std::move(config)), head_(head) {
  const auto& c = config_;
  if (c.sinusoidal_pos_embds) throw Error("distilbert: sinusoidal_pos_embds=true is not supported");
  if (c.n_heads <= 0 || c.dim % c.n_heads != 0)
    throw Error(fmt::format("distilbert: dim {} is not divisible by n_heads {}", c.dim, c.n_heads));
  if (c.activation != "gelu")
    throw Error("distilbert: only activation \"gelu\" is supported, got \"" + c.activation + "\"");
  if (head == Head::classification && c.num_labels() == 0)
    throw Error("distilbert: config has no labels (id2label is empty)");
  const auto& names = distilbert_names();
  word_embeddings_ = place(*this, names.name("word_embeddings"),
                           nn::Embedding(nn::EmbeddingOptions(c.vocab_size, c.dim)
                                             .padding_idx(c.pad_token_id)));
  position_embeddings_ = place(*this, names.name("position_embeddings"),
                               nn::Embedding(c.max_position_embeddings, c.dim));
  embeddings_norm_ = place(*this, names.name("embeddings_norm"),
                           nn::LayerNorm(nn::LayerNormOptions({c.dim}).eps(1e-12)));
  BlockOptions block{.dim = c.dim, .heads = c.n_heads, .hidden = c.hidden_dim, .eps = 1e-12,
                     .dropout = c.dropout, .attention_dropout = c.attention_dropout,
                     .pre_norm = false};
  for (int i = 0; i < c.n_layers; ++i) blocks_.emplace_back(*this, names, i, block);
  if (head == Head::classification) {
    pre_classifier_ = place(*this, names.name("pre_classifier"), nn::Linear(c.dim, c.dim));
    classifier_ = place(*this, names.name("classifier"), nn::Linear(c.dim, c.num_labels()));
  } else {
    vocab_transform_ = place(*this, names.name("vocab_transform"), nn::Linear(c.dim, c.dim));
    vocab_layer_norm_ = place(*this, names.name("vocab_layer_norm"),
                              nn::LayerNorm(nn::LayerNormOptions({c.dim}).eps(1e-12)));
    vocab_projector_bias_ = place_parameter(*this, names.name("vocab_projector") + ".bias",
                                            torch::zeros({c.vocab_size}));
  }
  init_weights();
}

void DistilBertImpl::init_weights() {
  init_like_transformers(*this, config_.initializer_range, /*truncated=*/false);
  torch::NoGradGuard no_grad;
  word_embeddings_->weight[config_.pad_token_id].zero_();
}

void DistilBertImpl::init_head_weights() {
  if (head_ != Head::classification) throw Error("distilbert: init_head_weights is for the classifier head");
  init_like_transformers(*pre_classifier_, config_.initializer_range, false);
  init_like_transformers(*classifier_, config_.initializer_range, false);
}

torch::Tensor DistilBertImpl::embed_words(const torch::Tensor& input_ids) {
  if (input_ids.size(1) > config_.max_position_embeddings)
    throw Error(fmt::format("distilbert: sequence of {} tokens exceeds max_position_embeddings {}",
                            input_ids.size(1), config_.max_position_embeddings));
  return word_embeddings_(input_ids);
}

torch::Tensor DistilBertImpl::encode_embeddings(const torch::Tensor& words, const torch::Tensor& attention_mask,
                                                std::vector<torch::Tensor>* hidden_states) {
  auto positions = torch::arange(words.size(1), torch::TensorOptions().device(words.device()));
  auto x = embeddings_norm_(words + position_embeddings_(positions).unsqueeze(0));
  x = torch::dropout(x, config_.dropout, is_training());
  if (hidden_states) hidden_states->push_back(x);
  torch::Tensor bias;
  if (attention_mask.defined()) bias = attention_bias(attention_mask, x.scalar_type());
  for (auto& block : blocks_) {
    x = block.forward(x, bias, is_training());
    if (hidden_states) hidden_states->push_back(x);
  }
  return x;
}

torch::Tensor DistilBertImpl::encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) {
  return encode_embeddings(embed_words(input_ids), attention_mask, nullptr);
}

torch::Tensor DistilBertImpl::masked_lm_logits(const torch::Tensor& hidden) {
  if (head_ != Head::masked_lm) throw Error("distilbert: this model has no masked-LM head");
  auto h = vocab_layer_norm_(torch::gelu(vocab_transform_(hidden)));
  return torch::linear(h, word_embeddings_->weight, vocab_projector_bias_);
}

ClassifierOutput DistilBertImpl::forward_embeddings(const torch::Tensor& words,
                                                    const torch::Tensor& attention_mask,
                                                    bool hidden_states) {
  if (head_ != Head::classification) throw Error("distilbert: this model has no classifier head");
  ClassifierOutput out;
  auto x = encode_embeddings(words, attention_mask, hidden_states ? &out.hidden_states : nullptr);
  auto pooled = torch::relu(pre_classifier_(x.select(1, 0)));
  pooled = torch::dropout(pooled, config_.seq_classif_dropout, is_training());
  out.logits = classifier_(pooled);
  return out;
}

ClassifierOutput DistilBertImpl::forward_all(const torch::Tensor& input_ids,
                                             const torch::Tensor& attention_mask,
                                             bool hidden_states) {
  return forward_embeddings(embed_words(input_ids), attention_mask, hidden_states);
}

torch::Tensor DistilBertImpl::forward(const torch::Tensor& input_ids,
                                      const torch::Tensor& attention_mask) {
  return forward_all(input_ids, attention_mask).logits;
}

}  // namespace emopost::models
