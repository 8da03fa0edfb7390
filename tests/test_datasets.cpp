// Readers on small samples under tests/data/samples (real lines and images copied from
// shared/data; the expected counts were worked out with a separate script when the samples were
// cut) and on broken files written to a temp dir.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "emopost/core/error.h"
#include "emopost/core/labels.h"
#include "emopost/data/datasets.h"

namespace fs = std::filesystem;
using namespace emopost;
using namespace emopost::data;

namespace {

const fs::path kSamples = fs::path(EMOPOST_TEST_DATA) / "samples";
const fs::path kCarer = kSamples / "text" / "carer";
const fs::path kGoe = kSamples / "text" / "goemotions";

using Counts = std::vector<size_t>;  // anger disgust fear joy neutral sadness surprise

int L(const char* name) { return *label_id(name); }

// A fresh folder per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            (std::string("emopost_ds_") + info->test_suite_name() + "_" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& content) const {
    fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  fs::path path_;
};

// Runs fn, expects an emopost::Error and returns its message.
template <class F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no emopost::Error thrown";
  return "";
}

// The message names the file and the line as `file:line:`.
void expect_names_line(const std::string& message, const fs::path& file, int line) {
  EXPECT_NE(message.find(file.string() + ":" + std::to_string(line) + ":"), std::string::npos)
      << message;
}

// A GoEmotions file in a temp dir, with emotions.txt and ekman_mapping.json beside it.
fs::path goe_file(const TempDir& dir, const std::string& content) {
  fs::copy_file(kGoe / "emotions.txt", dir.path() / "emotions.txt");
  fs::copy_file(kGoe / "ekman_mapping.json", dir.path() / "ekman_mapping.json");
  return dir.write("broken.tsv", content);
}

}  // namespace

// ---------------------------------------------------------------- CARER

TEST(CarerTest, SampleCountsAndLoveIsJoy) {
  auto train = read_carer(kCarer / "train.txt");
  ASSERT_EQ(train.size(), 30u);
  EXPECT_EQ(label_counts(train), (Counts{6, 0, 3, 9, 0, 11, 1}));  // joy 9 = 7 joy + 2 love
  EXPECT_EQ(train[0].text, "i didnt feel humiliated");
  EXPECT_EQ(train[0].label, L("sadness"));
  EXPECT_EQ(train[0].source, "carer");
  // Lines 4 and 10 of the sample are labelled love.
  EXPECT_EQ(train[3].text,
            "i am ever feeling nostalgic about the fireplace i will know that it is still on the "
            "property");
  EXPECT_EQ(train[3].label, L("joy"));
  EXPECT_EQ(train[9].text, "i feel romantic too");
  EXPECT_EQ(train[9].label, L("joy"));

  EXPECT_EQ(label_counts(read_carer(kCarer / "val.txt")), (Counts{3, 0, 1, 11, 0, 9, 0}));
  EXPECT_EQ(label_counts(read_carer(kCarer / "test.txt")), (Counts{3, 0, 3, 9, 0, 9, 0}));
}

TEST(CarerTest, ToleratesCrlfAndTrailingNewlines) {
  TempDir dir;
  auto rows = read_carer(dir.write("crlf.txt", "i feel fine;joy\r\ni feel loved;love\r\n\r\n\n"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].text, "i feel fine");
  EXPECT_EQ(rows[1].label, L("joy"));
  EXPECT_EQ(read_carer(dir.write("nonl.txt", "a;fear\nb;anger")).size(), 2u);
}

TEST(CarerTest, BadLinesNameFileAndLine) {
  TempDir dir;
  auto f = dir.write("nosemi.txt", "a;joy\nb;fear\nno separator here\n");
  expect_names_line(error_of([&] { read_carer(f); }), f, 3);

  f = dir.write("label.txt", "a;joy\nb;happiness\n");
  auto msg = error_of([&] { read_carer(f); });
  expect_names_line(msg, f, 2);
  EXPECT_NE(msg.find("happiness"), std::string::npos) << msg;

  f = dir.write("neutral.txt", "a;neutral\n");  // not a CARER class
  expect_names_line(error_of([&] { read_carer(f); }), f, 1);

  f = dir.write("empty.txt", "a;joy\r\n;sadness\r\n");
  msg = error_of([&] { read_carer(f); });
  expect_names_line(msg, f, 2);
  EXPECT_NE(msg.find("empty text"), std::string::npos) << msg;

  f = dir.write("nolabel.txt", "a;\n");
  expect_names_line(error_of([&] { read_carer(f); }), f, 1);

  // A blank line in the middle is not skipped silently.
  f = dir.write("blank.txt", "a;joy\n\nb;joy\n");
  expect_names_line(error_of([&] { read_carer(f); }), f, 2);
}

TEST(CarerTest, MissingFileIsNamed) {
  auto msg = error_of([] { read_carer(kCarer / "nope.txt"); });
  EXPECT_NE(msg.find("nope.txt"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- GoEmotions

TEST(GoEmotionsTest, SampleKeptAndDropped) {
  TextSplitStats st;
  auto train = read_goemotions(kGoe / "train.tsv", &st);
  // 34 rows: 29 single-class (7 of them multi-label, e.g. "16,25" grief+sadness and the
  // 3-label "0,13,15"), 5 spanning 2+ classes (e.g. "2,7" anger+curiosity, "16,27").
  EXPECT_EQ(st.kept, 29u);
  EXPECT_EQ(st.dropped_multiclass, 5u);
  ASSERT_EQ(train.size(), 29u);
  EXPECT_EQ(label_counts(train), (Counts{4, 2, 2, 9, 7, 2, 3}));
  EXPECT_EQ(train[0].text, "My favourite food is anything I didn't have to cook myself.");
  EXPECT_EQ(train[0].label, L("neutral"));
  EXPECT_EQ(train[0].source, "goemotions");

  auto find = [&](const std::string& text) {
    return std::find_if(train.begin(), train.end(), [&](auto& e) { return e.text == text; });
  };
  auto it = find("I miss them being alive");  // grief + sadness -> sadness
  ASSERT_NE(it, train.end());
  EXPECT_EQ(it->label, L("sadness"));
  it = find("aw, thanks! I appreciate that! ");  // admiration + gratitude; trailing space kept
  ASSERT_NE(it, train.end());
  EXPECT_EQ(it->label, L("joy"));
  it = find("youre a disgusting piece of filth.");
  ASSERT_NE(it, train.end());
  EXPECT_EQ(it->label, L("disgust"));
  EXPECT_EQ(find("Ok, then what the actual fuck is your plan?"), train.end());  // dropped

  read_goemotions(kGoe / "dev.tsv", &st);
  EXPECT_EQ(st.kept, 22u);
  EXPECT_EQ(st.dropped_multiclass, 8u);
  auto test = read_goemotions(kGoe / "test.tsv", &st);
  EXPECT_EQ(st.kept, 25u);
  EXPECT_EQ(st.dropped_multiclass, 5u);
  EXPECT_EQ(label_counts(test), (Counts{3, 2, 3, 13, 1, 3, 0}));
  EXPECT_EQ(read_goemotions(kGoe / "test.tsv").size(), 25u);  // stats are optional
}

TEST(GoEmotionsTest, TabOnlyNoCsvUnquoting) {
  TempDir dir;
  auto f = goe_file(dir, "\"Quoted, with comma\" and more\t27\tabc\r\nplain\t11,11\tdef\r\n");
  auto rows = read_goemotions(f);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].text, "\"Quoted, with comma\" and more");
  EXPECT_EQ(rows[0].label, L("neutral"));
  EXPECT_EQ(rows[1].label, L("disgust"));
}

TEST(GoEmotionsTest, BadLinesNameFileAndLine) {
  TempDir dir;
  const std::string ok = "fine\t27\tid0\n";
  auto f = goe_file(dir, ok + "two fields\t27\n");
  expect_names_line(error_of([&] { read_goemotions(f); }), f, 2);
  struct Case {
    std::string line, hint;
  };
  for (const Case& c : std::vector<Case>{{"four\t27\tid\textra", "fields"},
                                         {"text\t3a\tid", "3a"},
                                         {"text\t-1\tid", "-1"},
                                         {"text\t28\tid", "28"},  // 28 emotions: ids 0..27
                                         {"text\t2,99\tid", "99"},
                                         {"text\t\tid", "not a number"},
                                         {"text\t1,\tid", "not a number"},
                                         {"\t27\tid", "empty text"}}) {
    dir.write("broken.tsv", ok + ok + c.line + "\n");
    auto msg = error_of([&] { read_goemotions(f); });
    expect_names_line(msg, f, 3);
    EXPECT_NE(msg.find(c.hint), std::string::npos) << c.line << " -> " << msg;
  }
}

TEST(GoEmotionsTest, MissingMappingIsNamed) {
  TempDir dir;
  auto f = dir.write("train.tsv", "fine\t27\tid0\n");
  fs::copy_file(kGoe / "emotions.txt", dir.path() / "emotions.txt");
  auto msg = error_of([&] { read_goemotions(f); });
  EXPECT_NE(msg.find("ekman_mapping.json"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- recipes

TEST(RecipeTest, AllAndSeed) {
  // The samples' data root is tests/data/samples (it holds text/ and faces/).
  TextSplitStats st;
  auto train = read_text_recipe(kSamples, "all", "train", &st);
  EXPECT_EQ(train.size(), 59u);  // 30 CARER + 29 GoEmotions
  EXPECT_EQ(label_counts(train), (Counts{10, 2, 5, 18, 7, 13, 4}));
  EXPECT_EQ(st.kept, 29u);
  EXPECT_EQ(st.dropped_multiclass, 5u);
  EXPECT_EQ(train.front().source, "carer");  // CARER first, then GoEmotions
  EXPECT_EQ(train.back().source, "goemotions");

  auto val = read_text_recipe(kSamples, "all", "val", &st);  // CARER val + GoEmotions dev
  EXPECT_EQ(label_counts(val), (Counts{8, 2, 2, 17, 5, 12, 0}));
  EXPECT_EQ(st.dropped_multiclass, 8u);
  EXPECT_EQ(label_counts(read_text_recipe(kSamples, "all", "test")),
            (Counts{6, 2, 6, 22, 1, 12, 0}));

  // seed: CARER train + only the 7 neutral and 2 disgust GoEmotions rows.
  auto seed = read_text_recipe(kSamples, "seed", "train", &st);
  EXPECT_EQ(seed.size(), 39u);
  EXPECT_EQ(label_counts(seed), (Counts{6, 2, 3, 9, 7, 11, 1}));
  EXPECT_EQ(st.kept, 29u);  // describes the GoEmotions file before the seed filter
  for (auto& e : seed) {
    if (e.source == "goemotions") {
      EXPECT_TRUE(e.label == L("neutral") || e.label == L("disgust")) << e.text;
    }
  }
  EXPECT_EQ(label_counts(read_text_recipe(kSamples, "seed", "val")), label_counts(val));
}

TEST(RecipeTest, OneSourceAlone) {
  auto all = read_text_recipe(kSamples, "all", "train");
  auto carer = read_text_recipe(kSamples, "carer", "train");
  auto goe = read_text_recipe(kSamples, "goemotions", "train");
  EXPECT_EQ(carer.size(), 30u);
  EXPECT_EQ(goe.size(), 29u);
  for (auto& e : carer) EXPECT_EQ(e.source, "carer");
  for (auto& e : goe) EXPECT_EQ(e.source, "goemotions");
  Counts sum = label_counts(carer);
  auto g = label_counts(goe);
  for (size_t k = 0; k < sum.size(); ++k) sum[k] += g[k];
  EXPECT_EQ(sum, label_counts(all));
  EXPECT_EQ(label_counts(carer)[L("neutral")], 0u);  // CARER has no neutral
}

// ---------------------------------------------------------------- a user's JSONL

TEST(LabelledJsonlTest, BadLinesAreNamedAndTheRestIsRead) {
  TempDir dir;
  const std::string invalid_utf8 = "{\"text\": \"caf\xC3\x28\", \"label\": \"joy\"}";
  auto file = dir.write("mine.jsonl",
                        "{\"text\": \"so happy today\", \"label\": \"joy\"}\n"      // 1 ok
                        "{\"text\": \"no label here\"}\n"                               // 2
                        "{\"text\": \"what\", \"label\": \"love\"}\n"               // 3 unknown label
                        + invalid_utf8 + "\n"                                               // 4
                        "not json at all\n"                                                 // 5
                        "\n"                                                                // 6 blank
                        "{\"text\": \"\", \"label\": \"joy\"}\n"                    // 7 empty text
                        "[1, 2]\n"                                                          // 8 not an object
                        "{\"text\": \"I miss her\", \"label\": \"sadness\", \"id\": 7}\r\n");  // 9 ok
  std::vector<std::string> errors;
  auto rows = read_labelled_jsonl(file, errors);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].text, "so happy today");
  EXPECT_EQ(rows[0].label, L("joy"));
  EXPECT_EQ(rows[1].label, L("sadness"));
  EXPECT_EQ(rows[1].source, "mine");
  ASSERT_EQ(errors.size(), 7u);
  const std::vector<std::pair<int, std::string>> want = {{2, "no \"label\""}, {3, "unknown label \"love\""},
                                                         {4, "invalid UTF-8"},  {5, "not valid JSON"},
                                                         {6, "blank line"},     {7, "no \"text\""},
                                                         {8, "not a JSON object"}};
  for (size_t i = 0; i < want.size(); ++i) {
    expect_names_line(errors[i], file, want[i].first);
    EXPECT_NE(errors[i].find(want[i].second), std::string::npos) << errors[i];
  }
}

TEST(LabelledJsonlTest, EmptyAndMissingFilesAreErrors) {
  TempDir dir;
  std::vector<std::string> errors;
  auto empty = dir.write("empty.jsonl", "");
  EXPECT_NE(error_of([&] { read_labelled_jsonl(empty, errors); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([&] { read_labelled_jsonl(dir.path() / "none.jsonl", errors); }).find("none.jsonl"),
            std::string::npos);
}

TEST(RecipeTest, UnknownNamesAreErrors) {
  EXPECT_THROW(read_text_recipe(kSamples, "B", "train"), Error);
  EXPECT_THROW(read_text_recipe(kSamples, "all", "dev"), Error);
  EXPECT_THROW(read_text_recipe(kSamples, "all", "validation"), Error);
  EXPECT_THROW(read_fer2013(kSamples, "dev"), Error);
}

// ---------------------------------------------------------------- FER2013

TEST(Fer2013Test, SplitsByFolderAndPrefix) {
  auto train = read_fer2013(kSamples, "train");
  auto val = read_fer2013(kSamples, "val");
  auto test = read_fer2013(kSamples, "test");
  ASSERT_EQ(train.size(), 21u);
  ASSERT_EQ(val.size(), 7u);
  ASSERT_EQ(test.size(), 14u);
  EXPECT_EQ(label_counts(train), (Counts{3, 3, 3, 3, 3, 3, 3}));
  EXPECT_EQ(label_counts(val), (Counts{1, 1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(label_counts(test), (Counts{2, 2, 2, 2, 2, 2, 2}));
  auto prefixed = [](const std::vector<FaceExample>& v, const std::string& prefix) {
    return std::all_of(v.begin(), v.end(),
                       [&](auto& e) { return e.path.filename().string().starts_with(prefix); });
  };
  EXPECT_TRUE(prefixed(train, "Training_"));
  EXPECT_TRUE(prefixed(val, "PublicTest_"));
  EXPECT_TRUE(prefixed(test, "PrivateTest_"));
  auto by_path = [](auto& a, auto& b) { return a.path < b.path; };
  EXPECT_TRUE(std::is_sorted(train.begin(), train.end(), by_path));
  EXPECT_TRUE(std::is_sorted(test.begin(), test.end(), by_path));

  // Folder names map onto the project's labels (angry -> anger, happy -> joy, sad -> sadness).
  for (auto& e : train) {
    const std::string folder = e.path.parent_path().filename().string();
    const char* want = folder == "angry"   ? "anger"
                       : folder == "happy" ? "joy"
                       : folder == "sad"   ? "sadness"
                                           : nullptr;
    EXPECT_EQ(e.label, want ? L(want) : L(folder.c_str())) << e.path;
  }
  EXPECT_EQ(val[3].path.filename(), "PublicTest_10130075.jpg");
  EXPECT_EQ(val[3].label, L("joy"));
  EXPECT_TRUE(fs::is_regular_file(val[3].path));
}

TEST(Fer2013Test, UnknownClassAndMissingRoot) {
  TempDir dir;
  dir.write("faces/fer2013/train/angry/Training_1.jpg", "x");
  dir.write("faces/fer2013/train/contempt/Training_2.jpg", "x");
  auto msg = error_of([&] { read_fer2013(dir.path(), "train"); });
  EXPECT_NE(msg.find("contempt"), std::string::npos) << msg;

  dir.write("faces/fer2013/test/angry/Other_3.jpg", "x");  // neither PublicTest_ nor PrivateTest_
  msg = error_of([&] { read_fer2013(dir.path(), "val"); });
  EXPECT_NE(msg.find("Other_3.jpg"), std::string::npos) << msg;

  const fs::path missing = dir.path() / "nowhere";
  msg = error_of([&] { read_fer2013(missing, "test"); });
  EXPECT_NE(msg.find((missing / "faces" / "fer2013" / "test").string()), std::string::npos) << msg;
}

TEST(DatasetLabelCountsTest, OutOfRangeIsAnError) {
  std::vector<TextExample> v{{"a", 0, "carer"}, {"b", 7, "carer"}};
  EXPECT_THROW(label_counts(v), Error);
}

TEST(Datasets, TakeEvenlyKeepsEveryPartOfASortedList) {
  std::vector<int> v{0, 0, 0, 1, 1, 1, 2, 2, 2};
  emopost::data::take_evenly(v, 3);
  EXPECT_EQ(v, (std::vector<int>{0, 1, 2}));
  std::vector<int> w{5, 6};
  emopost::data::take_evenly(w, 0);
  EXPECT_EQ(w.size(), 2u);
  emopost::data::take_evenly(w, 5);
  EXPECT_EQ(w.size(), 2u);
}

// ---------------------------------------------------------------- FER+ votes
// The sample's votes are FER+'s own rows for the sample files (one training file has none, as 175 of
// FER2013's have none); the counts below were worked out by hand from them.
TEST(FerPlusTest, SampleFacesRelabelledAndLeftOut) {
  const auto votes = read_ferplus_votes(kSamples / "faces" / "ferplus" / "ferplus_votes.csv");
  EXPECT_EQ(votes.size(), 41u);
  auto val = read_fer2013(kSamples, "val");
  EXPECT_EQ(relabel_ferplus(val, kSamples, false), 0u);
  EXPECT_EQ(label_counts(val), (Counts{0, 0, 0, 1, 3, 2, 1}));  // FER2013 says one of each
  auto test = read_fer2013(kSamples, "test");
  EXPECT_EQ(relabel_ferplus(test, kSamples, false), 2u);  // a tie, and "unknown" tied for the most
  EXPECT_EQ(label_counts(test), (Counts{3, 0, 0, 2, 4, 1, 2}));
  auto hard = read_fer2013(kSamples, "train");
  EXPECT_EQ(relabel_ferplus(hard, kSamples, false), 2u);  // no votes, and a four-way tie
  EXPECT_EQ(label_counts(hard), (Counts{1, 2, 0, 4, 8, 2, 2}));
  EXPECT_TRUE(std::all_of(hard.begin(), hard.end(), [](auto& e) { return e.target.empty(); }));

  // As distributions the tie is kept; only the file without votes goes.
  auto soft = read_fer2013(kSamples, "train");
  EXPECT_EQ(relabel_ferplus(soft, kSamples, true), 1u);
  ASSERT_EQ(soft.size(), 20u);
  for (const auto& e : soft) {
    ASSERT_EQ(e.target.size(), size_t(kNumLabels));
    EXPECT_NEAR(std::accumulate(e.target.begin(), e.target.end(), 0.0), 1.0, 1e-6) << e.path;
  }
  auto tie = std::find_if(soft.begin(), soft.end(), [](auto& e) { return e.path.filename() == "Training_10018621.jpg"; });
  ASSERT_NE(tie, soft.end());
  // Votes 2 neutral, 1 surprise, 2 sadness, 1 anger, 2 fear (contempt and unknown are not labels).
  EXPECT_EQ(tie->target, (std::vector<float>{0.125f, 0, 0.25f, 0, 0.25f, 0.25f, 0.125f}));
  EXPECT_EQ(tie->label, L("fear"));  // the first of the tied in label order
}

TEST(FerPlusTest, MajorityAndDistributionRules) {
  using V = std::array<int, 10>;  // neutral happiness surprise sadness anger disgust fear contempt unknown NF
  EXPECT_EQ(ferplus_majority(V{1, 6, 3, 0, 0, 0, 0, 0, 0, 0}), L("joy"));
  EXPECT_EQ(ferplus_majority(V{4, 4, 2, 0, 0, 0, 0, 0, 0, 0}), std::nullopt);  // a tie
  EXPECT_EQ(ferplus_majority(V{1, 0, 0, 0, 0, 0, 0, 6, 3, 0}), std::nullopt);  // contempt wins
  EXPECT_EQ(ferplus_majority(V{0, 0, 0, 0, 0, 0, 0, 0, 0, 10}), std::nullopt);  // not a face
  EXPECT_EQ(ferplus_majority(V{}), std::nullopt);
  EXPECT_EQ(ferplus_distribution(V{0, 0, 0, 0, 0, 0, 0, 0, 4, 6}), std::nullopt);
  EXPECT_EQ(ferplus_distribution(V{3, 0, 0, 0, 0, 0, 0, 0, 3, 0}), std::nullopt);  // unknown ties the top
  EXPECT_EQ(ferplus_distribution(V{0, 0, 0, 0, 0, 0, 0, 5, 0, 0}), std::nullopt);  // contempt alone
  auto d = ferplus_distribution(V{0, 0, 0, 0, 0, 1, 0, 7, 2, 0});  // contempt counts against "unknown" only
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)[L("disgust")], 1.0f);
}

TEST(FerPlusTest, BadVoteFilesNameFileAndLine) {
  TempDir dir;
  auto msg = error_of([&] { read_ferplus_votes(dir.write("v.csv", "file,a,b\n")); });
  expect_names_line(msg, dir.path() / "v.csv", 1);
  const std::string header = "file,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n";
  msg = error_of([&] { read_ferplus_votes(dir.write("w.csv", header + "test/a/x.jpg,1,2,3\n")); });
  expect_names_line(msg, dir.path() / "w.csv", 2);
  msg = error_of([&] { read_ferplus_votes(dir.write("x.csv", header + "a.jpg,1,1,1,1,1,1,1,1,1,1\nb.jpg,1,1,1,1,x,1,1,1,1,1\n")); });
  expect_names_line(msg, dir.path() / "x.csv", 3);
  EXPECT_NE(msg.find("\"x\""), std::string::npos) << msg;
}

// ---------------------------------------------------------------- labelled face folders
TEST(LabelledFacesTest, LabelsCsvBadRowsAreNamedAndSkipped) {
  TempDir dir;
  dir.write("images/a.jpg", "x");
  dir.write("images/b.png", "x");
  dir.write("../emopost_ds_outside.jpg", "x");
  const auto csv = dir.write("labels.csv",
                             "path,label,source\n"
                             "images/a.jpg,joy,lfw\n"
                             "images/b.png,contempt,lfw\n"   // 3: not one of the 7
                             "images/none.jpg,anger,lfw\n"   // 4: no such file
                             "../emopost_ds_outside.jpg,anger,x\n"  // 5: outside the folder
                             "images/b.png,sadness\n"        // 6: a field short
                             "images/b.png,sadness,imfdb\n");
  std::vector<std::string> errors;
  auto faces = read_labelled_faces(dir.path(), errors);
  ASSERT_EQ(faces.size(), 2u);
  EXPECT_EQ(faces[0].label, L("joy"));
  EXPECT_EQ(faces[0].source, "lfw");
  EXPECT_EQ(faces[1].label, L("sadness"));
  EXPECT_EQ(faces[1].source, "imfdb");
  ASSERT_EQ(errors.size(), 4u);
  for (int i = 0; i < 4; ++i) expect_names_line(errors[i], csv, i + 3);
  EXPECT_NE(errors[0].find("contempt"), std::string::npos) << errors[0];
  fs::remove(dir.path().parent_path() / "emopost_ds_outside.jpg");

  dir.write("labels.csv", "file,emotion\nimages/a.jpg,joy\n");
  auto msg = error_of([&] { read_labelled_faces(dir.path(), errors); });
  expect_names_line(msg, dir.path() / "labels.csv", 1);
}

TEST(LabelledFacesTest, OneFolderPerLabel) {
  TempDir dir;
  dir.write("set/joy/a.jpg", "x");
  dir.write("set/joy/notes.txt", "not a picture");
  dir.write("set/anger/b.PNG", "x");
  dir.write("set/happy/c.jpg", "x");  // not a label name
  std::vector<std::string> errors;
  auto faces = read_labelled_faces(dir.path() / "set", errors);
  ASSERT_EQ(faces.size(), 2u);
  EXPECT_EQ(faces[0].label, L("anger"));
  EXPECT_EQ(faces[1].label, L("joy"));
  EXPECT_EQ(faces[0].source, "set");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("happy"), std::string::npos) << errors[0];

  dir.write("empty/joy/notes.txt", "x");
  auto msg = error_of([&] { read_labelled_faces(dir.path() / "empty", errors); });
  EXPECT_NE(msg.find("no labelled picture"), std::string::npos) << msg;
  msg = error_of([&] { read_labelled_faces(dir.path() / "nowhere", errors); });
  EXPECT_NE(msg.find("nowhere"), std::string::npos) << msg;
  msg = error_of([&] { read_face_split(dir.path(), "photos-val"); });
  EXPECT_NE(msg.find("photos-val"), std::string::npos) << msg;
}

// XED as the data README maps and splits it (../shared/data/text/xed, the whole of it).
const fs::path kXed = fs::path(EMOPOST_TEST_DATA) / "../../../shared/data/text/xed";

TEST(XedTest, SplitsByTheHashOfTheRawTextAsTheDataReadmeSays) {
  EXPECT_EQ(xed_bucket("Yeah."), 3);
  EXPECT_EQ(xed_bucket("Two pair 10s and sixes."), 8);
  EXPECT_EQ(xed_bucket("Not very lucky is he?"), 9);
}

TEST(XedTest, CountsPerSplitAndLabelMatchTheDataReadme) {
  // anger disgust fear joy neutral sadness surprise, from the data README's table.
  const std::map<std::string, Counts> want = {{"train", {2096, 1152, 1378, 2007, 7005, 1271, 1261}},
                                              {"val", {280, 135, 183, 242, 874, 154, 164}},
                                              {"test", {271, 153, 160, 251, 899, 171, 151}}};
  for (const auto& [split, counts] : want) {
    XedStats stats;
    const auto rows = read_xed(kXed, split, &stats);
    EXPECT_EQ(label_counts(rows), counts) << split;
    EXPECT_EQ(stats.dropped_no_label, 3845u);
    EXPECT_EQ(stats.dropped_multiclass, 2203u);
    EXPECT_EQ(stats.dropped_repeated, 891u + 5u);
    ASSERT_EQ(stats.skipped.size(), 1u);  // neu_en.txt's line 74, four TABs and no text
    EXPECT_NE(stats.skipped[0].find("neu_en.txt:74: empty line"), std::string::npos) << stats.skipped[0];
    for (const auto& r : rows) EXPECT_EQ(r.source, "xed");
  }
}

TEST(XedTest, NoSpaceBeforePunctuationInEitherFile) {
  // The annotated lines come tokenised ("any more ."), the neutral ones not: a style leak.
  size_t spaced = 0, rows = 0;
  for (const char* split : {"train", "val", "test"})
    for (const auto& r : read_xed(kXed, split)) {
      ++rows;
      for (const char* p : {" .", " ,", " ?", " !", " ;", " :"}) spaced += r.text.find(p) != std::string::npos;
    }
  EXPECT_EQ(rows, 20258u);
  EXPECT_EQ(spaced, 0u);
}

TEST(XedTest, MalformedLinesAreNamedAndSkipped) {
  TempDir dir;
  dir.write("xed/en-annotated.tsv", "Good line .\t5\r\nno tab here\r\nBad id .\t1, 12\r\nOnly trust .\t8\r\n");
  dir.write("xed/neu_en.txt", "9\tHello there.\n3\tWrong label.\n9\tHello there.\n9\tGood line .\t\t\t");
  std::vector<TextExample> all;
  XedStats stats;
  for (const char* split : {"train", "val", "test"}) {
    auto rows = read_xed(dir.path() / "xed", split, &stats);
    all.insert(all.end(), rows.begin(), rows.end());
  }
  ASSERT_EQ(all.size(), 2u);  // "Good line." (joy) and "Hello there." (neutral, once)
  ASSERT_EQ(stats.skipped.size(), 3u);
  EXPECT_NE(stats.skipped[0].find("en-annotated.tsv:2:"), std::string::npos) << stats.skipped[0];
  EXPECT_NE(stats.skipped[1].find("en-annotated.tsv:3: label id '12'"), std::string::npos) << stats.skipped[1];
  EXPECT_NE(stats.skipped[2].find("neu_en.txt:2:"), std::string::npos) << stats.skipped[2];
  EXPECT_EQ(stats.dropped_no_label, 1u);
  EXPECT_EQ(stats.dropped_repeated, 2u);  // the second "Hello there." and the annotated "Good line ."
  EXPECT_EQ(error_of([&] { read_xed(dir.path() / "xed", "dev"); }).find("unknown split"), 0u);
}

TEST(RecipeTest, SourcesJoinWithAPlus) {
  const auto root = fs::path(EMOPOST_TEST_DATA) / "../../../shared/data";
  const auto xed = read_text_recipe(root, "xed", "val");
  const auto both = read_text_recipe(root, "carer+xed", "val");
  EXPECT_EQ(both.size(), read_text_recipe(root, "carer", "val").size() + xed.size());
  EXPECT_EQ(both.back().source, "xed");
  for (const char* bad : {"xed+xed", "carer+", "tweets", "all+xed"})
    EXPECT_NE(error_of([&] { read_text_recipe(root, bad, "val"); }).find("unknown text recipe"), std::string::npos) << bad;
}
