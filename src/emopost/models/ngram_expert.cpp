#include "emopost/models/ngram_expert.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "emopost/core/error.h"
#include "emopost/core/files.h"
#include "emopost/core/json.h"
#include "emopost/io/safetensors.h"
#include "emopost/text/words.h"

namespace fs = std::filesystem;

namespace emopost::models {

std::vector<std::string> ngrams_of(std::string_view normalized) {
  auto words = text::words_of(std::string(normalized));
  std::vector<std::string> out(words);
  for (size_t i = 0; i + 1 < words.size(); ++i) out.push_back(words[i] + ' ' + words[i + 1]);
  for (const auto& w : words) {
    std::string padded = " ";
    padded.append(w).push_back(' ');
    auto gram = [&](size_t from, size_t n) { return std::string(kCharGramMark).append(padded, from, n); };
    for (size_t n = kCharGramMin; n <= kCharGramMax; ++n) {
      if (padded.size() <= n) {  // a short word counts once, whole (as sklearn's char_wb)
        out.push_back(gram(0, padded.size()));
        break;
      }
      for (size_t i = 0; i + n <= padded.size(); ++i) out.push_back(gram(i, n));
    }
  }
  return out;
}

NgramExpert::NgramExpert(std::vector<std::string> vocab, std::vector<float> idf, std::vector<float> weight,
                         fusion::Scores bias, double model_weight, double expert_weight, nlohmann::json info)
    : vocab_(std::move(vocab)), idf_(std::move(idf)), weight_(std::move(weight)), bias_(bias), info_(std::move(info)) {
  if (idf_.size() != vocab_.size() || weight_.size() != vocab_.size() * kNumLabels)
    throw Error(fmt::format("n-gram expert: {} n-grams, {} idf values and {} weights disagree", vocab_.size(),
                            idf_.size(), weight_.size()),
                Errc::bad_model);
  index_.reserve(vocab_.size());
  is_char_.resize(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) {
    if (!index_.emplace(vocab_[i], int32_t(i)).second)
      throw Error("n-gram expert: \"" + vocab_[i] + "\" is listed twice", Errc::bad_model);
    is_char_[i] = vocab_[i].starts_with(kCharGramMark);
  }
  set_fusion(model_weight, expert_weight);
}

void NgramExpert::set_fusion(double model_weight, double expert_weight) {
  if (!(model_weight > 0) || !(expert_weight >= 0) || !std::isfinite(model_weight) || !std::isfinite(expert_weight))
    throw Error(fmt::format("n-gram expert: fusion weights {} and {} must be finite, the model's above 0",
                            model_weight, expert_weight),
                Errc::bad_model);
  model_weight_ = model_weight, expert_weight_ = expert_weight;
}

SparseRow NgramExpert::features(std::string_view normalized) const {
  std::unordered_map<int32_t, int> counts;
  for (const auto& g : ngrams_of(normalized))
    if (auto it = index_.find(g); it != index_.end()) ++counts[it->second];
  SparseRow row;
  double norm[2] = {0, 0};  // words and characters, each L2-normalised on its own
  for (const auto& [i, n] : counts) {
    const float v = float((1.0 + std::log(double(n))) * idf_[size_t(i)]);
    row.index.push_back(i), row.value.push_back(v), norm[is_char_[size_t(i)]] += double(v) * v;
  }
  for (size_t j = 0; j < row.index.size(); ++j)
    row.value[j] = float(row.value[j] / std::sqrt(norm[is_char_[size_t(row.index[j])]]));
  return row;
}

fusion::Scores NgramExpert::log_probabilities(std::string_view normalized) const {
  const auto row = features(normalized);
  fusion::Scores logits = bias_;
  const size_t F = vocab_.size();
  for (size_t k = 0; k < logits.size(); ++k)
    for (size_t j = 0; j < row.index.size(); ++j) logits[k] += double(weight_[k * F + size_t(row.index[j])]) * row.value[j];
  return fusion::log_softmax(logits);
}

fusion::Scores NgramExpert::fuse(const fusion::Scores& model_logits, std::string_view normalized) const {
  auto out = fusion::log_softmax(model_logits);
  if (expert_weight_ == 0 && model_weight_ == 1) return out;
  const auto expert = log_probabilities(normalized);
  for (size_t k = 0; k < out.size(); ++k) out[k] = model_weight_ * out[k] + expert_weight_ * expert[k];
  return out;
}

namespace {

std::vector<float> floats(const io::SafetensorsFile& f, std::string_view name, size_t expected) {
  const auto& t = f.at(name);
  if (t.dtype != io::DType::F32 || t.nbytes != expected * sizeof(float))
    throw Error(fmt::format("{}: \"{}\" must be F32 with {} values", f.origin(), name, expected), Errc::bad_model);
  std::vector<float> out(expected);
  std::memcpy(out.data(), t.data, t.nbytes);
  for (float v : out)
    if (!std::isfinite(v)) throw Error(fmt::format("{}: \"{}\" holds a value that is not finite", f.origin(), name),
                                       Errc::bad_model);
  return out;
}

io::TensorView view(std::string name, const std::vector<float>& v, std::vector<int64_t> shape) {
  return {std::move(name), io::DType::F32, std::move(shape), reinterpret_cast<const std::byte*>(v.data()),
          v.size() * sizeof(float)};
}

}  // namespace

NgramExpert NgramExpert::load(const fs::path& dir) {
  try {
    auto config = read_json_file(dir / "config.json");
    std::vector<std::string> labels = config.at("labels").get<std::vector<std::string>>();
    if (labels != std::vector<std::string>(kLabels.begin(), kLabels.end()))
      throw Error((dir / "config.json").string() + ": \"labels\" must be emopost's 7, in order", Errc::bad_model);
    std::vector<std::string> vocab;
    const auto text = read_file(dir / "ngrams.txt", Errc::bad_model);
    for (size_t start = 0; start < text.size();) {
      const size_t end = std::min(text.find('\n', start), text.size());
      vocab.emplace_back(text.substr(start, end - start));
      start = end + 1;
    }
    const size_t F = vocab.size();
    auto file = io::SafetensorsFile::open(dir / "model.safetensors");
    if (const auto& idf = file.at("idf"); idf.shape != std::vector<int64_t>{int64_t(F)})
      throw Error(fmt::format("{}: ngrams.txt lists {} n-grams, but \"idf\" has shape [{}]", dir.string(), F,
                              fmt::join(idf.shape, ", ")),
                  Errc::bad_model);
    auto bias = floats(file, "bias", kNumLabels);
    fusion::Scores b;
    std::copy(bias.begin(), bias.end(), b.begin());
    const auto& fusion = config.at("fusion");
    return NgramExpert(std::move(vocab), floats(file, "idf", F), floats(file, "weight", F * kNumLabels), b,
                       fusion.at("model_weight").get<double>(), fusion.at("expert_weight").get<double>(), config);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not a usable n-gram expert config ({})", (dir / "config.json").string(), e.what()),
                Errc::bad_model);
  } catch (const Error& e) {
    if (e.errc() == Errc::bad_model) throw;
    throw Error(fmt::format("n-gram expert in {}: {}", dir.string(), e.what()), Errc::bad_model);
  }
}

void NgramExpert::save(const fs::path& dir) const {
  fs::create_directories(dir);
  auto config = info_;
  config["model_type"] = "tfidf_logistic_regression";
  config["labels"] = std::vector<std::string>(kLabels.begin(), kLabels.end());
  config["features"] = "word 1- and 2-grams and '#'-marked character 2- to 5-grams of each word padded with spaces, "
                       "of the normalised text; (1 + ln count) * idf, words and characters each L2-normalised";
  config["num_features"] = vocab_.size();
  config["fusion"] = {{"model_weight", model_weight_}, {"expert_weight", expert_weight_},
                      {"rule", "model_weight * log p_transformer + expert_weight * log p_expert"}};
  write_json_file(dir / "config.json", config);
  std::ofstream out(dir / "ngrams.txt", std::ios::binary);
  for (size_t i = 0; i < vocab_.size(); ++i) out << vocab_[i] << (i + 1 < vocab_.size() ? "\n" : "");
  if (!out) throw Error("could not write " + (dir / "ngrams.txt").string());
  out.close();
  const std::vector<float> bias(bias_.begin(), bias_.end());
  io::write_safetensors(dir / "model.safetensors",
                        {view("weight", weight_, {kNumLabels, int64_t(vocab_.size())}), view("bias", bias, {kNumLabels}),
                         view("idf", idf_, {int64_t(vocab_.size())})});
}

}  // namespace emopost::models
