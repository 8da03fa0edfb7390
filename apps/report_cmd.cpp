// `report`: the analysis report of the data and the models, as one self-contained HTML page with
// the numbers of every figure beside it (JSON and CSV).
#include <spdlog/spdlog.h>

#include "command.h"
#include "emopost/core/json.h"
#include "emopost/core/paths.h"
#include "emopost/report/report.h"

namespace emopost::app {

namespace {

struct Options {
  report::ReportRequest request;
  std::filesystem::path models, config;
  int limit = -1;
};

int run(Options& o) {
  o.request.models_dir = find_models_dir(o.models);
  if (!o.config.empty()) o.request.config = read_json_file(o.config);
  if (o.limit >= 0) o.request.config["limit"] = o.limit;
  const auto figures = report::build_report(o.request);
  size_t notes = 0;
  for (const auto& f : figures) notes += f.notes.size();
  spdlog::info("report written to {} ({} figures, {} notes): open {}", o.request.out_dir.string(), figures.size(), notes,
               (o.request.out_dir / "index.html").string());
  return 0;
}

}  // namespace

void add_report_command(CLI::App& app, Commands& out) {
  auto o = std::make_shared<Options>();
  auto* s = app.add_subcommand("report", "Write the analysis report of the data and the models (HTML, JSON, CSV)");
  s->add_option("--data", o->request.data_root, "Data root holding text/ and faces/ (as ../shared/data)")->capture_default_str();
  s->add_option("--models", o->models, kModelsHelp);
  s->add_option("--out", o->request.out_dir, "Folder to write: index.html, report.json, data/*.json and *.csv")
      ->capture_default_str();
  s->add_option("--config", o->config, "JSON file overriding the defaults (splits, stop_words, top_k, bins, limit)")
      ->check(CLI::ExistingFile);
  s->add_option("--limit", o->limit, "Examples per evaluated split (0: all), for a quick report")
      ->check(CLI::NonNegativeNumber);
  s->add_option("--vendor-dir", o->request.vendor_dir, "Folder holding vega, vega-lite and vega-embed (default: ./node_modules)");
  s->footer("Figures: class counts, text lengths, top words, training curves, both confusion matrices, quality by\n"
            "text length, per-class tables, most confused pairs and reliability diagrams. A missing split or log is a\n"
            "note on its figure.");
  out.push_back({s, [o] { return run(*o); }});
}

}  // namespace emopost::app
