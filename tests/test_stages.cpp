// The predictor's stages, each alone (predict/stages.h): the models are stand-ins, so each test
// sees exactly what its stage does.
#include "emopost/predict/stages.h"

#include <gtest/gtest.h>

#include "support.h"

using namespace emopost;
using namespace emopost::predict;
using namespace emopost::test;

namespace {

const text::TextReader& reader() {
  static const auto r = text::TextReader::from_vocab(kRoot / "assets/vocab/bert-base-uncased-vocab.txt", 16);
  return r;
}

// A text model that answers each input's window count in class 0 and its first word id in class 1.
std::vector<Scores> counting_model(const std::vector<const text::TextInput*>& in) {
  std::vector<Scores> out;
  for (const auto* t : in) out.push_back({double(t->windows.size()), double(t->windows.at(0).at(1)), 0, 0, 0, 0, 0});
  return out;
}

Scores one_hot(int label, double p = 1.0) {
  Scores s{};
  s.fill((1 - p) / (kNumLabels - 1));
  s[label] = p;
  return s;
}

}  // namespace

TEST(Stages, PrepareTextsReadsCaptionsAndKeepsErrorsPerPost) {
  std::vector<Post> posts{{"a", "hello #HappyDay", std::nullopt},
                          {"b", "bad \xFF byte", std::nullopt},
                          {"c", std::string(100, 'x'), std::nullopt},
                          {"d", std::nullopt, std::string("img")}};
  std::vector<PostWork> work(posts.size());
  prepare_texts(posts, reader(), 50, work);
  EXPECT_TRUE(work[0].ok());
  EXPECT_EQ(work[0].text.normalized, "hello happy day");
  EXPECT_EQ(work[0].text.windows.size(), 1u);
  ASSERT_TRUE(work[1].error);
  EXPECT_EQ(work[1].error->code(), "invalid_utf8");
  ASSERT_TRUE(work[2].error);
  EXPECT_EQ(work[2].error->code(), "text_too_long");
  EXPECT_TRUE(work[3].ok());
  EXPECT_TRUE(work[3].text.empty());
}

TEST(Stages, ReadTextsRunsTheModelOnReadablePostsOnly) {
  std::vector<PostWork> work(3);
  work[0].text = reader().read("good morning everyone");
  work[1].text = reader().read("");
  work[2].text = reader().read("ignored");
  work[2].fail(Error("broken", Errc::bad_image));
  auto batch = texts_to_read(work);
  ASSERT_EQ(batch.posts, (std::vector<size_t>{0}));
  read_texts(batch, counting_model);
  hand_back(batch, work);
  ASSERT_TRUE(work[0].text_logits);
  EXPECT_EQ((*work[0].text_logits)[1], double(reader().tokenizer().token_to_id("good")));
  EXPECT_FALSE(work[1].text_logits);
  EXPECT_FALSE(work[2].text_logits);
}

TEST(Stages, PicturesAreDecodedThenTheirFacesCutWithBoxesInThePicturesPixels) {
  std::vector<Post> posts{{"", std::nullopt, read_bytes(kRoot / "samples/photos/group5.jpg")},
                          {"", std::nullopt, std::string("not a picture")},
                          {"", std::nullopt, std::nullopt}};
  std::vector<PostWork> work(posts.size());
  PictureReading how;
  how.min_side = 320;  // decoded at a reduced size: boxes must still come back in full pixels
  vision::CascadeDetector detector;
  int waits = 0;
  auto times = read_pictures(posts, how, detector, work, [&] { ++waits; });
  EXPECT_EQ(waits, 1);
  EXPECT_GT(times.decode_ms, 0);
  EXPECT_GT(times.detect_ms, 0);
  ASSERT_TRUE(work[0].faces);
  EXPECT_EQ(work[0].faces->size, cv::Size(1280, 932));
  ASSERT_FALSE(work[0].faces->boxes.empty());
  EXPECT_EQ(work[0].faces->crops.size(), work[0].faces->boxes.size());
  for (const auto& b : work[0].faces->boxes) {
    EXPECT_TRUE((b.box & cv::Rect(0, 0, 1280, 932)) == b.box);
    EXPECT_GT(b.box.width, 40) << "a box in the reduced copy's pixels would be smaller";
  }
  ASSERT_TRUE(work[1].error);
  EXPECT_EQ(work[1].error->code(), "bad_image");
  EXPECT_FALSE(work[1].faces);
  EXPECT_FALSE(work[2].faces);

  size_t seen = 0;
  read_faces(work, [&](const std::vector<cv::Mat>& crops) {
    seen = crops.size();
    return std::vector<Scores>(crops.size(), one_hot(3));
  });
  EXPECT_EQ(seen, work[0].faces->boxes.size());
  EXPECT_EQ(work[0].face_logits.size(), seen);
  EXPECT_TRUE(work[0].faces->crops.empty()) << "crops are let go once read";
}

// One call's pictures share a budget of decoded pixels: past it, a picture is refused, not held.
TEST(Stages, PicturesShareOneBudgetOfDecodedPixels) {
  const auto photo = read_bytes(kRoot / "samples/photos/group5.jpg");  // 1280x932 = 1.19 MP, decoded whole
  std::vector<Post> posts(3, Post{"", std::nullopt, photo});
  std::vector<PostWork> work(posts.size());
  PictureReading how;
  how.max_total_pixels = 3'000'000;  // two of them
  vision::CascadeDetector detector;
  read_pictures(posts, how, detector, work);
  EXPECT_TRUE(work[0].ok());
  EXPECT_TRUE(work[1].ok());
  ASSERT_TRUE(work[2].error);
  EXPECT_EQ(work[2].error->code(), "image_too_large");
  EXPECT_NE(std::string(work[2].error->what()).find("budget of 3 megapixels"), std::string::npos);
}

TEST(Stages, PoolFacesWeighsBySizeTimesConfidence) {
  std::vector<Face> faces{{cv::Rect(0, 0, 10, 10), false, one_hot(3, 0.9), 0},
                          {cv::Rect(0, 0, 20, 20), false, one_hot(5, 0.6), 0}};
  auto pooled = pool_faces(faces);
  ASSERT_TRUE(pooled);
  const double w0 = 100 * 0.9, w1 = 400 * 0.6;
  EXPECT_NEAR(faces[0].weight, w0 / (w0 + w1), 1e-12);
  EXPECT_NEAR(faces[1].weight, w1 / (w0 + w1), 1e-12);
  EXPECT_NEAR((*pooled)[5], faces[0].weight * faces[0].probabilities[5] + faces[1].weight * 0.6, 1e-12);
  std::vector<Face> none;
  EXPECT_FALSE(pool_faces(none));
}

TEST(Stages, FuseSaysWhyAModalityAbstainedAndRefusesEmptyPosts) {
  fusion::FusionModel fusion;
  PostWork text_only;
  text_only.text = reader().read("so happy");
  text_only.text_logits = Scores{0, 0, 0, 5, 0, 0, 0};
  auto o = fuse({"t", "so happy", std::nullopt}, text_only, fusion);
  ASSERT_TRUE(o.prediction);
  EXPECT_EQ(o.id, "t");
  EXPECT_EQ(o.prediction->label, 3);
  EXPECT_EQ(o.prediction->modalities, (std::vector<std::string>{"text"}));
  EXPECT_EQ(o.prediction->notes, (std::vector<std::string>{"There is no picture, so the image abstained."}));

  PostWork faceless;
  faceless.faces = vision::FacesInPicture{{640, 480}, {}, {}};
  auto none = fuse({"n", std::nullopt, std::string("img")}, faceless, fusion);
  EXPECT_FALSE(none.prediction);
  EXPECT_EQ(none.error_code, Errc::no_signal);
  EXPECT_NE(none.error_message.find("No face was found"), std::string::npos);

  auto empty = fuse({"e", std::nullopt, std::nullopt}, PostWork{}, fusion);
  EXPECT_EQ(empty.error_code, Errc::empty_post);

  PostWork failed;
  failed.fail(Error("truncated", Errc::bad_image));
  failed.fail(Error("later", Errc::internal));  // the first failure stands
  auto f = fuse({"f", std::nullopt, std::string("x")}, failed, fusion);
  EXPECT_EQ(f.error_code, Errc::bad_image);
  EXPECT_EQ(f.error_message, "truncated");
}

TEST(Stages, ExplainScoresEachWordByWhatItsAbsenceCosts) {
  fusion::FusionModel fusion;
  // Class 3's logit is 4 while "joy" is read, else 0.
  const auto joy = reader().tokenizer().token_to_id("joy");
  TextModel model = [&](const std::vector<const text::TextInput*>& in) {
    std::vector<Scores> out;
    for (const auto* t : in) {
      bool has = std::find(t->windows[0].begin(), t->windows[0].end(), joy) != t->windows[0].end();
      out.push_back({0, 0, 0, has ? 4.0 : 0.0, 0, 0, 0});
    }
    return out;
  };
  auto probs = fusion.text_probabilities({0, 0, 0, 4, 0, 0, 0});
  auto words = explain("pure joy today", probs, reader(), model, fusion);
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words[1].word, "joy");
  EXPECT_GT(words[1].score, 0.5);
  EXPECT_NEAR(words[0].score, 0, 1e-12);
  EXPECT_NEAR(words[2].score, 0, 1e-12);
  // A one-word text without its word is [CLS] [SEP], still read by the model.
  auto single = explain("joy", probs, reader(), model, fusion);
  ASSERT_EQ(single.size(), 1u);
  EXPECT_GT(single[0].score, 0.5);
}
