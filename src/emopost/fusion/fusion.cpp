#include "emopost/fusion/fusion.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/io/hf_config.h"

namespace emopost::fusion {

Scores softmax(const Scores& logits, double temperature) {
  Scores p;
  const double top = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp((logits[i] - top) / temperature);
  for (auto& x : p) x /= sum;
  return p;
}

Scores log_softmax(const Scores& logits) {
  const double top = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (double l : logits) sum += std::exp(l - top);
  Scores out;
  for (size_t k = 0; k < out.size(); ++k) out[k] = logits[k] - top - std::log(sum);
  return out;
}

int argmax(const Scores& s) { return int(std::max_element(s.begin(), s.end()) - s.begin()); }

Scores floored_log(const Scores& probabilities) {
  Scores out;
  for (size_t k = 0; k < out.size(); ++k) out[k] = std::log(std::max(probabilities[k], 1e-12));
  return out;
}

double nll(const std::vector<Scores>& probabilities, const std::vector<int>& labels) {
  if (probabilities.empty() || probabilities.size() != labels.size())
    throw Error(fmt::format("nll: {} rows for {} labels", probabilities.size(), labels.size()));
  double total = 0;
  for (size_t i = 0; i < labels.size(); ++i) total -= std::log(std::max(probabilities[i][labels[i]], 1e-12));
  return total / double(labels.size());
}

double fit_temperature(const std::vector<Scores>& logits, const std::vector<int>& labels) {
  auto loss = [&](double log_t) {
    std::vector<Scores> p;
    p.reserve(logits.size());
    for (const auto& l : logits) p.push_back(softmax(l, std::exp(log_t)));
    return nll(p, labels);
  };
  double lo = std::log(0.05), hi = std::log(20.0);
  const double g = (std::sqrt(5.0) - 1) / 2;
  double a = hi - g * (hi - lo), b = lo + g * (hi - lo), fa = loss(a), fb = loss(b);
  for (int it = 0; it < 60; ++it) {
    if (fa < fb) hi = b, b = a, fb = fa, a = hi - g * (hi - lo), fa = loss(a);
    else lo = a, a = b, fa = fb, b = lo + g * (hi - lo), fb = loss(b);
  }
  return std::exp((lo + hi) / 2);
}

Scores FusionModel::fuse(const std::optional<Scores>& text, const std::optional<Scores>& image) const {
  if (!text && !image) throw Error("fusion needs at least one modality", Errc::empty_post);
  if (!text) return *image;
  if (!image) return *text;
  const Scores lt = floored_log(*text), li = floored_log(*image);
  Scores logp;
  for (size_t i = 0; i < logp.size(); ++i) logp[i] = text_weight * lt[i] + image_weight * li[i];
  return softmax(logp);
}

namespace {
constexpr std::array<const char*, 6> kFields{"method", "labels", "text_temperature", "image_temperature",
                                             "text_weight", "image_weight"};
}

// The report's figures sit at the top level beside the parameters, so the file reads as one record.
nlohmann::json FusionModel::to_json() const {
  nlohmann::json j = report.is_object() ? report : nlohmann::json::object();
  j["method"] = "log-linear pooling of temperature-calibrated probabilities";
  j["labels"] = std::vector<std::string>(kLabels.begin(), kLabels.end());
  j["text_temperature"] = text_temperature, j["image_temperature"] = image_temperature;
  j["text_weight"] = text_weight, j["image_weight"] = image_weight;
  return j;
}

FusionModel FusionModel::from_json(const nlohmann::json& j) {
  FusionModel m;
  try {
    if (j.contains("labels") && j.at("labels") != nlohmann::json(std::vector<std::string>(kLabels.begin(), kLabels.end())))
      throw Error("its labels differ from emopost's 7 labels");
    m.text_temperature = j.at("text_temperature").get<double>();
    m.image_temperature = j.at("image_temperature").get<double>();
    m.text_weight = j.at("text_weight").get<double>();
    m.image_weight = j.at("image_weight").get<double>();
    m.report = j;
    for (const char* k : kFields) m.report.erase(k);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("fusion config: ") + e.what());
  }
  if (!(m.text_temperature > 0) || !(m.image_temperature > 0) || !(m.text_weight >= 0) || !(m.image_weight >= 0))
    throw Error("fusion config: temperatures must be > 0 and weights >= 0");
  return m;
}

FusionModel FusionModel::load(const std::filesystem::path& file) {
  try {
    return from_json(read_json_file(file));
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", file.string(), e.what()), Errc::bad_model);
  }
}

void FusionModel::save(const std::filesystem::path& file) const { write_json_file(file, to_json()); }

double pooled_nll(const std::vector<Scores>& la, const std::vector<Scores>& lb, const std::vector<int>& labels,
                  double wa, double wb, std::vector<int>* predicted) {
  if (la.size() != lb.size() || la.size() != labels.size() || la.empty())
    throw Error(fmt::format("pooled_nll: {} and {} rows for {} labels", la.size(), lb.size(), labels.size()));
  if (predicted) predicted->clear();
  double loss = 0;
  for (size_t r = 0; r < la.size(); ++r) {
    Scores s;
    for (size_t k = 0; k < s.size(); ++k) s[k] = wa * la[r][k] + wb * lb[r][k];
    const Scores lp = log_softmax(s);
    loss -= lp[size_t(labels[r])];
    if (predicted) predicted->push_back(argmax(lp));
  }
  return loss / double(la.size());
}

std::pair<double, double> fit_pool_weights(const std::vector<Scores>& la, const std::vector<Scores>& lb,
                                           const std::vector<int>& labels, WeightGrid ga, WeightGrid gb,
                                           const std::function<bool(double, double)>& allowed) {
  if (la.size() != lb.size() || la.size() != labels.size() || la.empty())
    throw Error(fmt::format("fit_pool_weights: {} and {} rows for {} labels", la.size(), lb.size(), labels.size()));
  const auto points = [](const WeightGrid& g) { return int(std::floor((g.hi - g.lo) / g.step + 1e-9)) + 1; };
  double best = INFINITY;
  std::pair<double, double> arg{ga.lo, gb.lo};
  for (int i = 0; i < points(ga); ++i)
    for (int j = 0; j < points(gb); ++j) {
      const double wa = ga.lo + i * ga.step, wb = gb.lo + j * gb.step;
      if (allowed && !allowed(wa, wb)) continue;
      if (const double loss = pooled_nll(la, lb, labels, wa, wb); loss < best) best = loss, arg = {wa, wb};
    }
  return arg;
}

std::pair<double, double> fit_weights(const std::vector<Scores>& text, const std::vector<Scores>& image,
                                      const std::vector<int>& labels) {
  const auto logs = [](const std::vector<Scores>& p) {
    std::vector<Scores> out;
    for (const auto& row : p) out.push_back(floored_log(row));
    return out;
  };
  return fit_pool_weights(logs(text), logs(image), labels, {0, 3, 0.05}, {0, 3, 0.05},
                          [](double wt, double wi) { return wi < wt; });
}

}  // namespace emopost::fusion
