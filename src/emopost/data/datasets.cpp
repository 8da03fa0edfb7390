#include "emopost/data/datasets.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/core/labels.h"
#include "emopost/data/lines.h"

namespace emopost::data {
namespace fs = std::filesystem;

std::string at_line(const fs::path& file, size_t line, const std::string& what) {
  return fmt::format("{}:{}: {}", file.string(), line, what);
}

void fail_at(const fs::path& file, size_t line, const std::string& what) { throw Error(at_line(file, line, what)); }

void require_split(const std::string& split) {
  if (split != "train" && split != "val" && split != "test")
    throw Error(fmt::format("unknown split '{}' (expected train, val or test)", split));
}

std::vector<Line> read_lines(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open {}", file.string()));
  std::vector<Line> lines;
  std::string s;
  for (size_t n = 1; std::getline(in, s); ++n) {
    if (!s.empty() && s.back() == '\r') s.pop_back();
    if (n == 1 && s.rfind("\xEF\xBB\xBF", 0) == 0) s.erase(0, 3);
    lines.push_back({n, std::move(s)});
  }
  if (in.bad()) throw Error(fmt::format("error while reading {}", file.string()));
  while (!lines.empty() && lines.back().text.empty()) lines.pop_back();
  return lines;
}

namespace {

int carer_label(std::string_view name) {
  // CARER's six classes; love goes to joy as GoEmotions' Ekman mapping does.
  if (name == "love") return *label_id("joy");
  static constexpr std::array<std::string_view, 5> kSame = {"sadness", "joy", "anger", "fear",
                                                            "surprise"};
  for (auto s : kSame)
    if (s == name) return *label_id(s);
  return -1;
}

// GoEmotions emotion id -> project label, built from emotions.txt and ekman_mapping.json.
std::vector<int> goemotions_mapping(const fs::path& dir) {
  const fs::path names_file = dir / "emotions.txt";
  const fs::path mapping_file = dir / "ekman_mapping.json";
  std::vector<std::string> names;
  for (auto& l : read_lines(names_file)) {
    if (l.text.empty()) fail_at(names_file, l.number, "empty emotion name");
    names.push_back(l.text);
  }
  if (names.empty()) throw Error(fmt::format("{}: no emotion names", names_file.string()));

  const nlohmann::json j = read_json_file(mapping_file);
  if (!j.is_object()) throw Error(fmt::format("{}: expected an object", mapping_file.string()));

  std::map<std::string, int> to_label;
  to_label["neutral"] = *label_id("neutral");  // the mapping file covers the 27 emotions only
  for (auto& [group, members] : j.items()) {
    auto id = label_id(group);
    if (!id) throw Error(fmt::format("{}: unknown group '{}'", mapping_file.string(), group));
    if (!members.is_array())
      throw Error(fmt::format("{}: group '{}' is not a list", mapping_file.string(), group));
    for (auto& m : members) {
      if (!m.is_string())
        throw Error(fmt::format("{}: non-string member in '{}'", mapping_file.string(), group));
      auto [it, fresh] = to_label.emplace(m.get<std::string>(), *id);
      if (!fresh && it->second != *id)
        throw Error(fmt::format("{}: '{}' is in two groups", mapping_file.string(), it->first));
    }
  }
  std::vector<int> out;
  for (auto& name : names) {
    auto it = to_label.find(name);
    if (it == to_label.end())
      throw Error(fmt::format("{}: emotion '{}' (from {}) is not mapped", mapping_file.string(),
                              name, names_file.string()));
    out.push_back(it->second);
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

std::optional<size_t> parse_index(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  return v;
}

// A file's extension in lower case (".JPG" and ".jpg" are the same kind of file).
std::string extension_of(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

void require_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(fmt::format("missing folder {}", dir.string()));
}

}  // namespace

std::vector<TextExample> read_carer(const fs::path& file) {
  std::vector<TextExample> out;
  for (auto& l : read_lines(file)) {
    // Split at the last ';' so that the label is always the final field.
    size_t pos = l.text.rfind(';');
    if (pos == std::string::npos) fail_at(file, l.number, "expected 'text;label', found no ';'");
    std::string label = l.text.substr(pos + 1);
    int id = carer_label(label);
    if (id < 0) fail_at(file, l.number, fmt::format("unknown CARER label '{}'", label));
    if (pos == 0) fail_at(file, l.number, "empty text");
    out.push_back({l.text.substr(0, pos), id, "carer"});
  }
  return out;
}

std::vector<TextExample> read_goemotions(const fs::path& file, TextSplitStats* stats) {
  const std::vector<int> mapping = goemotions_mapping(file.parent_path());
  std::vector<TextExample> out;
  TextSplitStats st;
  for (auto& l : read_lines(file)) {
    auto fields = split(l.text, '\t');
    if (fields.size() != 3)
      fail_at(file, l.number,
              fmt::format("expected 3 TAB-separated fields, found {}", fields.size()));
    if (fields[0].empty()) fail_at(file, l.number, "empty text");
    int cls = -1;
    bool multiclass = false;
    for (auto id_text : split(fields[1], ',')) {
      auto id = parse_index(id_text);
      if (!id) fail_at(file, l.number, fmt::format("label id '{}' is not a number", id_text));
      if (*id >= mapping.size())
        fail_at(file, l.number,
                fmt::format("label id {} out of range (0..{})", *id, mapping.size() - 1));
      // Keep checking the remaining ids after a second class shows up, so that a broken id
      // is still reported on a row we would drop.
      if (cls < 0)
        cls = mapping[*id];
      else if (cls != mapping[*id])
        multiclass = true;
    }
    if (multiclass) {
      ++st.dropped_multiclass;
      continue;
    }
    out.push_back({std::string(fields[0]), cls, "goemotions"});
    ++st.kept;
  }
  if (stats) *stats = st;
  return out;
}

std::vector<TextExample> read_text_recipe(const fs::path& data_root, const std::string& recipe,
                                          const std::string& split,
                                          TextSplitStats* goemotions_stats) {
  // "all" and "seed" are CARER + GoEmotions; otherwise the sources named, joined by '+'.
  std::vector<std::string> sources;
  if (recipe == "all" || recipe == "seed") sources = {"carer", "goemotions"};
  else
    for (auto s : data::split(recipe, '+')) sources.emplace_back(s);
  for (size_t i = 0; i < sources.size(); ++i)
    if ((sources[i] != "carer" && sources[i] != "goemotions" && sources[i] != "xed") ||
        std::find(sources.begin(), sources.begin() + ptrdiff_t(i), sources[i]) != sources.begin() + ptrdiff_t(i))
      throw Error(fmt::format("unknown text recipe '{}' (expected all, seed, or sources among carer, goemotions "
                              "and xed joined by '+', each once)", recipe));
  require_split(split);
  const fs::path text = data_root / "text";
  std::vector<TextExample> out;
  for (const auto& source : sources) {
    std::vector<TextExample> part;
    if (source == "carer") {
      part = read_carer(text / "carer" / (split + ".txt"));
    } else if (source == "xed") {
      XedStats stats;
      part = read_xed(text / "xed", split, &stats);
      if (!stats.skipped.empty())
        spdlog::warn("XED: {} malformed lines skipped, the first {}", stats.skipped.size(), stats.skipped.front());
    } else {
      // GoEmotions calls its validation split "dev".
      part = read_goemotions(text / "goemotions" / ((split == "val" ? "dev" : split) + ".tsv"), goemotions_stats);
      if (recipe == "seed" && split == "train") {
        // CARER has no neutral and no disgust; "seed" borrows only those two classes.
        const int neutral = *label_id("neutral"), disgust = *label_id("disgust");
        std::erase_if(part, [&](const TextExample& e) { return e.label != neutral && e.label != disgust; });
      }
    }
    out.insert(out.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  return out;
}

std::vector<TextExample> read_labelled_jsonl(const fs::path& file, std::vector<std::string>& errors) {
  std::vector<TextExample> out;
  const auto lines = read_lines(file);
  if (lines.empty()) throw Error(fmt::format("{}: the file is empty (expected one {{\"text\", \"label\"}} per line)",
                                            file.string()));
  const std::string source = file.stem().string();
  const std::string names = fmt::format("{}", fmt::join(kLabels, ", "));
  for (const auto& l : lines) {
    auto bad = [&](const std::string& what) {
      errors.push_back(at_line(file, l.number, what));
    };
    if (l.text.find_first_not_of(" \t") == std::string::npos) {
      bad("blank line");
      continue;
    }
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(l.text);
    } catch (const nlohmann::json::parse_error& e) {  // it refuses invalid UTF-8 inside strings too
      bad(std::string_view(e.what()).find("UTF-8") != std::string_view::npos ? "invalid UTF-8" : "not valid JSON");
      continue;
    }
    if (!row.is_object()) {
      bad("not a JSON object");
      continue;
    }
    auto text = row.find("text"), label = row.find("label");
    if (text == row.end() || !text->is_string() || text->get_ref<const std::string&>().empty()) {
      bad("no \"text\" (a non-empty string)");
      continue;
    }
    if (label == row.end() || !label->is_string()) {
      bad("no \"label\" (one of " + names + ")");
      continue;
    }
    auto id = label_id(label->get<std::string>());
    if (!id) {
      bad(fmt::format("unknown label \"{}\" (expected one of {})", label->get<std::string>(), names));
      continue;
    }
    out.push_back({text->get<std::string>(), *id, source});
  }
  return out;
}

std::vector<FaceExample> read_fer2013(const fs::path& data_root, const std::string& split) {
  require_split(split);
  const fs::path dir = data_root / "faces" / "fer2013" / (split == "train" ? "train" : "test");
  require_dir(dir);
  // FER2013's Kaggle folder names; the protocol splits test/ by its file-name prefix.
  static const std::map<std::string, std::string, std::less<>> kFolders = {
      {"angry", "anger"},     {"disgust", "disgust"}, {"fear", "fear"},        {"happy", "joy"},
      {"neutral", "neutral"}, {"sad", "sadness"},     {"surprise", "surprise"}};
  const std::string_view want = split == "val" ? "PublicTest_" : "PrivateTest_";
  std::vector<FaceExample> out;
  try {
    for (auto& cls_entry : fs::directory_iterator(dir)) {
      const std::string cls_name = cls_entry.path().filename().string();
      if (cls_name.starts_with('.')) continue;  // .DS_Store and friends
      auto it = kFolders.find(cls_name);
      if (!cls_entry.is_directory() || it == kFolders.end())
        throw Error(fmt::format("unknown FER2013 class folder {}", cls_entry.path().string()));
      const int label = *label_id(it->second);
      for (auto& f : fs::directory_iterator(cls_entry.path())) {
        const std::string name = f.path().filename().string();
        if (name.starts_with('.') || !f.is_regular_file()) continue;
        if (extension_of(f.path()) != ".jpg") continue;
        if (split == "train") {
          out.push_back({f.path(), label, "fer2013", {}});  // everything under train/ is training data
          continue;
        }
        // A test file with neither prefix belongs to no split: refuse it rather than lose it.
        if (!name.starts_with("PublicTest_") && !name.starts_with("PrivateTest_"))
          throw Error(fmt::format("{}: test file is neither PublicTest_ nor PrivateTest_",
                                  f.path().string()));
        if (name.starts_with(want)) out.push_back({f.path(), label, "fer2013", {}});
      }
    }
  } catch (const fs::filesystem_error& e) {
    throw Error(fmt::format("cannot list {}: {}", dir.string(), e.what()));
  }
  std::sort(out.begin(), out.end(),
            [](const FaceExample& a, const FaceExample& b) { return a.path < b.path; });
  return out;
}

namespace {

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> out(1);
  for (char c : line) {
    if (c == ',') out.emplace_back();
    else out.back().push_back(c);
  }
  return out;
}

bool is_picture(const fs::path& p) {
  const std::string ext = extension_of(p);
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp" || ext == ".bmp";
}

std::vector<FaceExample> read_labels_csv(const fs::path& dir, std::vector<std::string>& errors) {
  const fs::path file = dir / "labels.csv";
  const auto lines = read_lines(file);
  if (lines.empty()) throw Error(fmt::format("{}: the file is empty", file.string()));
  const auto header = split_commas(lines[0].text);
  auto column = [&](std::string_view name) -> std::optional<size_t> {
    auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? std::nullopt : std::optional<size_t>(size_t(it - header.begin()));
  };
  const auto path_col = column("path"), label_col = column("label"), source_col = column("source");
  if (!path_col || !label_col) fail_at(file, 1, "the header needs \"path\" and \"label\" columns");
  std::vector<FaceExample> out;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto bad = [&](const std::string& what) { errors.push_back(at_line(file, lines[i].number, what)); };
    const auto f = split_commas(lines[i].text);
    if (f.size() != header.size()) {
      bad(fmt::format("{} fields, expected {}", f.size(), header.size()));
      continue;
    }
    const auto label = label_id(f[*label_col]);
    if (!label) {
      bad(fmt::format("unknown label \"{}\" (expected one of {})", f[*label_col], fmt::join(kLabels, ", ")));
      continue;
    }
    const fs::path rel(f[*path_col]);
    std::error_code ec;
    // Paths stay inside the folder: a labels file is data, and must not name files elsewhere.
    if (rel.empty() || rel.is_absolute() || *rel.lexically_normal().begin() == ".." ||
        !fs::is_regular_file(dir / rel, ec)) {
      bad(fmt::format("no picture \"{}\" inside {}", f[*path_col], dir.string()));
      continue;
    }
    out.push_back({dir / rel, *label, source_col ? f[*source_col] : dir.filename().string(), {}});
  }
  return out;
}

std::vector<FaceExample> read_label_folders(const fs::path& dir, std::vector<std::string>& errors) {
  std::vector<FaceExample> out;
  for (const auto& sub : fs::directory_iterator(dir)) {
    const std::string name = sub.path().filename().string();
    if (name.starts_with('.') || !sub.is_directory()) continue;
    const auto label = label_id(name);
    if (!label) {
      errors.push_back(fmt::format("{}: not a label folder (expected one of {})", sub.path().string(),
                                   fmt::join(kLabels, ", ")));
      continue;
    }
    for (const auto& f : fs::directory_iterator(sub.path()))
      if (f.is_regular_file() && is_picture(f.path())) out.push_back({f.path(), *label, dir.filename().string(), {}});
  }
  return out;
}

// FER+'s columns onto the 7 labels; contempt, unknown and "not a face" have none.
constexpr std::array<std::string_view, 7> kFerPlusLabels = {"neutral", "joy", "surprise", "sadness",
                                                            "anger", "disgust", "fear"};
constexpr size_t kUnknown = 8, kNotAFace = 9;

}  // namespace

std::vector<FaceExample> read_labelled_faces(const fs::path& dir, std::vector<std::string>& errors) {
  require_dir(dir);
  std::vector<FaceExample> out;
  try {
    out = fs::exists(dir / "labels.csv") ? read_labels_csv(dir, errors) : read_label_folders(dir, errors);
  } catch (const fs::filesystem_error& e) {
    throw Error(fmt::format("cannot list {}: {}", dir.string(), e.what()));
  }
  if (out.empty())
    throw Error(fmt::format("{}: no labelled picture (expected labels.csv with path,label or one folder per label)",
                            dir.string()));
  std::sort(out.begin(), out.end(), [](const FaceExample& a, const FaceExample& b) { return a.path < b.path; });
  return out;
}

std::vector<FaceExample> read_face_split(const fs::path& data_root, const std::string& split) {
  if (split != "photos-val") return read_fer2013(data_root, split);
  // The yardstick itself: a damaged row is an error rather than a smaller yardstick.
  std::vector<std::string> errors;
  auto out = read_labelled_faces(data_root / "faces" / "photos-val", errors);
  if (!errors.empty()) throw Error(fmt::format("photos-val is damaged: {}", errors.front()));
  return out;
}

FerPlusVotes read_ferplus_votes(const fs::path& file) {
  const auto lines = read_lines(file);
  const std::string header = "file,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF";
  if (lines.empty() || lines[0].text != header) fail_at(file, 1, "expected the header " + header);
  FerPlusVotes out;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto f = split_commas(lines[i].text);
    if (f.size() != 11) fail_at(file, lines[i].number, fmt::format("{} fields, expected 11", f.size()));
    std::array<int, 10> votes{};
    for (size_t c = 0; c < 10; ++c) {
      const auto& v = f[c + 1];
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), votes[c]);
      if (ec != std::errc() || end != v.data() + v.size() || votes[c] < 0 || votes[c] > 100)
        fail_at(file, lines[i].number, fmt::format("bad vote count \"{}\"", v));
    }
    out[f[0]] = votes;
  }
  return out;
}

std::optional<int> ferplus_majority(const std::array<int, 10>& votes) {
  const auto top = std::max_element(votes.begin(), votes.end());
  if (*top == 0 || std::count(votes.begin(), votes.end(), *top) > 1) return std::nullopt;
  const auto column = size_t(top - votes.begin());
  return column < kFerPlusLabels.size() ? label_id(kFerPlusLabels[column]) : std::nullopt;
}

std::optional<std::vector<float>> ferplus_distribution(const std::array<int, 10>& votes) {
  const int emotions = *std::max_element(votes.begin(), votes.begin() + 8);
  if (std::max(votes[kUnknown], votes[kNotAFace]) >= emotions) return std::nullopt;
  std::vector<float> out(kNumLabels, 0.0f);
  float sum = 0;
  for (size_t c = 0; c < kFerPlusLabels.size(); ++c) {
    out[size_t(*label_id(kFerPlusLabels[c]))] = float(votes[c]);
    sum += float(votes[c]);
  }
  if (sum == 0) return std::nullopt;
  for (auto& p : out) p /= sum;
  return out;
}

size_t relabel_ferplus(std::vector<FaceExample>& examples, const fs::path& data_root, bool soft) {
  const auto votes = read_ferplus_votes(data_root / "faces" / "ferplus" / "ferplus_votes.csv");
  const size_t before = examples.size();
  std::erase_if(examples, [&](FaceExample& e) {
    // The key is the file's path under faces/fer2013: split folder, class folder, name.
    const auto key = (e.path.parent_path().parent_path().filename() / e.path.parent_path().filename() /
                      e.path.filename()).generic_string();
    auto it = votes.find(key);
    if (it == votes.end()) return true;
    const auto majority = ferplus_majority(it->second);
    if (!soft) {
      if (majority) e.label = *majority;
      return !majority;
    }
    auto dist = ferplus_distribution(it->second);
    if (!dist) return true;
    // A tie between emotions keeps the example (its votes say so); its hard label is the first.
    e.label = majority.value_or(int(std::max_element(dist->begin(), dist->end()) - dist->begin()));
    e.target = std::move(*dist);
    return false;
  });
  return before - examples.size();
}

namespace {
template <class T>
std::vector<size_t> count_labels(const std::vector<T>& examples) {
  std::vector<size_t> counts(kNumLabels, 0);
  for (auto& e : examples) {
    if (e.label < 0 || e.label >= kNumLabels)
      throw Error(fmt::format("label {} out of range (0..{})", e.label, kNumLabels - 1));
    ++counts[static_cast<size_t>(e.label)];
  }
  return counts;
}
}  // namespace

std::vector<size_t> label_counts(const std::vector<TextExample>& examples) {
  return count_labels(examples);
}
std::vector<size_t> label_counts(const std::vector<FaceExample>& examples) {
  return count_labels(examples);
}

}  // namespace emopost::data
