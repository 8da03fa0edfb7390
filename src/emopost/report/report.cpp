#include "emopost/report/report.h"

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
#include "emopost/fusion/fusion.h"
#include "emopost/io/base64.h"
#include "emopost/predict/calibrate.h"
#include "emopost/text/tokenizer.h"
#include "emopost/report/specs.h"
#include "emopost/report/steps.h"
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
          {"face_mirror", nullptr},   // null: as the face folder's config.json says
          // Figure 10: these words dropped from the training and test texts, the text model fine-tuned
          // this many steps with and without them.
          {"ablation_words", {"feel", "feeling", "like", "de", "en"}},
          {"ablation_steps", 300},
          {"ablation_learning_rate", 1e-4}};
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
  need("ablation_words", c["ablation_words"].is_array(), "a list of words");
  for (const auto& e : c["ablation_words"]) need("ablation_words", e.is_string(), "a list of words");
  need("ablation_steps", c["ablation_steps"].is_number_integer() && c["ablation_steps"].get<int>() >= 0, "a count of steps (0: no ablation)");
  need("ablation_learning_rate", c["ablation_learning_rate"].is_number() && c["ablation_learning_rate"].get<double>() > 0, "a positive number");
  return c;
}

}  // namespace

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

namespace {

// The labels with no example among `counts` (one per label), as "disgust, neutral"; "" when none.
std::string empty_labels(const std::vector<size_t>& counts) {
  std::string out;
  for (size_t l = 0; l < counts.size() && l < kLabels.size(); ++l)
    if (counts[l] == 0) out += (out.empty() ? "" : ", ") + std::string(kLabels[l]);
  return out;
}

// A model's figures on one split: its confusion matrix (counts and shares), per-class table, most
// confused pairs and reliability diagram. When it cannot be evaluated, each says why.
struct ModelFigures {
  std::vector<Figure> figures;    // confusion, per class, most confused, reliability
  std::optional<Evaluated> read;  // its predictions, when evaluated
};

// Reliability rows of one stage ("before" or "after" calibration), and their ECE as a note.
void add_reliability(Figure& f, const std::string& stage, const std::vector<std::vector<double>>& p, const std::vector<int>& truth,
                     int bins) {
  for (auto row : reliability(p, truth, bins)) {
    row["stage"] = stage;
    f.rows.push_back(std::move(row));
  }
  f.notes.push_back(fmt::format("ECE {} calibration: {:.4f}", stage, eval::expected_calibration_error(p, truth, bins)));
}

// `temperature`: fusion.json's, which calibrates the model's probabilities; absent, only "before" is drawn.
ModelFigures model_figures(const std::string& who, const std::string& confusion_id, const std::string& confusion_title,
                           const train::EvalRequest& q, int bins, const fs::path& cache_dir, std::optional<double> temperature) {
  ModelFigures m;
  m.figures = {{confusion_id, confusion_title + ": counts, and shares of each true label", Rows::array(), {}, heatmap_spec()},
               {who + "-per-class", fmt::format("The {} model per class", who), Rows::array(), {}, json(), true},
               {who + "-most-confused", fmt::format("The {} model's most confused pairs", who), Rows::array(), {}, json(), true},
               {who + "-reliability", fmt::format("The {} model's reliability, before and after calibration", who), Rows::array(), {},
                reliability_spec()}};
  try {
    m.read = evaluated(cached_evaluation("evaluating the " + who + " model", q, cache_dir));
    const auto& e = *m.read;
    const auto rep = eval::classification_report(e.truth, e.predicted, kNumLabels);
    m.figures[0].rows = confusion_rows(rep);
    m.figures[1].rows = per_class_rows(rep);
    std::vector<size_t> support;
    for (const auto& row : m.figures[1].rows) support.push_back(row["support"].get<size_t>());
    if (auto empty = empty_labels(support); !empty.empty())
      m.figures[1].notes.push_back(fmt::format("no {} example is labelled {}: recall and F1 are 0 there, and the "
                                               "macro averages count them", q.split, empty));
    m.figures[2].rows = most_confused(rep);
    add_reliability(m.figures[3], "before", e.probabilities, e.truth, bins);
    if (temperature)
      add_reliability(m.figures[3], "after", tempered(e.probabilities, *temperature), e.truth, bins);
    else
      m.figures[3].notes.push_back("no fusion.json with a temperature: the calibrated curve is left out");
  } catch (const std::exception& e) {
    for (auto& f : m.figures) f.notes.push_back(fmt::format("the {} model was not evaluated: {}", who, e.what()));
  }
  return m;
}

// fusion.json, read once: its model (temperatures and weights) and the report `emopost calibrate` kept.
struct FusionRead {
  json report;
  std::optional<fusion::FusionModel> model;
  std::string missing;  // why there is none
  std::optional<double> temperature(double fusion::FusionModel::*t) const {
    return model ? std::optional<double>((*model).*t) : std::nullopt;
  }
  // What it was fitted on (its report's "data": seed, face labels, ...); empty without a report.
  json data() const {
    return report.is_object() && report.contains("data") && report["data"].is_object() ? report["data"] : json::object();
  }
};

FusionRead read_fusion(const fs::path& file) {
  FusionRead f;
  try {
    f.report = read_json_file(file);
    f.model = fusion::FusionModel::from_json(f.report);
  } catch (const std::exception& e) {
    f.missing = e.what();
  }
  return f;
}

// The fused verdict's reliability, on posts built as `emopost calibrate` builds its test posts: each
// text with a face of its label (fusion.json's seed), fused as the predictor fuses them.
Figure fused_reliability(const ModelFigures& text, const ModelFigures& face, const FusionRead& fusion, int bins) {
  Figure f{"fused-reliability", "The fused verdict's reliability on test posts (each text with a face of its label), before and after calibration",
           Rows::array(), {}, reliability_spec()};
  if (!fusion.model) return f.notes.push_back("no fusion.json: there is no fused verdict to draw"), f;
  if (!text.read || !face.read) return f.notes.push_back("the text and the face model must both be evaluated (figures 7 and 12)"), f;
  try {
    const auto seed = fusion.data().value("seed", 13u) + 1;
    const auto faces = predict::pair_faces(text.read->truth, face.read->truth, seed);
    auto scores = [](const std::vector<double>& p) {
      fusion::Scores s{};
      std::copy_n(p.begin(), std::min(p.size(), s.size()), s.begin());
      return s;
    };
    for (const bool after : {false, true}) {
      const auto tp = after ? tempered(text.read->probabilities, fusion.model->text_temperature) : text.read->probabilities;
      const auto fp = after ? tempered(face.read->probabilities, fusion.model->image_temperature) : face.read->probabilities;
      std::vector<std::vector<double>> fused;
      for (size_t i = 0; i < tp.size(); ++i) {
        const auto p = fusion.model->fuse(scores(tp[i]), scores(fp[faces[i]]));
        fused.emplace_back(p.begin(), p.end());
      }
      add_reliability(f, after ? "after" : "before", fused, text.read->truth, bins);
    }
  } catch (const std::exception& e) {
    f.notes.push_back(fmt::format("the fused verdict was not drawn: {}", e.what()));
  }
  return f;
}

// The face model's most confident mistakes, each face inline as a thumbnail.
Figure face_gallery(const ModelFigures& face) {
  Figure g{"face-worst-mistakes", "The face model's most confident mistakes", Rows::array(), {}, json(), true};
  if (!face.read) return g.notes = face.figures.front().notes, g;
  g.rows = most_confident_mistakes(face.read->truth, face.read->predicted, face.read->probabilities, 10);
  for (auto& row : g.rows) {
    const auto i = row["index"].get<size_t>();
    if (i >= face.read->files.size()) continue;
    const fs::path file = face.read->files[i];
    try {
      const bool png = file.extension() == ".png" || file.extension() == ".PNG";
      row["face"] = std::string(png ? "data:image/png;base64," : "data:image/jpeg;base64,") + io::base64_encode(read_file(file));
      row["file"] = file.filename().string();
    } catch (const std::exception& e) {
      g.notes.push_back(fmt::format("{}: {}", file.string(), e.what()));
    }
  }
  if (!g.rows.empty() && !g.rows.front().contains("face")) g.notes.push_back("the evaluation named no image files: no thumbnails");
  return g;
}

// Figure 10: the confusion matrices with and without the words, and the scores of each model.
std::pair<Figure, Figure> ablation_figures(const ReportRequest& r, const json& c, const std::string& eval_split, size_t limit) {
  Figure matrices{"10-ablation", "Figure 10, the ablation: the text model fine-tuned on the full texts and without some words (shares of each true label)",
                  Rows::array(), {}, ablation_spec()};
  Figure scores{"10-ablation-scores", "Figure 10 in numbers: each model on the test texts, with and without the words", Rows::array(), {}, json(), true};
  if (c["ablation_steps"].get<int>() == 0) {
    matrices.notes.push_back("the config's ablation_steps is 0: no ablation");
    scores.notes = matrices.notes;
    return {std::move(matrices), std::move(scores)};
  }
  try {
    AblationRequest q;
    q.text_model = r.models_dir / "text";
    q.data_root = r.data_root;
    q.cache_dir = r.out_dir / "cache";
    q.words = c["ablation_words"].get<std::vector<std::string>>();
    q.eval_split = eval_split;
    q.steps = c["ablation_steps"].get<int>();
    q.learning_rate = c["ablation_learning_rate"].get<double>();
    q.limit = limit;
    auto a = run_ablation(q);
    matrices.rows = std::move(a.confusion);
    scores.rows = std::move(a.scores);
    matrices.notes = a.notes;
  } catch (const std::exception& e) {
    matrices.notes.push_back(fmt::format("the ablation was not run: {}", e.what()));
    scores.notes = matrices.notes;
  }
  return {std::move(matrices), std::move(scores)};
}

void write_text(const fs::path& file, const std::string& content) {
  std::ofstream out(file, std::ios::binary);
  out << content;
  if (!out) throw Error("cannot write " + file.string(), Errc::invalid_input);
}

// A figure's note that a step failed, and why.
void note_error(Figure& f, const std::string& what, const std::exception& e) {
  f.notes.push_back(fmt::format("{}: {}", what, e.what()));
}

// Figures 1-4: the data sets' class counts, text lengths, top words and their clouds.
std::vector<Figure> data_figures(const ReportRequest& r, const json& c) {
  const std::string data_split = c["data_split"];
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
  for (const auto& [name, n] : sets)
    if (auto empty = empty_labels(n); !empty.empty())
      counts.notes.push_back(fmt::format("{} has no example labelled {}", name, empty));

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
    if (auto empty = empty_labels(data::label_counts(text_data)); !empty.empty())
      words.notes.push_back(fmt::format("no {} text is labelled {}: those classes have no words", data_split, empty));
  }
  Figure cloud{"04-word-clouds", "Figure 3 as word clouds", words.rows, words.notes, {{"cloud", "count"}}};
  std::vector<Figure> figs;
  figs.push_back(std::move(counts));
  figs.push_back(std::move(lengths));
  figs.push_back(std::move(words));
  figs.push_back(std::move(cloud));
  return figs;
}

// Figure 8: the words the text model leans on, by occlusion over the evaluated texts (cached).
Figure attributed_figure(const ReportRequest& r, const json& c, const ModelFigures& text) {
  Figure attributed{"08-attributed-words", "The words the text model leans on for each class it predicts (occlusion scores summed over the split)",
                    Rows::array(), {}, top_words_spec("score")};
  if (!text.read || text.read->texts.empty()) {
    attributed.notes.push_back("the text model was not evaluated (see figure 7)");
    return attributed;
  }
  try {
    const json key = {{"step", "attribution"}, {"models", files_identity(r.models_dir / "text")}, {"texts", text.read->texts},
                      {"top_k", c["top_k"]}};
    attributed.rows = cached(r.out_dir / "cache", key, [&] { return attributed_words(r.models_dir, text.read->texts, c["top_k"].get<int>()); });
  } catch (const std::exception& e) {
    note_error(attributed, "the attribution was not computed", e);
  }
  return attributed;
}

// The text model's most confident mistakes, with their texts.
Figure text_gallery(const ModelFigures& text) {
  Figure gallery{"text-worst-mistakes", "The text model's most confident mistakes", Rows::array(), {}, json(), true};
  if (!text.read) return gallery.notes = text.figures.front().notes, gallery;
  gallery.rows = most_confident_mistakes(text.read->truth, text.read->predicted, text.read->probabilities, 10);
  for (auto& row : gallery.rows)
    if (row["index"].get<size_t>() < text.read->texts.size()) row["text"] = text.read->texts[row["index"].get<size_t>()];
  return gallery;
}

// The fusion, from the report `emopost calibrate` keeps in fusion.json: whom it follows, and its ECE.
std::pair<Figure, Figure> fusion_figures(const FusionRead& fusion) {
  Figure disagree{"fusion-disagreement", "When the text and the face disagree: whom the fused verdict follows, and who is right",
                  Rows::array(), {}, fusion_spec()};
  Figure ece{"calibration-ece", "Calibration error (ECE) of each modality before and after calibration", Rows::array(), {}, ece_spec()};
  if (fusion.model) {
    disagree.rows = fusion_disagreement(fusion.report);
    ece.rows = calibration_ece(fusion.report);
    for (auto* fig : {&disagree, &ece})
      if (fig->rows.empty()) fig->notes.push_back("fusion.json has no report of this: refit it with `emopost calibrate`");
  } else {
    for (auto* fig : {&disagree, &ece}) fig->notes.push_back("no fusion report: " + fusion.missing);
  }
  return {std::move(disagree), std::move(ece)};
}

// Written: data/<id>.json and .csv, report.json (everything), index.html with the vendored scripts inline.
void write_report(const fs::path& out_dir, const json& c, const fs::path& vendor, const std::vector<Figure>& figs) {
  fs::create_directories(out_dir / "data");
  json all = {{"config", c}, {"figures", json::array()}};
  for (const auto& f : figs) {
    write_json_file(out_dir / "data" / (f.id + ".json"), {{"title", f.title}, {"rows", f.rows}, {"notes", f.notes}});
    write_text(out_dir / "data" / (f.id + ".csv"), to_csv(f.rows));
    all["figures"].push_back({{"id", f.id}, {"title", f.title}, {"rows", f.rows}, {"notes", f.notes}});
  }
  write_json_file(out_dir / "report.json", all);
  std::string scripts;
  for (const char* lib : {"vega/build/vega.min.js", "vega-lite/build/vega-lite.min.js", "vega-embed/build/vega-embed.min.js",
                          "d3-cloud/build/d3.layout.cloud.js"})
    scripts += "<script>" + read_file(vendor / lib) + "</script>\n";
  write_text(out_dir / "index.html", render_html(figs, c["title"].get<std::string>(), scripts));
}

}  // namespace

std::vector<Figure> build_report(const ReportRequest& r) {
  const json c = merged_config(r.config);
  const fs::path vendor = find_vendor(r.vendor_dir);
  const std::string eval_split = c["eval_split"];
  const size_t limit = c["limit"].get<size_t>();
  std::vector<Figure> figs = data_figures(r, c);  // 1-4

  // 5 and 6: training curves.
  for (const auto& [id, part, title] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"05-text-training", "text", "The text model's training"}, {"06-face-training", "face", "The face model's training"}}) {
    auto curves = training_curves(r.models_dir / part / "log.jsonl");
    figs.push_back({id, title + " (validation after each epoch)", curves.rows, curves.notes, curves_spec(), /*table=*/true});
  }

  // 7, 11, 12, 13 and the extras: each model on the evaluation split, calibrated by fusion.json's temperatures.
  const int bins = c["reliability_bins"].get<int>();
  const auto fusion = read_fusion(r.models_dir / "fusion.json");
  train::EvalRequest text_q;
  text_q.kind = "text";
  text_q.model_dir = r.models_dir / "text";
  text_q.data_root = r.data_root;
  text_q.split = eval_split;
  text_q.limit = limit;
  auto text = model_figures("text", "07-text-confusion", fmt::format("The text model's confusion matrix ({} split)", eval_split), text_q, bins, r.out_dir / "cache",
                           fusion.temperature(&fusion::FusionModel::text_temperature));
  Figure quality{"11-quality-by-length", "The text model's accuracy and macro-F1 by text length (words)", Rows::array(), {}, quality_spec()};
  if (text.read) quality.rows = quality_by_length(text.read->words, text.read->truth, text.read->predicted,
                                                  c["length_bins"].get<std::vector<size_t>>());
  else quality.notes = text.figures.front().notes;
  Figure attributed = attributed_figure(r, c, text);
  train::EvalRequest face_q = text_q;
  face_q.kind = "image";
  face_q.model_dir = r.models_dir / "face";
  if (!c["face_mirror"].is_null()) face_q.mirror = c["face_mirror"].get<bool>();
  face_q.faces.detector = c["face_detector"].get<std::string>();
  face_q.faces.detector_model = r.models_dir / "detector";
  face_q.faces.landmarks_model = r.models_dir / "landmarks";
  face_q.faces.cache = r.out_dir / "cache/faces";  // faces cut once, read again by the next report
  // Scored against the labels the fusion was calibrated on (calibrate --face-labels), so that the
  // reliability after calibration is read against the labels its temperature was fitted to.
  std::string labels_note;
  face_q.face_labels = fusion.data().value("face_labels", std::string("fer2013"));
  if (face_q.face_labels == "ferplus" && !fs::exists(r.data_root / "faces/ferplus/ferplus_votes.csv")) {
    face_q.face_labels = "fer2013";
    labels_note = "fusion.json was calibrated on FER+'s majority labels, but this data has no "
                  "faces/ferplus/ferplus_votes.csv: the faces are scored against FER2013's labels";
  }
  auto face = model_figures("face", "12-face-confusion", fmt::format("The face model's confusion matrix (FER2013 {} split)", eval_split), face_q, bins, r.out_dir / "cache",
                           fusion.temperature(&fusion::FusionModel::image_temperature));
  if (!labels_note.empty()) face.figures[0].notes.push_back(labels_note);
  // The face model on real photos (photos-val, for validation only), read as `predict` reads them.
  auto photos_q = face_q;
  photos_q.split = "photos-val";
  photos_q.face_labels = "fer2013";  // photos-val has its own labels
  auto photos = model_figures("face-photos-val", "13-face-photos-val-confusion",
                              "The face model's confusion matrix on real photos (photos-val)", photos_q, bins,
                              r.out_dir / "cache", fusion.temperature(&fusion::FusionModel::image_temperature));
  figs.push_back(std::move(text.figures[0]));
  Figure attributed_cloud{"09-attributed-clouds", "Figure 8 as word clouds", attributed.rows, attributed.notes, {{"cloud", "score"}}};
  figs.push_back(std::move(attributed));
  figs.push_back(std::move(attributed_cloud));
  auto [ablation, ablation_scores] = ablation_figures(r, c, eval_split, limit);
  figs.push_back(std::move(ablation));
  figs.push_back(std::move(ablation_scores));
  figs.push_back(std::move(quality));
  figs.push_back(std::move(face.figures[0]));
  figs.push_back(std::move(photos.figures[0]));
  figs.push_back(std::move(photos.figures[1]));
  for (auto* m : {&text, &face})
    for (size_t i = 1; i < m->figures.size(); ++i) figs.push_back(std::move(m->figures[i]));
  figs.push_back(fused_reliability(text, face, fusion, bins));
  auto [disagree, ece] = fusion_figures(fusion);
  figs.push_back(text_gallery(text));
  figs.push_back(face_gallery(face));
  figs.push_back(std::move(disagree));
  figs.push_back(std::move(ece));
  write_report(r.out_dir, c, vendor, figs);
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
            if (v.is_string() && v.get<std::string>().rfind("data:image/", 0) == 0)
              body += "<td><img class=\"thumb\" alt=\"" + esc(k) + "\" src=\"" + esc(v.get<std::string>()) + "\"></td>";
            else
              body += "<td>" + (v.is_number_float() ? fmt::format("{:.3f}", v.get<double>()) : esc(v.is_string() ? v.get<std::string>() : v.dump())) + "</td>";
          body += "</tr>";
        }
      }
      body += "</table>\n";
    }
    if (!f.spec.is_null() && !f.rows.empty()) {
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
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:right}}
img.thumb{{width:96px;height:96px;image-rendering:pixelated}}</style>
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
