#include "emopost/eval/scores.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "emopost/core/error.h"

namespace emopost::eval {

namespace {

double ratio(int64_t num, int64_t den) {
  return den > 0 ? static_cast<double>(num) / static_cast<double>(den) : 0.0;
}

// Column sums: how often each class was predicted.
std::vector<int64_t> predicted_counts(const std::vector<std::vector<int64_t>>& confusion) {
  std::vector<int64_t> out(confusion.size(), 0);
  for (auto& row : confusion)
    for (size_t j = 0; j < row.size() && j < out.size(); ++j) out[j] += row[j];
  return out;
}

// sklearn's label set for average='macro': classes seen in the truth or in the predictions.
std::vector<bool> macro_classes(const Report& r) {
  auto predicted = predicted_counts(r.confusion);
  std::vector<bool> in(r.per_class.size(), false);
  for (size_t k = 0; k < in.size(); ++k)
    in[k] = r.per_class[k].support > 0 || (k < predicted.size() && predicted[k] > 0);
  return in;
}

void check_labels(const Report& r, const std::vector<std::string>& labels) {
  // A hand-built or half-filled Report would otherwise index out of bounds.
  bool square = r.confusion.size() == static_cast<size_t>(r.num_classes);
  for (auto& row : r.confusion) square = square && row.size() == r.confusion.size();
  if (!square || r.per_class.size() != static_cast<size_t>(r.num_classes))
    throw Error(fmt::format("report is inconsistent with its {} classes", r.num_classes));
  if (static_cast<int>(labels.size()) != r.num_classes)
    throw Error(fmt::format("report has {} classes but {} labels were given", r.num_classes,
                            labels.size()));
  if (std::set<std::string>(labels.begin(), labels.end()).size() != labels.size())
    throw Error("duplicate label names: they would collide as JSON keys");
}

// Thousands separators, so that supports like 12823 read as 12,823.
std::string grouped(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? fmt::format("-{}", out) : out;
}

// A label may not break the Markdown table it sits in.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

Report classification_report(const std::vector<int>& truth, const std::vector<int>& predicted,
                             int num_classes) {
  if (num_classes < 1) throw Error(fmt::format("num_classes must be >= 1, got {}", num_classes));
  if (truth.size() != predicted.size())
    throw Error(fmt::format("{} true labels but {} predictions", truth.size(), predicted.size()));
  // Scores over nothing would be a silent 0; an empty evaluation set is a caller bug.
  if (truth.empty()) throw Error("classification_report: no examples");

  Report r;
  r.num_classes = num_classes;
  r.total = static_cast<int64_t>(truth.size());
  r.confusion.assign(num_classes, std::vector<int64_t>(num_classes, 0));
  for (size_t i = 0; i < truth.size(); ++i) {
    const int t = truth[i], p = predicted[i];
    if (t < 0 || t >= num_classes)
      throw Error(fmt::format("true label {} at index {} is outside 0..{}", t, i, num_classes - 1));
    if (p < 0 || p >= num_classes)
      throw Error(fmt::format("prediction {} at index {} is outside 0..{}", p, i, num_classes - 1));
    ++r.confusion[t][p];
  }

  const auto pred_count = predicted_counts(r.confusion);
  int64_t correct = 0;
  r.per_class.resize(num_classes);
  for (int k = 0; k < num_classes; ++k) {
    ClassScores& s = r.per_class[k];
    const int64_t tp = r.confusion[k][k];
    for (int64_t c : r.confusion[k]) s.support += c;
    const int64_t fp = pred_count[k] - tp, fn = s.support - tp;
    s.precision = ratio(tp, tp + fp);
    s.recall = ratio(tp, s.support);
    // 2tp / (2tp + fp + fn) equals 2PR/(P+R) but needs no special case when P+R == 0.
    s.f1 = ratio(2 * tp, 2 * tp + fp + fn);
    correct += tp;
  }
  r.accuracy = ratio(correct, r.total);

  const auto in_macro = macro_classes(r);
  double f1_sum = 0, weighted = 0;
  int used = 0;
  for (int k = 0; k < num_classes; ++k) {
    weighted += r.per_class[k].f1 * static_cast<double>(r.per_class[k].support);
    if (!in_macro[k]) continue;
    f1_sum += r.per_class[k].f1;
    ++used;
  }
  r.macro_f1 = used > 0 ? f1_sum / used : 0.0;
  r.weighted_f1 = weighted / static_cast<double>(r.total);
  return r;
}

std::vector<std::vector<double>> Report::confusion_normalized() const {
  std::vector<std::vector<double>> out;
  out.reserve(confusion.size());
  for (auto& row : confusion) {
    int64_t sum = 0;
    for (int64_t c : row) sum += c;
    std::vector<double> norm(row.size(), 0.0);
    for (size_t j = 0; j < row.size(); ++j) norm[j] = ratio(row[j], sum);  // empty row stays 0
    out.push_back(std::move(norm));
  }
  return out;
}

nlohmann::json Report::to_json(const std::vector<std::string>& labels) const {
  check_labels(*this, labels);
  const auto norm = confusion_normalized();
  const auto in_macro = macro_classes(*this);
  nlohmann::json j;
  j["num_classes"] = num_classes;
  j["total"] = total;
  j["accuracy"] = accuracy;
  j["macro_f1"] = macro_f1;
  j["weighted_f1"] = weighted_f1;
  j["labels"] = labels;  // JSON objects are unordered; this keeps the class order
  j["macro_f1_classes"] = nlohmann::json::array();
  nlohmann::json scores = nlohmann::json::object(), counts = nlohmann::json::object(),
                 rows = nlohmann::json::object();
  for (int k = 0; k < num_classes; ++k) {
    const ClassScores& s = per_class[k];
    scores[labels[k]] = {
        {"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1}, {"support", s.support}};
    if (in_macro[k]) j["macro_f1_classes"].push_back(labels[k]);
    for (int p = 0; p < num_classes; ++p) {
      counts[labels[k]][labels[p]] = confusion[k][p];
      rows[labels[k]][labels[p]] = norm[k][p];
    }
  }
  j["per_class"] = std::move(scores);
  // confusion[true label][predicted label]
  j["confusion"] = std::move(counts);
  j["confusion_normalized"] = std::move(rows);
  return j;
}

std::string Report::to_markdown(const std::vector<std::string>& labels) const {
  check_labels(*this, labels);
  const auto in_macro = macro_classes(*this);
  std::string md = fmt::format(
      "**Accuracy {:.2f}%** · macro-F1 {:.4f} · weighted-F1 {:.4f} · {} examples, {} classes\n\n",
      100.0 * accuracy, macro_f1, weighted_f1, grouped(total), num_classes);

  md += "| class | precision | recall | F1 | support |\n|---|---:|---:|---:|---:|\n";
  double mp = 0, mr = 0, wp = 0, wr = 0;
  int used = 0;
  for (int k = 0; k < num_classes; ++k) {
    const ClassScores& s = per_class[k];
    md += fmt::format("| {} | {:.4f} | {:.4f} | {:.4f} | {} |\n", cell(labels[k]), s.precision,
                      s.recall, s.f1, grouped(s.support));
    wp += s.precision * static_cast<double>(s.support);
    wr += s.recall * static_cast<double>(s.support);
    if (in_macro[k]) {
      mp += s.precision;
      mr += s.recall;
      ++used;
    }
  }
  const double n = static_cast<double>(total), u = used > 0 ? used : 1;
  md += fmt::format("| *macro avg* | {:.4f} | {:.4f} | {:.4f} | {} |\n", mp / u, mr / u, macro_f1,
                    grouped(total));
  md += fmt::format("| *weighted avg* | {:.4f} | {:.4f} | {:.4f} | {} |\n", wp / n, wr / n,
                    weighted_f1, grouped(total));
  if (used < num_classes)
    md += fmt::format(
        "\nMacro averages cover the {} classes that occur in the truth or the "
        "predictions.\n",
        used);

  auto header = [&] {
    std::string h = "| true \\ predicted |", rule = "|---|";
    for (auto& l : labels) {
      h += fmt::format(" {} |", cell(l));
      rule += "---:|";
    }
    return fmt::format("{}\n{}\n", h, rule);
  };
  md += "\nConfusion matrix (rows: true class, columns: predicted class)\n\n";
  md += header();
  for (int k = 0; k < num_classes; ++k) {
    md += fmt::format("| {} |", cell(labels[k]));
    for (int64_t c : confusion[k]) md += fmt::format(" {} |", grouped(c));
    md += "\n";
  }
  const auto norm = confusion_normalized();
  md += "\nConfusion matrix, row-normalised (% of each true class)\n\n";
  md += header();
  for (int k = 0; k < num_classes; ++k) {
    md += fmt::format("| {} |", cell(labels[k]));
    for (double v : norm[k]) md += fmt::format(" {:.1f}% |", 100.0 * v);
    md += "\n";
  }
  return md;
}

std::vector<ReliabilityBin> reliability_bins(const std::vector<std::vector<double>>& probabilities,
                                             const std::vector<int>& truth, int bins) {
  if (bins < 1) throw Error(fmt::format("bins must be >= 1, got {}", bins));
  if (probabilities.size() != truth.size())
    throw Error(
        fmt::format("{} probability rows but {} true labels", probabilities.size(), truth.size()));
  if (truth.empty()) throw Error("expected_calibration_error: no examples");
  const size_t classes = probabilities.front().size();

  std::vector<int64_t> count(bins, 0);
  std::vector<double> conf_sum(bins, 0.0), correct(bins, 0.0);
  for (size_t i = 0; i < truth.size(); ++i) {
    const auto& row = probabilities[i];
    if (row.empty() || row.size() != classes)
      throw Error(
          fmt::format("probability row {} has {} entries, expected {}", i, row.size(), classes));
    if (truth[i] < 0 || static_cast<size_t>(truth[i]) >= classes)
      throw Error(
          fmt::format("true label {} at index {} is outside 0..{}", truth[i], i, classes - 1));
    size_t best = 0;  // first maximum, as argmax does
    for (size_t c = 0; c < classes; ++c) {
      if (!std::isfinite(row[c]))
        throw Error(fmt::format("probability row {} has a non-finite entry", i));
      if (row[c] > row[best]) best = c;
    }
    double conf = row[best];
    // Softmax in float can overshoot 1 by an ulp or two; anything further is not a probability.
    if (conf < 0.0 || conf > 1.0 + 1e-6)
      throw Error(fmt::format("confidence {} in row {} is not a probability", conf, i));
    conf = std::min(conf, 1.0);

    // Bin b covers (b/B, (b+1)/B]. ceil(conf*B) - 1 gets there, but conf*B may round across an
    // integer; checking against the edges b/B themselves keeps every value on its own side.
    int b = static_cast<int>(std::ceil(conf * bins)) - 1;
    b = std::clamp(b, 0, bins - 1);
    while (b > 0 && conf <= static_cast<double>(b) / bins) --b;
    while (b < bins - 1 && conf > static_cast<double>(b + 1) / bins) ++b;

    ++count[b];
    conf_sum[b] += conf;
    correct[b] += static_cast<int>(best) == truth[i] ? 1.0 : 0.0;
  }

  std::vector<ReliabilityBin> out;
  for (int b = 0; b < bins; ++b) {
    const double nb = static_cast<double>(count[b]);
    out.push_back({static_cast<double>(b) / bins, static_cast<double>(b + 1) / bins, count[b],
                   count[b] ? conf_sum[b] / nb : 0.0, count[b] ? correct[b] / nb : 0.0});
  }
  return out;
}

double expected_calibration_error(const std::vector<std::vector<double>>& probabilities,
                                  const std::vector<int>& truth, int bins) {
  const auto binned = reliability_bins(probabilities, truth, bins);
  const double n = static_cast<double>(truth.size());
  double ece = 0;
  for (const auto& b : binned)
    if (b.count) ece += (static_cast<double>(b.count) / n) * std::abs(b.accuracy - b.confidence);
  return ece;
}

}  // namespace emopost::eval
