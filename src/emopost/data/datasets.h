#pragma once
// Readers for the labelled data in ../shared/data (see its README), mapped onto the 7 labels.
// No torch here. A malformed line is an emopost::Error naming the file and line number.
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace emopost::data {

struct TextExample {
  std::string text;
  int label = 0;       // index into emopost::kLabels
  std::string source;  // "carer", "goemotions" or "xed"
};

struct FaceExample {
  std::filesystem::path path;
  int label = 0;
  std::string source = "fer2013";  // photos-val: its labels.csv's source ("lfw", "imfdb", ...)
  // A distribution over the 7 labels to learn instead of `label` (FER+'s votes); empty: the label alone.
  std::vector<float> target;
};

struct TextSplitStats {
  size_t kept = 0;
  size_t dropped_multiclass = 0;  // GoEmotions rows whose labels fall into 2+ classes
};

// CARER `text;label` (love -> joy). split: "train", "val", "test".
std::vector<TextExample> read_carer(const std::filesystem::path& file);

// GoEmotions TSV `text \t ids \t comment_id`, Ekman mapping + neutral; a row is kept only when
// all of its labels map to one class. Needs emotions.txt and ekman_mapping.json beside the file.
std::vector<TextExample> read_goemotions(const std::filesystem::path& file,
                                         TextSplitStats* stats = nullptr);

// XED's English film-subtitle lines (text/xed: en-annotated.tsv, Plutchik ids; neu_en.txt, neutral),
// as the data README maps them: anger, disgust, fear, joy, sadness and surprise kept, anticipation
// and trust ignored, a row left with no label or with two dropped; neutral lines deduplicated, and
// dropped where their text is also an annotated line. XED has no split of its own: each line goes by
// xed_bucket() of its raw text, 0-7 train, 8 "val", 9 "test". The annotated lines are tokenised
// ("any more .") and the neutral ones are not, a style a model would learn as "neutral", so the
// space before . , ! ? ; : is removed from every text. A malformed line is recorded in `stats`
// as "file:line: what" and skipped.
struct XedStats {
  size_t kept = 0;
  size_t dropped_no_label = 0;     // only anticipation and/or trust
  size_t dropped_multiclass = 0;   // two or more of the 7 labels
  size_t dropped_repeated = 0;     // neutral lines whose text came before, or is an annotated line
  std::vector<std::string> skipped;  // malformed lines, named
};
std::vector<TextExample> read_xed(const std::filesystem::path& dir, const std::string& split, XedStats* stats = nullptr);
// 0-9: the SHA-256 of the raw text, as a 256-bit number, modulo 10 (the data README's split).
int xed_bucket(std::string_view raw_text);

// Recipes over a data root (the folder holding text/ and faces/):
//   "all":  CARER + GoEmotions single-class rows;
//   "seed": CARER train + GoEmotions' neutral and disgust rows (val/test as in "all");
//   "carer", "goemotions", "xed": one source alone (to measure how a model trained on one reads the others);
//   "carer+xed" and the like: the named sources together.
// split: "train", "val" (CARER val + GoEmotions dev), "test". goemotions_stats describes the
// GoEmotions file as read (before "seed" keeps only its neutral and disgust rows).
std::vector<TextExample> read_text_recipe(const std::filesystem::path& data_root,
                                          const std::string& recipe, const std::string& split,
                                          TextSplitStats* goemotions_stats = nullptr);

// A user's own labelled texts: JSONL, one {"text": "...", "label": "joy"} per line, labels by name.
// A bad line (not JSON, invalid UTF-8, no text, no or unknown label) is recorded in `errors` as
// "file:line: what" and skipped, so the rest of the file is still read; an empty file is an Error.
// Each example's source is the file's stem.
std::vector<TextExample> read_labelled_jsonl(const std::filesystem::path& file, std::vector<std::string>& errors);

// FER2013 folders: split "train" (Training_*), "val" (PublicTest_*), "test" (PrivateTest_*).
// Sorted by path so runs are deterministic.
std::vector<FaceExample> read_fer2013(const std::filesystem::path& data_root,
                                      const std::string& split);

// A split of the face data: "train", "val", "test" (FER2013, as read_fer2013) or "photos-val" (real
// photos, for validation only: faces/photos-val/labels.csv).
std::vector<FaceExample> read_face_split(const std::filesystem::path& data_root, const std::string& split);

// A user's labelled face pictures: `dir`/labels.csv with `path` and `label` columns (paths relative to
// `dir`; an optional `source` column), or else one subfolder per label (anger/, joy/, ...) of images.
// A bad row (too few fields, unknown label, no such file) is recorded in `errors` as "file:line: what"
// and skipped; a folder with nothing readable is an Error. Sorted by path.
std::vector<FaceExample> read_labelled_faces(const std::filesystem::path& dir, std::vector<std::string>& errors);

// FER+'s ten crowd votes per FER2013 file (faces/ferplus/ferplus_votes.csv), keyed by the file's path
// under faces/fer2013 ("test/angry/PrivateTest_1.jpg"), in the CSV's column order: neutral, happiness,
// surprise, sadness, anger, disgust, fear, contempt, unknown, NF.
using FerPlusVotes = std::map<std::string, std::array<int, 10>, std::less<>>;
FerPlusVotes read_ferplus_votes(const std::filesystem::path& file);

// The unique plurality of the votes when it is one of the 7 labels; nullopt on a tie, or when
// contempt, "unknown" or "not a face" wins (the data README's hard label).
std::optional<int> ferplus_majority(const std::array<int, 10>& votes);
// The votes over the 7 labels, normalised (contempt's dropped); nullopt when "unknown" or "not a
// face" has the most votes (ties included) or no vote names one of the 7.
std::optional<std::vector<float>> ferplus_distribution(const std::array<int, 10>& votes);

// FER2013 examples relabelled by FER+ (`soft`: also its vote distribution as `target`); those with no
// usable FER+ label are left out. Returns how many were left out.
size_t relabel_ferplus(std::vector<FaceExample>& examples, const std::filesystem::path& data_root, bool soft);

// Keeps n examples (0 = all) spread evenly through the list, so that a class-sorted list (FER2013
// folders) keeps every class in a smoke run.
template <typename T>
void take_evenly(std::vector<T>& examples, size_t n) {
  if (!n || examples.size() <= n) return;
  std::vector<T> picked;
  const size_t stride = examples.size() / n;
  for (size_t i = 0; i < examples.size() && picked.size() < n; i += stride) picked.push_back(examples[i]);
  examples = std::move(picked);
}

// Counts per label, in label order.
std::vector<size_t> label_counts(const std::vector<TextExample>& examples);
std::vector<size_t> label_counts(const std::vector<FaceExample>& examples);

}  // namespace emopost::data
