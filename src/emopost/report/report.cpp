#include "emopost/report/report.h"

#include <chrono>
#include <fstream>
#include <functional>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "emopost/core/error.h"
#include "emopost/core/files.h"
#include "emopost/core/json.h"
#include "emopost/core/labels.h"
#include "emopost/core/paths.h"
#include "emopost/core/progress.h"
#include "emopost/predict/predictor.h"
#include "emopost/text/tokenizer.h"
#include "emopost/train/evaluation.h"

namespace emopost::report {

namespace fs = std::filesystem;
using json = nlohmann::json;

json report_defaults() {
  return {{"title", "emopost: the data and the models"},
          {"data_split", "train"},    // figures 1-3 describe the training data
          {"eval_split", "test"},     // figures 7, 11, 12: the split the cards report
          {"limit", 0},               // examples per evaluated split (0: all), for a quick report
          {"top_k", 7},
          {"stop_words", nullptr},    // null: default_stop_words()
          {"length_bins", {0, 5, 10, 20, 40, 80}},
          {"reliability_bins", 15},
          {"face_detector", "cnn"},   // as the face card's figures are read
          {"face_mirror", true}};
}

namespace {

json merged_config(const json& given) {
  json c = report_defaults();
  if (!given.is_object()) throw Error("the report config must be a JSON object", Errc::invalid_input);
  for (const auto& [k, v] : given.items()) {
    if (!c.contains(k)) throw Error(fmt::format("the report config has an unknown key \"{}\"", k), Errc::invalid_input);
    c[k] = v;
  }
  auto need = [&](const char* key, bool ok, const char* what) {
    if (!ok) throw Error(fmt::format("the report config's \"{}\" must be {}", key, what), Errc::invalid_input);
  };
  need("top_k", c["top_k"].is_number_integer() && c["top_k"].get<int>() > 0, "a positive integer");
  need("limit", c["limit"].is_number_integer() && c["limit"].get<int>() >= 0, "a count (0: all)");
  need("reliability_bins", c["reliability_bins"].is_number_integer() && c["reliability_bins"].get<int>() > 0, "a positive integer");
  need("length_bins", c["length_bins"].is_array() && !c["length_bins"].empty(), "a list of word counts");
  for (const auto& e : c["length_bins"]) need("length_bins", e.is_number_integer() && e.get<int64_t>() >= 0, "a list of word counts");
  need("stop_words", c["stop_words"].is_null() || c["stop_words"].is_array(), "a list of words (or null)");
  return c;
}

// Vega-Lite for each kind of figure. The rows become data.values when the page is drawn.
json bars(const std::string& x, const std::string& y, const std::string& facet, bool independent_y) {
  json spec = {{"facet", {{"field", facet}, {"type", "nominal"}}},
               {"columns", 3},
               {"spec", {{"width", 220}, {"height", 160}, {"mark", "bar"},
                         {"encoding", {{"x", {{"field", x}, {"type", "nominal"}, {"sort", std::vector<std::string>(kLabels.begin(), kLabels.end())}}},
                                       {"y", {{"field", y}, {"type", "quantitative"}}},
                                       {"tooltip", {{{"field", x}}, {{"field", y}}}}}}}}};
  if (independent_y) spec["resolve"] = {{"scale", {{"y", "independent"}}}};
  return spec;
}

json box_spec() {
  const json x = {{"field", "label"}, {"type", "nominal"}};
  return {{"facet", {{"field", "unit"}, {"type", "nominal"}}},
          {"resolve", {{"scale", {{"y", "independent"}}}}},
          {"spec", {{"width", 300}, {"height", 200},
                    {"layer", {{{"mark", "rule"}, {"encoding", {{"x", x}, {"y", {{"field", "min"}, {"type", "quantitative"}, {"title", "length"}}}, {"y2", {{"field", "max"}}}}}},
                               {{"mark", {{"type", "bar"}, {"size", 18}}}, {"encoding", {{"x", x}, {"y", {{"field", "q1"}, {"type", "quantitative"}}}, {"y2", {{"field", "q3"}}}}}},
                               {{"mark", {{"type", "tick"}, {"color", "white"}, {"size", 18}}}, {"encoding", {{"x", x}, {"y", {{"field", "median"}, {"type", "quantitative"}}}}}}}}}}};
}

json top_words_spec(const char* value = "count") {
  return {{"facet", {{"field", "label"}, {"type", "nominal"}}},
          {"columns", 4},
          {"resolve", {{"scale", {{"y", "independent"}}}}},
          {"spec", {{"width", 150}, {"height", 140}, {"mark", "bar"},
                    {"encoding", {{"y", {{"field", "word"}, {"type", "nominal"}, {"sort", "-x"}}},
                                  {"x", {{"field", value}, {"type", "quantitative"}}}}}}}};
}

json fusion_spec() {
  return {{"facet", {{"field", "group"}, {"type", "nominal"}, {"title", nullptr}}},
          {"resolve", {{"scale", {{"x", "independent"}}}}},
          {"spec", {{"width", 240}, {"height", 180}, {"mark", "bar"},
                    {"encoding", {{"x", {{"field", "measure"}, {"type", "nominal"}, {"sort", nullptr}, {"title", nullptr}}},
                                  {"y", {{"field", "value"}, {"type", "quantitative"}, {"axis", {{"format", ".0%"}}},
                                         {"scale", {{"domain", {0, 1}}}}}}}}}}};
}

json ece_spec() {
  return {{"width", 300}, {"height", 200}, {"mark", "bar"},
          {"encoding", {{"x", {{"field", "modality"}, {"type", "nominal"}, {"sort", {"text", "face", "fused"}}}},
                        {"xOffset", {{"field", "stage"}, {"sort", {"before", "after"}}}},
                        {"color", {{"field", "stage"}, {"type", "nominal"}, {"sort", {"before", "after"}}}},
                        {"y", {{"field", "ece"}, {"type", "quantitative"}, {"title", "ECE"}}}}}};
}

json curves_spec() {
  return {{"width", 420}, {"height", 220},
          {"transform", {{{"fold", {"train_loss", "val_loss", "val_accuracy", "val_macro_f1"}}}}},
          {"mark", {{"type", "line"}, {"point", true}}},
          {"encoding", {{"x", {{"field", "epoch"}, {"type", "ordinal"}}},
                        {"y", {{"field", "value"}, {"type", "quantitative"}}},
                        {"color", {{"field", "key"}, {"type", "nominal"}, {"title", "metric"}}}}}};
}

json heatmap_spec() {
  const std::vector<std::string> order(kLabels.begin(), kLabels.end());
  auto one = [&](const char* field, const char* format) {
    return json{{"width", 260}, {"height", 260},
                {"encoding", {{"x", {{"field", "predicted"}, {"type", "nominal"}, {"sort", order}}},
                              {"y", {{"field", "true"}, {"type", "nominal"}, {"sort", order}}}}},
                {"layer", {{{"mark", "rect"}, {"encoding", {{"color", {{"field", field}, {"type", "quantitative"}}}}}},
                           {{"mark", {{"type", "text"}, {"fontSize", 10}}},
                            {"encoding", {{"text", {{"field", field}, {"type", "quantitative"}, {"format", format}}}}}}}}};
  };
  return {{"hconcat", {one("count", "d"), one("share", ".2f")}}, {"resolve", {{"scale", {{"color", "independent"}}}}}};
}

json quality_spec() {
  return {{"width", 420}, {"height", 220},
          {"transform", {{{"fold", {"accuracy", "macro_f1"}}}}},
          {"mark", "bar"},
          {"encoding", {{"x", {{"field", "bin"}, {"type", "ordinal"}, {"sort", nullptr}, {"title", "words"}}},
                        {"xOffset", {{"field", "key"}}},
                        {"y", {{"field", "value"}, {"type", "quantitative"}}},
                        {"color", {{"field", "key"}, {"type", "nominal"}, {"title", "metric"}}},
                        {"tooltip", {{{"field", "bin"}}, {{"field", "count"}}, {{"field", "value"}, {"format", ".3f"}}}}}}};
}

json reliability_spec() {
  return {{"width", 300}, {"height", 300},
          {"layer", {{{"data", {{"values", {{{"x", 0}}, {{"x", 1}}}}}}, {"mark", {{"type", "line"}, {"strokeDash", {4, 4}}, {"color", "grey"}}},
                      {"encoding", {{"x", {{"field", "x"}, {"type", "quantitative"}}}, {"y", {{"field", "x"}, {"type", "quantitative"}}}}}},
                     {{"mark", {{"type", "line"}, {"point", true}}},
                      {"encoding", {{"x", {{"field", "confidence"}, {"type", "quantitative"}, {"scale", {{"domain", {0, 1}}}}}},
                                    {"y", {{"field", "accuracy"}, {"type", "quantitative"}, {"scale", {{"domain", {0, 1}}}}}},
                                    {"size", {{"field", "count"}, {"type", "quantitative"}}}}}}}}};
}

fs::path find_vendor(const fs::path& given) {
  std::vector<fs::path> candidates;
  if (!given.empty()) candidates.push_back(given);
  candidates.push_back("node_modules");
  if (auto share = installed_data_dir(); !share.empty()) candidates.push_back(share / "node_modules");
  for (const auto& c : candidates)
    if (fs::exists(c / "vega-embed/build/vega-embed.min.js")) return c;
  throw Error("the report's charts need vega, vega-lite and vega-embed (package-lock.json): run `npm ci` in the "
              "source folder, or give --vendor-dir",
              Errc::invalid_input);
}

// What identifies a folder's contents for the cache: each regular file's path, size and time.
json files_identity(const fs::path& dir) {
  json out = json::array();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return json(dir.string() + " (absent)");
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end; !ec && it != end;
       it.increment(ec))
    if (it->is_regular_file(ec)) files.push_back(it->path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files)
    out.push_back({fs::relative(f, dir, ec).string(), fs::file_size(f, ec),
                   std::chrono::duration_cast<std::chrono::seconds>(fs::last_write_time(f, ec).time_since_epoch()).count()});
  return out;
}

// A long step's result, kept under `dir` by the hash of everything that shapes it (`key`), so that a
// report run again with only a chart changed takes seconds.
json cached(const fs::path& dir, const json& key, const std::function<json()>& compute) {
  const auto file = dir / fmt::format("{:016x}.json", std::hash<std::string>{}(key.dump()));
  std::error_code ec;
  if (fs::exists(file, ec)) {
    try {
      auto j = read_json_file(file);
      if (j.is_object() && j.value("key", json()) == key && j.contains("value")) {
        spdlog::info("{}: from the cache ({})", key.value("step", "step"), file.string());
        return std::move(j["value"]);
      }
    } catch (const std::exception&) {
      // A damaged cache entry is computed again.
    }
  }
  json value = compute();
  fs::create_directories(dir);
  write_json_file(file, {{"key", key}, {"value", value}});
  return value;
}

// Labels, predictions and probabilities of an evaluation's rows.
struct Evaluated {
  std::vector<int> truth, predicted;
  std::vector<std::vector<double>> probabilities;
  std::vector<size_t> words;
  std::vector<std::string> texts;
};

Evaluated evaluated(const json& predictions) {
  Evaluated e;
  for (const auto& p : predictions) {
    e.truth.push_back(*label_id(p["label"].get<std::string>()));
    e.predicted.push_back(*label_id(p["predicted"].get<std::string>()));
    e.probabilities.push_back(p["probabilities"].get<std::vector<double>>());
    if (p.contains("text")) {
      e.texts.push_back(p["text"].get<std::string>());
      e.words.push_back(words_of(e.texts.back()).size());
    }
  }
  return e;
}

// A model's figures on one split: its confusion matrix (counts and shares), per-class table, most
// confused pairs and reliability diagram. When it cannot be evaluated, each says why.
struct ModelFigures {
  std::vector<Figure> figures;    // confusion, per class, most confused, reliability
  std::optional<Evaluated> read;  // its predictions, when evaluated
};

ModelFigures model_figures(const std::string& who, const std::string& confusion_id, const std::string& confusion_title,
                           const train::EvalRequest& q, int bins, const fs::path& cache_dir) {
  ModelFigures m;
  m.figures = {{confusion_id, confusion_title + ": counts, and shares of each true label", Rows::array(), {}, heatmap_spec()},
               {who + "-per-class", fmt::format("The {} model per class", who), Rows::array(), {}, json(), true},
               {who + "-most-confused", fmt::format("The {} model's most confused pairs", who), Rows::array(), {}, json(), true},
               {who + "-reliability", fmt::format("The {} model's reliability (softmax probabilities)", who), Rows::array(), {},
                reliability_spec()}};
  try {
    const fs::path data = q.kind == "text" ? q.data_root / "text" : q.data_root / "faces/fer2013" / q.split;
    json key = {{"step", "evaluating the " + who + " model"}, {"model", files_identity(q.model_dir)}, {"data", files_identity(data)},
                {"split", q.split}, {"limit", q.limit}, {"mirror", q.mirror}, {"detector", q.faces.detector}};
    if (!q.faces.detector.empty())
      key["detector_models"] = {files_identity(q.faces.detector_model), files_identity(q.faces.landmarks_model)};
    m.read = evaluated(cached(cache_dir, key, [&] { return json(train::run_evaluation(q).predictions); }));
    const auto& e = *m.read;
    const auto rep = eval::classification_report(e.truth, e.predicted, kNumLabels);
    m.figures[0].rows = confusion_rows(rep);
    m.figures[1].rows = per_class_rows(rep);
    m.figures[2].rows = most_confused(rep);
    m.figures[3].rows = reliability(e.probabilities, e.truth, bins);
    m.figures[3].notes.push_back(fmt::format("ECE {:.4f}", eval::expected_calibration_error(e.probabilities, e.truth, bins)));
  } catch (const std::exception& e) {
    for (auto& f : m.figures) f.notes.push_back(fmt::format("the {} model was not evaluated: {}", who, e.what()));
  }
  return m;
}

// Figure 8: occlusion over every text of the split, as `predict --explain` computes it.
Rows attributed_words(const fs::path& models_dir, const std::vector<std::string>& texts, int k) {
  predict::PredictorOptions po;
  po.models_dir = models_dir;
  const predict::Predictor predictor(po);
  std::vector<std::vector<std::pair<std::string, double>>> attributions;
  std::vector<int> predicted;
  ProgressBar bar(texts.size(), "attribution", "texts");
  constexpr size_t kBatch = 64;
  for (size_t begin = 0; begin < texts.size(); begin += kBatch) {
    std::vector<predict::Post> posts;
    for (size_t i = begin; i < std::min(texts.size(), begin + kBatch); ++i) posts.push_back({"", texts[i], std::nullopt});
    for (const auto& o : predictor.predict_many(posts, /*explain=*/true)) {
      if (!o.prediction || !o.prediction->text) continue;
      std::vector<std::pair<std::string, double>> words;
      for (const auto& w : o.prediction->attribution) words.emplace_back(w.word, w.score);
      attributions.push_back(std::move(words));
      predicted.push_back(fusion::argmax(*o.prediction->text));
    }
    bar.update(posts.size());
  }
  bar.finish();
  return top_attributed_words(attributions, predicted, k);
}

void write_text(const fs::path& file, const std::string& content) {
  std::ofstream out(file, std::ios::binary);
  out << content;
  if (!out) throw Error("cannot write " + file.string(), Errc::invalid_input);
}

}  // namespace

std::vector<Figure> build_report(const ReportRequest& r) {
  const json c = merged_config(r.config);
  const fs::path vendor = find_vendor(r.vendor_dir);
  std::vector<Figure> figs;
  auto note_error = [](Figure& f, const std::string& what, const std::exception& e) {
    f.notes.push_back(fmt::format("{}: {}", what, e.what()));
  };
  const std::string data_split = c["data_split"], eval_split = c["eval_split"];
  const size_t limit = c["limit"].get<size_t>();

  // 1-3: the data.
  Figure counts{"01-class-counts", "Examples per label in each data set", Rows::array(), {}, bars("label", "count", "dataset", true)};
  std::vector<data::TextExample> text_data;
  std::vector<std::pair<std::string, std::vector<size_t>>> sets;
  for (const auto& [name, recipe] : std::vector<std::pair<std::string, std::string>>{{"text mix", "all"}, {"CARER", "carer"}, {"GoEmotions", "goemotions"}}) {
    try {
      auto ex = data::read_text_recipe(r.data_root, recipe, data_split);
      sets.emplace_back(fmt::format("{} {}", name, data_split), data::label_counts(ex));
      if (recipe == "all") text_data = std::move(ex);
    } catch (const std::exception& e) {
      note_error(counts, fmt::format("{} {} not read", name, data_split), e);
    }
  }
  for (const char* split : {"train", "test"}) {
    try {
      sets.emplace_back(fmt::format("FER2013 {}", split), data::label_counts(data::read_fer2013(r.data_root, split)));
    } catch (const std::exception& e) {
      note_error(counts, fmt::format("FER2013 {} not read", split), e);
    }
  }
  counts.rows = class_counts(sets);
  figs.push_back(std::move(counts));

  Figure lengths{"02-text-lengths", fmt::format("Text length per label ({} split), in words and in tokens", data_split), Rows::array(), {}, box_spec()};
  Figure words{"03-top-words", fmt::format("The {} most frequent words of each label, stop words left out", c["top_k"].get<int>()), Rows::array(), {}, top_words_spec()};
  if (text_data.empty()) {
    lengths.notes.push_back("no text data was read (see figure 1)");
    words.notes.push_back("no text data was read (see figure 1)");
  } else {
    try {
      const auto tok = text::WordPieceTokenizer::from_file(r.models_dir / "text/vocab.txt");
      lengths.rows = length_distribution(text_data, [&](const std::string& t) { return tok.tokenize(t).size(); });
    } catch (const std::exception& e) {
      note_error(lengths, "the text model's vocab", e);
    }
    std::set<std::string> stop = default_stop_words();
    if (c["stop_words"].is_array()) stop = c["stop_words"].get<std::set<std::string>>();
    words.rows = top_words(text_data, stop, c["top_k"].get<int>());
  }
  figs.push_back(std::move(lengths));
  Figure cloud{"04-word-clouds", "Figure 3 as word clouds", words.rows, words.notes, {{"cloud", "count"}}};
  figs.push_back(std::move(words));
  figs.push_back(std::move(cloud));

  // 5 and 6: training curves.
  for (const auto& [id, part, title] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"05-text-training", "text", "The text model's training"}, {"06-face-training", "face", "The face model's training"}}) {
    auto curves = training_curves(r.models_dir / part / "log.jsonl");
    figs.push_back({id, title + " (validation after each epoch)", curves.rows, curves.notes, curves_spec()});
  }

  // 7, 11, 12 and the extras: each model on the evaluation split.
  const int bins = c["reliability_bins"].get<int>();
  train::EvalRequest text_q;
  text_q.kind = "text";
  text_q.model_dir = r.models_dir / "text";
  text_q.data_root = r.data_root;
  text_q.split = eval_split;
  text_q.limit = limit;
  auto text = model_figures("text", "07-text-confusion", fmt::format("The text model's confusion matrix ({} split)", eval_split), text_q, bins, r.out_dir / "cache");
  Figure quality{"11-quality-by-length", "The text model's accuracy and macro-F1 by text length (words)", Rows::array(), {}, quality_spec()};
  if (text.read) quality.rows = quality_by_length(text.read->words, text.read->truth, text.read->predicted,
                                                  c["length_bins"].get<std::vector<size_t>>());
  else quality.notes = text.figures.front().notes;
  Figure attributed{"08-attributed-words", "The words the text model leans on for each class it predicts (occlusion scores summed over the split)",
                    Rows::array(), {}, top_words_spec("score")};
  if (!text.read || text.read->texts.empty()) {
    attributed.notes.push_back("the text model was not evaluated (see figure 7)");
  } else {
    try {
      const json key = {{"step", "attribution"}, {"models", files_identity(r.models_dir / "text")}, {"texts", text.read->texts},
                        {"top_k", c["top_k"]}};
      attributed.rows = cached(r.out_dir / "cache", key, [&] { return attributed_words(r.models_dir, text.read->texts, c["top_k"].get<int>()); });
    } catch (const std::exception& e) {
      note_error(attributed, "the attribution was not computed", e);
    }
  }
  train::EvalRequest face_q = text_q;
  face_q.kind = "image";
  face_q.model_dir = r.models_dir / "face";
  face_q.mirror = c["face_mirror"].get<bool>();
  face_q.faces.detector = c["face_detector"].get<std::string>();
  face_q.faces.detector_model = r.models_dir / "detector";
  face_q.faces.landmarks_model = r.models_dir / "landmarks";
  face_q.faces.cache = r.out_dir / "cache/faces";  // faces cut once, read again by the next report
  auto face = model_figures("face", "12-face-confusion", fmt::format("The face model's confusion matrix (FER2013 {} split)", eval_split), face_q, bins, r.out_dir / "cache");
  Figure gallery{"text-worst-mistakes", "The text model's most confident mistakes", Rows::array(), {}, json(), true};
  if (text.read) {
    gallery.rows = most_confident_mistakes(text.read->truth, text.read->predicted, text.read->probabilities, 10);
    for (auto& row : gallery.rows)
      if (row["index"].get<size_t>() < text.read->texts.size()) row["text"] = text.read->texts[row["index"].get<size_t>()];
  } else {
    gallery.notes = text.figures.front().notes;
  }
  figs.push_back(std::move(text.figures[0]));
  Figure attributed_cloud{"09-attributed-clouds", "Figure 8 as word clouds", attributed.rows, attributed.notes, {{"cloud", "score"}}};
  figs.push_back(std::move(attributed));
  figs.push_back(std::move(attributed_cloud));
  figs.push_back(std::move(quality));
  figs.push_back(std::move(face.figures[0]));
  for (auto* m : {&text, &face})
    for (size_t i = 1; i < m->figures.size(); ++i) figs.push_back(std::move(m->figures[i]));

  // The fusion, from the report `emopost calibrate` keeps in fusion.json.
  Figure disagree{"fusion-disagreement", "When the text and the face disagree: whom the fused verdict follows, and who is right",
                  Rows::array(), {}, fusion_spec()};
  Figure ece{"calibration-ece", "Calibration error (ECE) of each modality before and after calibration", Rows::array(), {}, ece_spec()};
  try {
    const auto f = read_json_file(r.models_dir / "fusion.json");
    disagree.rows = fusion_disagreement(f);
    ece.rows = calibration_ece(f);
    for (auto* fig : {&disagree, &ece})
      if (fig->rows.empty()) fig->notes.push_back("fusion.json has no report of this: refit it with `emopost calibrate`");
  } catch (const std::exception& e) {
    note_error(disagree, "no fusion report", e);
    note_error(ece, "no fusion report", e);
  }
  figs.push_back(std::move(gallery));
  figs.push_back(std::move(disagree));
  figs.push_back(std::move(ece));

  // Written: data/<id>.json and .csv, report.json (everything), index.html.
  fs::create_directories(r.out_dir / "data");
  json all = {{"config", c}, {"figures", json::array()}};
  for (const auto& f : figs) {
    write_json_file(r.out_dir / "data" / (f.id + ".json"), {{"title", f.title}, {"rows", f.rows}, {"notes", f.notes}});
    write_text(r.out_dir / "data" / (f.id + ".csv"), to_csv(f.rows));
    all["figures"].push_back({{"id", f.id}, {"title", f.title}, {"rows", f.rows}, {"notes", f.notes}});
  }
  write_json_file(r.out_dir / "report.json", all);
  std::string scripts;
  for (const char* lib : {"vega/build/vega.min.js", "vega-lite/build/vega-lite.min.js", "vega-embed/build/vega-embed.min.js",
                          "d3-cloud/build/d3.layout.cloud.js"})
    scripts += "<script>" + read_file(vendor / lib) + "</script>\n";
  write_text(r.out_dir / "index.html", render_html(figs, c["title"].get<std::string>(), scripts));
  return figs;
}

std::string render_html(const std::vector<Figure>& figs, const std::string& title, const std::string& scripts) {
  auto esc = [](const std::string& s) {
    std::string o;
    for (char ch : s) o += ch == '<' ? "&lt;" : ch == '>' ? "&gt;" : ch == '&' ? "&amp;" : std::string(1, ch);
    return o;
  };
  std::string body;
  json charts = json::array();
  for (const auto& f : figs) {
    body += fmt::format("<section id=\"{0}\" class=\"figure\"><h2>{1}</h2>\n", f.id, esc(f.title));
    if (f.table) {
      body += "<table>";
      if (!f.rows.empty()) {
        body += "<tr>";
        for (const auto& [k, v] : f.rows.front().items()) body += "<th>" + esc(k) + "</th>";
        body += "</tr>";
        for (const auto& row : f.rows) {
          body += "<tr>";
          for (const auto& [k, v] : row.items())
            body += "<td>" + (v.is_number_float() ? fmt::format("{:.3f}", v.get<double>()) : esc(v.is_string() ? v.get<std::string>() : v.dump())) + "</td>";
          body += "</tr>";
        }
      }
      body += "</table>\n";
    } else if (!f.rows.empty()) {
      body += fmt::format("<div class=\"chart\" id=\"chart-{}\"></div>\n", f.id);
      if (f.spec.contains("cloud")) {
        charts.push_back({{"id", f.id}, {"cloud", f.spec["cloud"]}, {"rows", f.rows}});
      } else {
        json spec = f.spec;
        spec["$schema"] = "https://vega.github.io/schema/vega-lite/v6.json";
        spec["data"] = {{"values", f.rows}};
        charts.push_back({{"id", f.id}, {"spec", spec}});
      }
    }
    for (const auto& n : f.notes) body += "<p class=\"note\">" + esc(n) + "</p>\n";
    body += fmt::format("<p class=\"data\">Numbers: <a href=\"data/{0}.json\">JSON</a>, <a href=\"data/{0}.csv\">CSV</a></p></section>\n", f.id);
  }
  // The specs are JSON inside a script: "</" is escaped so that no string in them closes it.
  std::string specs = charts.dump();
  for (size_t p = 0; (p = specs.find("</", p)) != std::string::npos; p += 3) specs.replace(p, 2, "<\\/");
  return fmt::format(R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{0}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
.figure{{margin:2em 0;border-top:1px solid #ddd}}.note{{color:#a33}}.data{{font-size:.85em;color:#666}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:right}}</style>
{1}</head><body><h1>{0}</h1>
{2}
<script>
const charts = {3};
// Word clouds: d3-cloud lays the words out (seeded, so every run draws the same), one cloud per
// label, all in one SVG.
const seeded = (s) => () => (s = (s * 16807) % 2147483647) / 2147483647;
function drawCloud(c) {{
  return new Promise((resolve) => {{
    const ns = 'http://www.w3.org/2000/svg', W = 260, H = 190, cols = 4;
    const colours = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#b279a2', '#9d755d'];
    const labels = [...new Set(c.rows.map((r) => r.label))];
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('xmlns', ns);
    svg.setAttribute('width', W * cols);
    svg.setAttribute('height', H * Math.ceil(labels.length / cols));
    document.getElementById('chart-' + c.id).appendChild(svg);
    let pending = labels.length;
    if (!pending) resolve();
    labels.forEach((label, i) => {{
      const words = c.rows.filter((r) => r.label === label);
      const max = Math.max(...words.map((w) => w[c.cloud]));
      const g = document.createElementNS(ns, 'g');
      g.setAttribute('transform', `translate(${{(i % cols) * W + W / 2}},${{Math.floor(i / cols) * H + H / 2 + 10}})`);
      svg.appendChild(g);
      const title = document.createElementNS(ns, 'text');
      Object.entries({{y: -H / 2 + 6, 'text-anchor': 'middle', 'font-weight': 'bold', 'font-size': 13, 'font-family': 'sans-serif'}})
        .forEach(([k, v]) => title.setAttribute(k, v));
      title.textContent = label;
      g.appendChild(title);
      d3.layout.cloud().size([W - 10, H - 30]).words(words.map((w) => ({{text: w.word, size: 11 + 28 * w[c.cloud] / max}})))
        .padding(2).rotate(0).font('sans-serif').fontSize((d) => d.size).random(seeded(i + 1))
        .on('end', (placed) => {{
          for (const w of placed) {{
            const t = document.createElementNS(ns, 'text');
            Object.entries({{class: 'cloud-word', 'text-anchor': 'middle', 'font-family': 'sans-serif', 'font-size': w.size,
                            fill: colours[i % colours.length], transform: `translate(${{w.x}},${{w.y + 10}})`}})
              .forEach(([k, v]) => t.setAttribute(k, v));
            t.textContent = w.text;
            g.appendChild(t);
          }}
          if (--pending === 0) resolve();
        }}).start();
    }});
  }});
}}
window.emopostRendered = Promise.all(charts.map((c) => c.cloud ? drawCloud(c)
    : vegaEmbed('#chart-' + c.id, c.spec, {{actions: false, renderer: 'svg'}})));
</script></body></html>
)",
                     esc(title), scripts, body, specs);
}

}  // namespace emopost::report
