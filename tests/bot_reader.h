#pragma once
// A PostReader without models for the bot's tests: what they check is the bot (its replies, their
// order, its bookkeeping), so the verdict only has to be predictable. A caption with "sad" reads
// sadness, any other caption joy; a picture that decodes has one face (its top-left quarter) that
// reads surprise; one that does not is bad_image, as with the real predictor. A caption containing
// "slow" takes `slow_for` to read. A caption containing "throw:model", "throw:alloc" or "throw:other"
// makes the whole call throw, as a broken model, memory or a bug would.
#include <atomic>
#include <new>
#include <stdexcept>
#include <chrono>
#include <thread>

#include <opencv2/imgcodecs.hpp>

#include "emopost/core/labels.h"
#include "emopost/fusion/fusion.h"
#include "emopost/predict/post.h"

namespace emopost::test {

class BotReader : public predict::PostReader {
 public:
  std::chrono::milliseconds slow_for{1500};

  std::vector<predict::Outcome> predict_many(const std::vector<predict::Post>& posts, bool explain) const override {
    std::vector<predict::Outcome> out;
    for (const auto& post : posts) {
      ++posts_read_;
      if (post.text && post.text->find("throw:model") != std::string::npos)
        throw Error("models/face: model.safetensors is truncated", Errc::bad_model);
      if (post.text && post.text->find("throw:alloc") != std::string::npos) throw std::bad_alloc();
      if (post.text && post.text->find("throw:other") != std::string::npos) throw std::runtime_error("unexpected");
      if (post.text && post.text->find("slow") != std::string::npos) std::this_thread::sleep_for(slow_for);
      predict::Prediction p;
      p.id = post.id;
      if (post.text && !post.text->empty()) {
        fusion::Scores s{};
        s[post.text->find("sad") != std::string::npos ? 5 : 3] = 0.9;
        for (auto& v : s) v = v > 0 ? v : 0.1 / 6;
        p.text = s;
        p.normalized_text = *post.text;
        if (explain) p.attribution = {{"happy", 0.4}, {"the", -0.01}};
      }
      if (post.image) {
        cv::Mat raw(1, int(post.image->size()), CV_8UC1, const_cast<char*>(post.image->data()));
        cv::Mat img = cv::imdecode(raw, cv::IMREAD_GRAYSCALE);
        if (img.empty()) {
          out.push_back(predict::Outcome::failed(post.id, Error("the image cannot be decoded (bad_image)", Errc::bad_image)));
          continue;
        }
        fusion::Scores s{};
        s.fill(0.05);
        s[6] = 0.7;
        p.faces.push_back({cv::Rect(0, 0, img.cols / 2, img.rows / 2), false, s, 1.0});
        p.image = s;
      } else {
        p.notes.push_back("There is no picture, so the image abstained.");
      }
      if (!p.text && !p.image) {
        out.push_back(predict::Outcome::failed(post.id, Error("the post has neither text nor an image", Errc::empty_post)));
        continue;
      }
      p.fused = fusion::FusionModel{}.fuse(p.text, p.image);
      p.label = fusion::argmax(p.fused);
      p.confidence = p.fused[size_t(p.label)];
      out.push_back({std::move(p), post.id});
    }
    return out;
  }
  nlohmann::json info() const override {
    return {{"text", {{"card", "# Test text model\n\n| data | n | acc | f1 |\n|---|---|---|---|\n| **pooled** | 10 | **70.0%** | **0.650** |\n"}}},
            {"face", {{"card", "# Test face model\n"}}}};
  }
  size_t posts_read() const { return posts_read_; }

 private:
  mutable std::atomic<size_t> posts_read_{0};
};

// A small JPEG (a grey square), for photo posts.
inline std::string tiny_jpeg(int side = 64) {
  cv::Mat img(side, side, CV_8UC3, cv::Scalar(90, 120, 150));
  std::vector<uchar> bytes;
  cv::imencode(".jpg", img, bytes);
  return {bytes.begin(), bytes.end()};
}

}  // namespace emopost::test
