#include "emopost/predict/stages.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <sstream>

#include <fmt/format.h>

namespace emopost::predict {

namespace {

// OpenCV reports its own failures as cv::Exception; to the client they are a picture it cannot read.
template <typename F>
void for_each_picture(std::vector<PostWork>& work, F&& f) {
  for (size_t i = 0; i < work.size(); ++i) {
    try {
      f(i);
    } catch (const Error& e) {
      work[i].fail(e);
    } catch (const cv::Exception& e) {
      work[i].fail(Error(std::string("image processing failed: ") + e.what(), Errc::bad_image));
    }
  }
}

}  // namespace

void prepare_texts(const std::vector<Post>& posts, const text::TextReader& reader, size_t max_text_bytes,
                   std::vector<PostWork>& work) {
  for (size_t i = 0; i < posts.size(); ++i) {
    const auto& text = posts[i].text;
    if (!text || !work[i].ok()) continue;
    try {
      if (text->size() > max_text_bytes)
        throw Error(fmt::format("text is {} bytes, over the limit of {}", text->size(), max_text_bytes),
                    Errc::text_too_long);
      work[i].text = reader.read(*text);
    } catch (const Error& e) {
      work[i].fail(e);
    }
  }
}

TextBatch texts_to_read(const std::vector<PostWork>& work) {
  TextBatch batch;
  for (size_t i = 0; i < work.size(); ++i)
    if (work[i].ok() && !work[i].text.empty()) batch.inputs.push_back(&work[i].text), batch.posts.push_back(i);
  return batch;
}

void read_texts(TextBatch& batch, const TextModel& model) {
  if (!batch.inputs.empty()) batch.logits = model(batch.inputs);
}

void hand_back(const TextBatch& batch, std::vector<PostWork>& work) {
  for (size_t k = 0; k < batch.logits.size(); ++k) work[batch.posts[k]].text_logits = batch.logits[k];
}

PictureTimes read_pictures(const std::vector<Post>& posts, const PictureReading& how,
                           const vision::FaceDetector& detector, std::vector<PostWork>& work,
                           const std::function<void()>& before_detecting) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); };
  PictureTimes times;
  int64_t decoded_pixels = 0;
  bool waited = false;
  for_each_picture(work, [&](size_t i) {
    if (!posts[i].image || !work[i].ok()) return;
    auto t = Clock::now();
    auto picture = vision::decode_for_faces(*posts[i].image, how.limits, how.min_side, how.grey);
    times.decode_ms += ms(t);
    decoded_pixels += int64_t(picture.pixels.total());
    if (decoded_pixels > how.max_total_pixels)
      throw Error(fmt::format("the pictures of this request decode to more than its budget of {:.0f} megapixels; "
                              "send fewer or smaller pictures at a time",
                              double(how.max_total_pixels) / 1e6),
                  Errc::image_too_large);
    if (!waited && before_detecting) before_detecting();
    waited = true;
    t = Clock::now();
    work[i].faces = vision::find_faces(picture, detector, how.face_margin);
    times.detect_ms += ms(t);
  });
  if (!waited && before_detecting) before_detecting();
  return times;
}

void read_faces(std::vector<PostWork>& work, const FaceModel& model) {
  std::vector<cv::Mat> crops;
  for (const auto& w : work)
    if (w.ok() && w.faces) crops.insert(crops.end(), w.faces->crops.begin(), w.faces->crops.end());
  if (crops.empty()) return;
  auto logits = model(crops);
  size_t next = 0;
  for (auto& w : work) {
    if (!w.ok() || !w.faces) continue;
    w.face_logits.assign(logits.begin() + ptrdiff_t(next), logits.begin() + ptrdiff_t(next + w.faces->crops.size()));
    next += w.faces->crops.size();
    w.faces->crops.clear();  // read: the pixels are no longer needed
  }
}

Outcome fuse(const Post& post, const PostWork& w, const fusion::FusionModel& fusion) {
  if (w.error) return Outcome::failed(post.id, *w.error);
  if (!post.text && !post.image)
    return Outcome::failed(post.id, Error("the post has neither text nor an image", Errc::empty_post));
  if (w.text.empty() && !post.image)
    return Outcome::failed(post.id, Error("the post's text is empty or whitespace and it has no image", Errc::empty_post));
  Prediction p;
  p.id = post.id;
  p.normalized_text = w.text.normalized;
  p.text_windows = int(w.text.windows.size());
  if (w.text_logits) {
    p.text = fusion.text_probabilities(*w.text_logits);
    if (w.text.cut)
      p.notes.push_back(fmt::format("The caption is long: the text model read its first {} windows.",
                                    w.text.windows.size()));
  } else {
    p.notes.push_back(post.text ? "The caption had no words the text model can read, so the text abstained."
                                : "There is no caption, so the text abstained.");
  }
  if (w.faces) {
    p.image_width = w.faces->size.width, p.image_height = w.faces->size.height;
    for (size_t k = 0; k < w.faces->boxes.size(); ++k) {
      const auto& box = w.faces->boxes[k];
      p.faces.push_back({box.box, box.whole_image, fusion.image_probabilities(w.face_logits.at(k)), 0});
    }
    p.image = pool_faces(p.faces);
    if (!p.image) p.notes.push_back("No face was found in the picture, so the image abstained.");
  } else {
    p.notes.push_back("There is no picture, so the image abstained.");
  }
  if (!p.text && !p.image)
    return Outcome::failed(post.id, Error("neither modality could be read: " + p.notes.front() + " " + p.notes.back(),
                                          Errc::no_signal));
  settle_verdict(p, fusion);
  Outcome out;
  out.id = post.id;
  out.prediction = std::move(p);
  return out;
}

std::vector<WordAttribution> explain(const std::string& normalized, const Scores& probs, const text::TextReader& reader,
                                     const TextModel& model, const fusion::FusionModel& fusion) {
  std::istringstream in(normalized);
  std::vector<std::string> words{std::istream_iterator<std::string>(in), {}};
  constexpr size_t kMaxWords = 64;
  if (words.size() > kMaxWords) words.resize(kMaxWords);
  std::vector<text::TextInput> variants;
  for (size_t i = 0; i < words.size(); ++i) {
    text::TextInput v;
    for (size_t j = 0; j < words.size(); ++j)
      if (j != i) v.normalized += (v.normalized.empty() ? "" : " ") + words[j];
    v.windows = reader.windows(v.normalized);
    // Without its only word a text is [CLS] [SEP]: the model's reading of no words at all.
    if (v.empty()) v.windows = {{reader.tokenizer().cls_id(), reader.tokenizer().sep_id()}};
    variants.push_back(std::move(v));
  }
  std::vector<const text::TextInput*> refs;
  for (const auto& v : variants) refs.push_back(&v);
  auto logits = refs.empty() ? std::vector<Scores>{} : model(refs);
  const int label = fusion::argmax(probs);
  std::vector<WordAttribution> out;
  for (size_t i = 0; i < words.size(); ++i)
    out.push_back({words[i], probs[label] - fusion.text_probabilities(logits[i])[label]});
  return out;
}

}  // namespace emopost::predict
