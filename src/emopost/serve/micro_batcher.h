#pragma once
// Micro-batching: concurrent requests wait up to `max_wait` for company, then go through the
// models together (up to `max_batch` posts), which is where batching pays on CPU.
#include <atomic>
#include <chrono>
#include <memory>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "emopost/predict/post.h"

namespace emopost::serve {

struct BatcherOptions {
  size_t max_batch = 8;                        // 1 turns batching off
  std::chrono::microseconds max_wait{5000};    // how long the first post waits for others
  size_t max_queue = 256;                      // posts waiting; beyond this, submit() refuses
};

class MicroBatcher {
 public:
  // `observe` (optional) is told each batch's size, for metrics.
  // `cancelled` (optional) is told the size of each job dropped unread.
  MicroBatcher(const predict::PostReader& predictor, BatcherOptions options,
               std::function<void(size_t)> observe = {}, std::function<void(size_t)> cancelled = {});
  ~MicroBatcher();  // finishes the posts already queued, then stops

  // The outcomes of `posts`, in order. Throws emopost::Error (code "overloaded") when the queue is
  // full; the caller should answer 503 and ask the client to retry. Setting `cancelled` (a caller
  // that stopped waiting) drops the posts unread if they have not gone to the models yet.
  using Cancel = std::shared_ptr<std::atomic<bool>>;
  std::future<std::vector<predict::Outcome>> submit(std::vector<predict::Post> posts, bool explain,
                                                    Cancel cancelled = nullptr);
  size_t queued() const;

 private:
  struct Job {
    std::vector<predict::Post> posts;
    bool explain;
    std::promise<std::vector<predict::Outcome>> done;
    Cancel cancelled;
  };
  void loop();

  const predict::PostReader& predictor_;
  BatcherOptions options_;
  std::function<void(size_t)> observe_, on_cancel_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  size_t queued_posts_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace emopost::serve
