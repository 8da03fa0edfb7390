#pragma once
// Vega-Lite for each kind of figure in the report. The rows become data.values when the page is
// drawn, so a spec names fields only.
#include <string>

#include <nlohmann/json.hpp>

namespace emopost::report {

// Bars of `y` per `x`, one small chart per `facet` value.
nlohmann::json bars(const std::string& x, const std::string& y, const std::string& facet, bool independent_y);
nlohmann::json box_spec();                                    // {label, unit, min, q1, median, q3, max}
nlohmann::json top_words_spec(const char* value = "count");  // {label, word, <value>}
nlohmann::json fusion_spec();                                 // {group, measure, value}
nlohmann::json ece_spec();                                    // {modality, stage, ece}
nlohmann::json curves_spec();                                 // {epoch, train_loss, val_loss, ...}
nlohmann::json heatmap_spec();                                // {true, predicted, count, share}
nlohmann::json ablation_spec();                               // the same, with model
nlohmann::json quality_spec();                                // {bin, count, accuracy, macro_f1}
nlohmann::json reliability_spec();                            // {stage, confidence, accuracy, count}

}  // namespace emopost::report
