// `report`: the analysis report of the data and the models, as one self-contained HTML page with
// the numbers of every figure beside it (JSON and CSV), and each chart as PNG and SVG.
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "command.h"
#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/core/paths.h"
#include "emopost/report/report.h"

namespace emopost::app {

namespace {

struct Options {
  report::ReportRequest request;
  std::filesystem::path models, config;
  int limit = -1;
  bool images = true;
};

extern "C" char** environ;

// PNG and SVG of each chart: headless Chromium draws the page (scripts/render-report.mjs beside
// node_modules, with playwright-core and Debian's chromium), and checks it as it draws.
void render_images(const std::filesystem::path& out, const std::filesystem::path& vendor_given) {
  const auto script = report::find_vendor(vendor_given).parent_path() / "scripts/render-report.mjs";
  if (!std::filesystem::exists(script)) {
    spdlog::warn("no PNG or SVG: {} is not there (it comes with the source folder)", script.string());
    return;
  }
  std::string node = "node", path = script.string(), dir = out.string();
  char* argv[] = {node.data(), path.data(), dir.data(), nullptr};
  pid_t pid = 0;
  if (posix_spawnp(&pid, "node", nullptr, nullptr, argv, environ) != 0) {
    spdlog::warn("no PNG or SVG: Node.js is not installed (`node {} {}` draws them)", path, dir);
    return;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error(fmt::format("the charts were not all drawn cleanly: see {}", (out / "render.json").string()));
}

int run(Options& o) {
  o.request.models_dir = find_models_dir(o.models);
  if (!o.config.empty()) o.request.config = read_json_file(o.config);
  if (o.limit >= 0) o.request.config["limit"] = o.limit;
  const auto figures = report::build_report(o.request);
  if (o.images) render_images(o.request.out_dir, o.request.vendor_dir);
  size_t notes = 0;
  for (const auto& f : figures) notes += f.notes.size();
  spdlog::info("report written to {} ({} figures, {} notes): open {}", o.request.out_dir.string(), figures.size(), notes,
               (o.request.out_dir / "index.html").string());
  return 0;
}

}  // namespace

void add_report_command(CLI::App& app, Commands& out) {
  auto o = std::make_shared<Options>();
  auto* s = app.add_subcommand("report", "Write the analysis report of the data and the models (HTML, JSON, CSV, PNG, SVG)");
  s->add_option("--data", o->request.data_root, "Data root holding text/ and faces/ (as ../shared/data)")->capture_default_str();
  s->add_option("--models", o->models, kModelsHelp);
  s->add_option("--out", o->request.out_dir, "Folder to write: index.html, report.json, data/*.json and *.csv, png/, svg/")
      ->capture_default_str();
  s->add_option("--config", o->config, "JSON file overriding the defaults (splits, stop_words, top_k, bins, limit,\n"
                                "ablation_words, ablation_steps, ablation_learning_rate, face_detector, ...)")
      ->check(CLI::ExistingFile);
  s->add_option("--limit", o->limit, "Examples per evaluated split (0: all), for a quick report")
      ->check(CLI::NonNegativeNumber);
  s->add_option("--vendor-dir", o->request.vendor_dir, "Folder holding vega, vega-lite and vega-embed (default: ./node_modules)");
  s->add_flag("!--no-images", o->images, "Skip the PNG and SVG of each chart (drawn in headless Chromium, a few seconds)");
  s->footer("Figures: class counts, text lengths, top words (bars and clouds), training curves, both confusion\n"
            "matrices, the words the text model leans on, the ablation (the text model fine-tuned without some words),\n"
            "quality by text length, per-class tables, most confused pairs, reliability before and after calibration,\n"
            "the fusion, and the most confident mistakes. A missing split or log is a note on its figure. Long steps\n"
            "(evaluations, attribution, ablation) are cached under OUT/cache.");
  out.push_back({s, [o] { return run(*o); }});
}

}  // namespace emopost::app
