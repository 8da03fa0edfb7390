#pragma once
// A PostReader without models, for the server's own tests, the TSan build and the request fuzzer:
// what they check is the HTTP layer, so the verdict itself does not matter. Every readable post is
// "joy"; a post with neither text nor image is empty_post, as with the real predictor.
#include <atomic>
#include <chrono>
#include <thread>

#include "emopost/core/labels.h"
#include "emopost/predict/post.h"

namespace emopost::test {

class StandInReader : public predict::PostReader {
 public:
  explicit StandInReader(std::chrono::milliseconds delay = {}) : delay_(delay) {}

  std::vector<predict::Outcome> predict_many(const std::vector<predict::Post>& posts, bool explain) const override {
    if (delay_.count()) std::this_thread::sleep_for(delay_);
    posts_read_ += posts.size();
    std::vector<predict::Outcome> out;
    for (const auto& p : posts) {
      if (!p.text && !p.image) {
        out.push_back(predict::Outcome::failed(p.id, Error("the post has neither text nor an image", Errc::empty_post)));
        continue;
      }
      predict::Prediction pr;
      pr.id = p.id;
      pr.label = 3;
      pr.confidence = 1;
      pr.fused[3] = 1;
      if (p.text) pr.modalities.push_back("text"), pr.normalized_text = *p.text;
      if (p.image) pr.modalities.push_back("image");
      if (explain) pr.attribution.push_back({"stand-in", 1.0});
      out.push_back({std::move(pr), p.id});
    }
    return out;
  }
  nlohmann::json info() const override {
    return {{"labels", std::vector<std::string>(kLabels.begin(), kLabels.end())}, {"stand_in", true}};
  }
  size_t posts_read() const { return posts_read_; }

 private:
  std::chrono::milliseconds delay_;
  mutable std::atomic<size_t> posts_read_{0};
};

}  // namespace emopost::test
