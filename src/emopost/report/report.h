#pragma once
// `emopost report`: the analysis report of the data and the models (issue 17) in one folder: a
// self-contained index.html (Vega-Lite, bundled inline: nothing loaded from the network), and the
// numbers behind each figure as JSON and CSV (data/), all computed by the library (figures.h,
// train::run_evaluation). This header keeps torch out of its users.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "emopost/report/figures.h"

namespace emopost::report {

struct ReportRequest {
  std::filesystem::path data_root = "../shared/data";
  std::filesystem::path models_dir = "models";  // text/ and face/
  std::filesystem::path out_dir = "report";
  // Overrides of the defaults (report_defaults()): the splits read, stop words, bins, limits.
  nlohmann::json config = nlohmann::json::object();
  // Where vega, vega-lite and vega-embed are (node_modules); empty: ./node_modules, then the
  // installed share/emopost/node_modules.
  std::filesystem::path vendor_dir;
};

struct Figure {
  std::string id;     // file stem under data/: "01-class-counts"
  std::string title;
  Rows rows = Rows::array();
  std::vector<std::string> notes;  // what was missing or skipped, shown under the figure
  nlohmann::json spec;             // Vega-Lite; the rows are its data
  bool table = false;              // shown as a table too (without a spec, as a table only)
};

nlohmann::json report_defaults();

// The folder holding vega, vega-lite, vega-embed and d3-cloud: `given`, ./node_modules, or the
// installed share/emopost/node_modules. Throws emopost::Error saying how to get them.
std::filesystem::path find_vendor(const std::filesystem::path& given);

// Computes every figure, writes out_dir, and returns the figures. A missing data split or model
// becomes a note on the figures it feeds; a config that is not valid throws emopost::Error.
std::vector<Figure> build_report(const ReportRequest& request);

// The HTML page of the figures, with the Vega scripts inlined (tested without a model).
std::string render_html(const std::vector<Figure>& figures, const std::string& title, const std::string& vega_scripts);

}  // namespace emopost::report
