#include "emopost/report/specs.h"

#include <vector>

#include "emopost/core/labels.h"

namespace emopost::report {

using json = nlohmann::json;

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

json top_words_spec(const char* value) {
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

// Figure 10: one share heatmap per model, side by side.
json ablation_spec() {
  const std::vector<std::string> order(kLabels.begin(), kLabels.end());
  return {{"facet", {{"field", "model"}, {"type", "nominal"}, {"title", nullptr}}},
          {"spec", {{"width", 260}, {"height", 260},
                    {"encoding", {{"x", {{"field", "predicted"}, {"type", "nominal"}, {"sort", order}}},
                                  {"y", {{"field", "true"}, {"type", "nominal"}, {"sort", order}}}}},
                    {"layer", {{{"mark", "rect"}, {"encoding", {{"color", {{"field", "share"}, {"type", "quantitative"}, {"scale", {{"domain", {0, 1}}}}}}}}},
                               {{"mark", {{"type", "text"}, {"fontSize", 10}}},
                                {"encoding", {{"text", {{"field", "share"}, {"type", "quantitative"}, {"format", ".2f"}}}}}}}}}}};
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
  const json x = {{"field", "confidence"}, {"type", "quantitative"}, {"scale", {{"domain", {0, 1}}}}, {"title", "confidence"}};
  const json y = {{"field", "accuracy"}, {"type", "quantitative"}, {"scale", {{"domain", {0, 1}}}}, {"title", "accuracy"}};
  const json colour = {{"field", "stage"}, {"type", "nominal"}, {"sort", {"before", "after"}}};
  return {{"width", 300}, {"height", 300},
          {"layer", {{{"data", {{"values", {{{"x", 0}}, {{"x", 1}}}}}}, {"mark", {{"type", "line"}, {"strokeDash", {4, 4}}, {"color", "grey"}}},
                      {"encoding", {{"x", {{"field", "x"}, {"type", "quantitative"}}}, {"y", {{"field", "x"}, {"type", "quantitative"}}}}}},
                     {{"mark", "line"}, {"encoding", {{"x", x}, {"y", y}, {"color", colour}}}},
                     {{"mark", {{"type", "circle"}, {"opacity", 0.8}}},
                      {"encoding", {{"x", x}, {"y", y}, {"color", colour},
                                    {"size", {{"field", "count"}, {"type", "quantitative"}, {"title", "examples"}}},
                                    {"tooltip", {{{"field", "stage"}}, {{"field", "count"}}, {{"field", "confidence"}, {"format", ".3f"}},
                                                 {{"field", "accuracy"}, {"format", ".3f"}}}}}}}}}};
}

}  // namespace emopost::report
