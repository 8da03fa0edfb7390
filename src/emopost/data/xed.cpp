// XED's English lines (datasets.h, read_xed): the data README's mapping, split and style fix.
#include <openssl/evp.h>

#include <fmt/format.h>

#include <array>
#include <set>
#include <string_view>

#include "emopost/core/error.h"
#include "emopost/core/labels.h"
#include "emopost/data/datasets.h"
#include "emopost/data/lines.h"

namespace emopost::data {
namespace fs = std::filesystem;

namespace {

// XED's Plutchik ids 1-8 onto the 7 labels; anticipation (2) and trust (8) have none.
std::optional<int> xed_label(int id) {
  static constexpr std::array<const char*, 9> kNames = {nullptr, "anger", nullptr, "disgust", "fear",
                                                        "joy", "sadness", "surprise", nullptr};
  return kNames[size_t(id)] ? label_id(kNames[size_t(id)]) : std::nullopt;
}

// "any more ." -> "any more.": the annotated lines' tokenisation, which the neutral lines lack.
std::string untokenise(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view(".,!?;:").find(c) != std::string_view::npos)
      while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
    out += c;
  }
  return out;
}

std::string split_of(std::string_view raw) {
  const int b = xed_bucket(raw);
  return b < 8 ? "train" : b == 8 ? "val" : "test";
}

}  // namespace

int xed_bucket(std::string_view raw) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  if (!EVP_Digest(raw.data(), raw.size(), md.data(), &n, EVP_sha256(), nullptr)) throw Error("SHA-256 failed");
  int r = 0;
  for (unsigned i = 0; i < n; ++i) r = (r * 256 + md[i]) % 10;  // big-endian number mod 10
  return r;
}

std::vector<TextExample> read_xed(const fs::path& dir, const std::string& split, XedStats* stats) {
  require_split(split);
  XedStats st;
  std::vector<TextExample> out;
  std::set<std::string, std::less<>> annotated;  // raw texts, so that a neutral copy is dropped
  const fs::path emotions = dir / "en-annotated.tsv", neutral = dir / "neu_en.txt";
  for (const auto& l : read_lines(emotions)) {
    auto skip = [&](const std::string& what) { st.skipped.push_back(at_line(emotions, l.number, what)); };
    const auto tab = l.text.find('\t');
    if (tab == std::string::npos || tab == 0) {
      skip(tab ? "expected 'text<TAB>ids', found no TAB" : "empty text");
      continue;
    }
    const std::string raw = l.text.substr(0, tab);
    std::set<int> labels;
    bool bad = false;
    for (size_t start = tab + 1; start <= l.text.size() && !bad;) {
      const auto comma = std::min(l.text.find(',', start), l.text.size());
      auto id_text = std::string_view(l.text).substr(start, comma - start);
      while (!id_text.empty() && id_text.front() == ' ') id_text.remove_prefix(1);
      const int id = id_text.size() == 1 ? id_text[0] - '0' : 0;
      if (id < 1 || id > 8) {
        skip(fmt::format("label id '{}' is not one of 1-8", id_text));
        bad = true;
      } else if (auto label = xed_label(id)) {
        labels.insert(*label);
      }
      start = comma + 1;
    }
    if (bad) continue;
    annotated.insert(raw);
    if (labels.empty()) ++st.dropped_no_label;
    else if (labels.size() > 1) ++st.dropped_multiclass;
    else if (split_of(raw) == split) out.push_back({untokenise(raw), *labels.begin(), "xed"});
  }
  const int neutral_id = *label_id("neutral");
  std::set<std::string, std::less<>> seen;
  for (const auto& l : read_lines(neutral)) {
    auto skip = [&](const std::string& what) { st.skipped.push_back(at_line(neutral, l.number, what)); };
    // "9<TAB>text", some lines with TABs after the text.
    if (l.text.find_first_not_of(" \t") == std::string::npos) {
      skip("empty line");
      continue;
    }
    const auto tab = l.text.find('\t');
    if (tab == std::string::npos || l.text.substr(0, tab) != "9") {
      skip("expected '9<TAB>text'");
      continue;
    }
    const auto end = l.text.find('\t', tab + 1);
    std::string raw = l.text.substr(tab + 1, end == std::string::npos ? std::string::npos : end - tab - 1);
    if (raw.empty()) {
      skip("empty text");
      continue;
    }
    if (annotated.count(raw) || !seen.insert(raw).second) {
      ++st.dropped_repeated;
      continue;
    }
    if (split_of(raw) == split) out.push_back({untokenise(raw), neutral_id, "xed"});
  }
  st.kept = out.size();
  if (stats) *stats = std::move(st);
  return out;
}

}  // namespace emopost::data
