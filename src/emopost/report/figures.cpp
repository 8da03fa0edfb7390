#include "emopost/report/figures.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/core/labels.h"
#include "emopost/fusion/fusion.h"

namespace emopost::report {

using json = nlohmann::json;

namespace {

std::string label_name(int l) { return std::string(kLabels.at(size_t(l))); }

std::string csv_cell(const json& v) {
  if (v.is_null()) return "";
  if (!v.is_string()) return v.dump();
  const auto s = v.get<std::string>();
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// The value at fraction q of sorted values, linearly interpolated (numpy's default).
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double at = q * double(sorted.size() - 1);
  const size_t lo = size_t(at);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (at - double(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

std::string to_csv(const Rows& rows) {
  if (!rows.is_array() || rows.empty()) return "";
  std::vector<std::string> columns;
  for (const auto& [k, v] : rows.front().items()) columns.push_back(k);
  std::string out;
  for (size_t c = 0; c < columns.size(); ++c) out += (c ? "," : "") + csv_cell(columns[c]);
  out += "\n";
  for (const auto& r : rows) {
    for (size_t c = 0; c < columns.size(); ++c) out += (c ? "," : "") + csv_cell(r.contains(columns[c]) ? r[columns[c]] : json());
    out += "\n";
  }
  return out;
}

Rows class_counts(const std::vector<std::pair<std::string, std::vector<size_t>>>& sets) {
  Rows rows = Rows::array();
  for (const auto& [name, counts] : sets)
    for (int l = 0; l < kNumLabels && size_t(l) < counts.size(); ++l)
      rows.push_back({{"dataset", name}, {"label", label_name(l)}, {"count", counts[size_t(l)]}});
  return rows;
}

Rows length_distribution(const std::vector<data::TextExample>& examples,
                         const std::function<size_t(const std::string&)>& tokens) {
  Rows rows = Rows::array();
  for (const char* unit : {"words", "tokens"}) {
    std::vector<std::vector<double>> by_label(kNumLabels);
    for (const auto& e : examples)
      by_label[size_t(e.label)].push_back(double(unit == std::string("words") ? words_of(e.text).size() : tokens(e.text)));
    for (int l = 0; l < kNumLabels; ++l) {
      auto& v = by_label[size_t(l)];
      std::sort(v.begin(), v.end());
      json r = {{"label", label_name(l)}, {"unit", unit}, {"count", v.size()}};
      if (!v.empty()) {
        r["min"] = v.front();
        r["q1"] = quantile(v, 0.25);
        r["median"] = quantile(v, 0.5);
        r["q3"] = quantile(v, 0.75);
        r["max"] = v.back();
        r["mean"] = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
      }
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

std::set<std::string> default_stop_words() {
  // A common English list plus what the data sets' own markup leaves behind ("[NAME]" -> "name").
  return {"a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at",
          "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could",
          "did", "do", "does", "doing", "don't", "down", "during", "each", "few", "for", "from", "further", "get",
          "got", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his",
          "how", "i", "i'm", "i've", "if", "in", "into", "is", "it", "it's", "its", "itself", "just", "me", "more",
          "most", "my", "myself", "name", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or",
          "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such",
          "than", "that", "that's", "the", "their", "theirs", "them", "themselves", "then", "there", "these",
          "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were",
          "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you",
          "you're", "your", "yours", "yourself", "yourselves", "im", "dont", "t", "s"};
}

Rows top_words(const std::vector<data::TextExample>& examples, const std::set<std::string>& stop_words, int k) {
  std::vector<std::map<std::string, int64_t>> counts(kNumLabels);
  for (const auto& e : examples)
    for (auto& w : words_of(e.text))
      if (!stop_words.count(w)) ++counts[size_t(e.label)][w];
  Rows rows = Rows::array();
  for (int l = 0; l < kNumLabels; ++l) {
    std::vector<std::pair<std::string, int64_t>> v(counts[size_t(l)].begin(), counts[size_t(l)].end());
    // Most frequent first; ties alphabetically, so the figure is the same on every run.
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    for (int r = 0; r < k && size_t(r) < v.size(); ++r)
      rows.push_back({{"label", label_name(l)}, {"rank", r + 1}, {"word", v[size_t(r)].first}, {"count", v[size_t(r)].second}});
  }
  return rows;
}

Rows top_attributed_words(const std::vector<std::vector<std::pair<std::string, double>>>& attributions,
                          const std::vector<int>& predicted, int k) {
  if (attributions.size() != predicted.size())
    throw Error(fmt::format("top_attributed_words: {} attributions for {} predictions", attributions.size(), predicted.size()),
                Errc::invalid_input);
  std::vector<std::map<std::string, std::pair<double, int64_t>>> sums(kNumLabels);
  for (size_t i = 0; i < predicted.size(); ++i)
    for (const auto& [word, score] : attributions[i]) {
      // As figure 3 counts words: lower case, punctuation off ("Disgusting." is "disgusting").
      std::string key;
      for (const auto& w : words_of(word)) key += (key.empty() ? "" : " ") + w;
      if (key.empty()) continue;
      auto& cell = sums.at(size_t(predicted[i]))[key];
      cell.first += score;
      ++cell.second;
    }
  Rows rows = Rows::array();
  for (int l = 0; l < kNumLabels; ++l) {
    std::vector<std::pair<std::string, std::pair<double, int64_t>>> v(sums[size_t(l)].begin(), sums[size_t(l)].end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.second.first != b.second.first ? a.second.first > b.second.first : a.first < b.first;
    });
    for (int r = 0; r < k && size_t(r) < v.size() && v[size_t(r)].second.first > 0; ++r)
      rows.push_back({{"label", label_name(l)}, {"rank", r + 1}, {"word", v[size_t(r)].first},
                      {"score", v[size_t(r)].second.first}, {"examples", v[size_t(r)].second.second}});
  }
  return rows;
}

Rows fusion_disagreement(const json& f) {
  Rows rows = Rows::array();
  if (!f.is_object() || !f.contains("disagreement") || !f["disagreement"].is_object()) return rows;
  const auto& d = f["disagreement"];
  auto add = [&](const char* group, const char* measure, const char* key) {
    if (d.contains(key) && d[key].is_number()) rows.push_back({{"group", group}, {"measure", measure}, {"value", d[key]}});
  };
  add("whom the fused verdict follows", "the text", "fused_follows_text");
  add("whom the fused verdict follows", "the face", "fused_follows_image");
  add("whom the fused verdict follows", "a third label", "fused_picks_a_third_label");
  add("accuracy where they disagree", "text", "text_accuracy");
  add("accuracy where they disagree", "face", "image_accuracy");
  add("accuracy where they disagree", "fused", "fused_accuracy");
  return rows;
}

Rows calibration_ece(const json& f) {
  Rows rows = Rows::array();
  if (!f.is_object()) return rows;
  for (const char* stage : {"before", "after"}) {
    const std::string key = std::string("ece_") + stage + "_calibration";
    if (!f.contains(key) || !f[key].is_object()) continue;
    for (const char* m : {"text", "image", "fused"})
      if (f[key].contains(m) && f[key][m].is_number())
        rows.push_back({{"modality", std::string(m) == "image" ? "face" : m}, {"stage", stage}, {"ece", f[key][m]}});
  }
  return rows;
}

Curves training_curves(const std::filesystem::path& log_jsonl) {
  Curves c;
  std::ifstream in(log_jsonl);
  if (!in) {
    c.notes.push_back(fmt::format("no training log at {}", log_jsonl.string()));
    return c;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      c.notes.push_back(fmt::format("{}:{}: not JSON, skipped", log_jsonl.filename().string(), n));
      continue;
    }
    if (j.value("type", "") != "epoch") continue;
    json row = json::object();
    bool ok = j.contains("epoch") && j["epoch"].is_number_integer();
    row["epoch"] = ok ? j["epoch"] : json();
    for (const char* key : {"train_loss", "val_loss", "val_accuracy", "val_macro_f1"}) {
      ok = ok && j.contains(key) && j[key].is_number();
      row[key] = j.contains(key) ? j[key] : json();
    }
    if (!ok) {
      c.notes.push_back(fmt::format("{}:{}: an epoch row without its numbers, skipped", log_jsonl.filename().string(), n));
      continue;
    }
    c.rows.push_back(std::move(row));
  }
  if (c.rows.empty()) c.notes.push_back(fmt::format("{} has no epoch rows", log_jsonl.string()));
  return c;
}

Rows confusion_rows(const eval::Report& report) {
  Rows rows = Rows::array();
  const auto norm = report.confusion_normalized();
  for (size_t t = 0; t < report.confusion.size(); ++t)
    for (size_t p = 0; p < report.confusion[t].size(); ++p)
      rows.push_back({{"true", label_name(int(t))}, {"predicted", label_name(int(p))}, {"count", report.confusion[t][p]},
                      {"share", norm[t][p]}});
  return rows;
}

Rows per_class_rows(const eval::Report& report) {
  Rows rows = Rows::array();
  for (size_t c = 0; c < report.per_class.size(); ++c) {
    const auto& s = report.per_class[c];
    rows.push_back({{"label", label_name(int(c))}, {"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1},
                    {"support", s.support}});
  }
  return rows;
}

Rows most_confused(const eval::Report& report, int k) {
  Rows cells = Rows::array();
  for (auto& r : confusion_rows(report))
    if (r["true"] != r["predicted"] && r["count"].get<int64_t>() > 0) cells.push_back(r);
  std::stable_sort(cells.begin(), cells.end(), [](const json& a, const json& b) { return a["count"].get<int64_t>() > b["count"].get<int64_t>(); });
  if (cells.size() > size_t(k)) cells.erase(cells.begin() + k, cells.end());
  return cells;
}

Rows quality_by_length(const std::vector<size_t>& lengths, const std::vector<int>& truth, const std::vector<int>& predicted,
                       const std::vector<size_t>& edges) {
  if (lengths.size() != truth.size() || truth.size() != predicted.size())
    throw Error(fmt::format("quality_by_length: {} lengths, {} labels and {} predictions", lengths.size(), truth.size(),
                            predicted.size()),
                Errc::invalid_input);
  if (edges.empty() || !std::is_sorted(edges.begin(), edges.end()))
    throw Error("quality_by_length: the bin edges must be given in increasing order", Errc::invalid_input);
  Rows rows = Rows::array();
  for (size_t b = 0; b < edges.size(); ++b) {
    const size_t from = edges[b];
    const bool last = b + 1 == edges.size();
    const size_t to = last ? 0 : edges[b + 1];
    std::vector<int> t, p;
    for (size_t i = 0; i < lengths.size(); ++i)
      if (lengths[i] >= from && (last || lengths[i] < to)) t.push_back(truth[i]), p.push_back(predicted[i]);
    json r = {{"bin", last ? fmt::format("{}+", from) : fmt::format("{}-{}", from, to - 1)}, {"from", from},
              {"to", last ? json() : json(to)}, {"count", t.size()}};
    if (!t.empty()) {
      const auto rep = eval::classification_report(t, p, kNumLabels);
      r["accuracy"] = rep.accuracy;
      r["macro_f1"] = rep.macro_f1;
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

Rows most_confident_mistakes(const std::vector<int>& truth, const std::vector<int>& predicted,
                             const std::vector<std::vector<double>>& probabilities, int k) {
  if (truth.size() != predicted.size() || truth.size() != probabilities.size())
    throw Error("most_confident_mistakes: labels, predictions and probabilities differ in length", Errc::invalid_input);
  std::vector<std::pair<double, size_t>> wrong;
  for (size_t i = 0; i < truth.size(); ++i)
    if (truth[i] != predicted[i]) wrong.emplace_back(probabilities[i].at(size_t(predicted[i])), i);
  std::stable_sort(wrong.begin(), wrong.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  Rows rows = Rows::array();
  for (size_t r = 0; r < wrong.size() && r < size_t(k); ++r) {
    const size_t i = wrong[r].second;
    rows.push_back({{"index", i}, {"label", label_name(truth[i])}, {"predicted", label_name(predicted[i])},
                    {"confidence", wrong[r].first}});
  }
  return rows;
}

Rows reliability(const std::vector<std::vector<double>>& probabilities, const std::vector<int>& truth, int bins) {
  Rows rows = Rows::array();
  int index = 0;
  for (const auto& b : eval::reliability_bins(probabilities, truth, bins)) {
    ++index;
    if (!b.count) continue;
    rows.push_back({{"bin", index}, {"from", b.from}, {"to", b.to}, {"count", b.count}, {"confidence", b.confidence},
                    {"accuracy", b.accuracy}});
  }
  return rows;
}

std::vector<std::vector<double>> tempered(const std::vector<std::vector<double>>& probabilities, double temperature) {
  if (!(temperature > 0)) throw Error("a temperature must be positive", Errc::invalid_input);
  std::vector<std::vector<double>> out;
  out.reserve(probabilities.size());
  for (const auto& p : probabilities) {
    if (p.size() != size_t(kNumLabels))
      throw Error(fmt::format("tempered: {} probabilities where the labels are {}", p.size(), kNumLabels), Errc::invalid_input);
    fusion::Scores logits;
    for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::log(std::max(p[i], 1e-300));
    const auto q = fusion::softmax(logits, temperature);  // as the fusion calibrates
    out.emplace_back(q.begin(), q.end());
  }
  return out;
}

}  // namespace emopost::report
