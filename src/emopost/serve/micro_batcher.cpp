#include "emopost/serve/micro_batcher.h"

#include "emopost/core/error.h"

namespace emopost::serve {

MicroBatcher::MicroBatcher(const predict::PostReader& predictor, BatcherOptions options,
                           std::function<void(size_t)> observe, std::function<void(size_t)> cancelled)
    : predictor_(predictor),
      options_(options),
      observe_(std::move(observe)),
      on_cancel_(std::move(cancelled)),
      worker_([this] { loop(); }) {}

MicroBatcher::~MicroBatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

size_t MicroBatcher::queued() const {
  std::lock_guard lock(mutex_);
  return queued_posts_;
}

std::future<std::vector<predict::Outcome>> MicroBatcher::submit(std::vector<predict::Post> posts, bool explain,
                                                                Cancel cancelled) {
  Job job{std::move(posts), explain, {}, std::move(cancelled)};
  auto future = job.done.get_future();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw Error("the server is shutting down", Errc::overloaded);
    if (queued_posts_ + job.posts.size() > options_.max_queue)
      throw Error("too many posts are waiting; retry shortly", Errc::overloaded);
    queued_posts_ += job.posts.size();
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return future;
}

void MicroBatcher::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to finish
    // Wait a little for more posts, unless the batch is already full.
    auto deadline = std::chrono::steady_clock::now() + options_.max_wait;
    wake_.wait_until(lock, deadline, [&] { return stopping_ || queued_posts_ >= options_.max_batch; });
    // Take whole jobs up to max_batch posts (a job larger than that goes alone).
    std::vector<Job> jobs;
    size_t posts = 0;
    size_t dropped = 0;
    while (!queue_.empty() && (jobs.empty() || posts + queue_.front().posts.size() <= options_.max_batch)) {
      auto& job = queue_.front();
      if (job.cancelled && *job.cancelled) {  // nobody waits for these any more
        dropped += job.posts.size();
        if (on_cancel_) on_cancel_(job.posts.size());
        job.done.set_exception(std::make_exception_ptr(Error("the request timed out before its turn", Errc::timeout)));
      } else {
        posts += job.posts.size();
        jobs.push_back(std::move(job));
      }
      queue_.pop_front();
    }
    queued_posts_ -= posts + dropped;
    if (jobs.empty()) continue;
    lock.unlock();
    // Explanations cost a forward pass per word, so they are asked per job.
    std::vector<predict::Post> all;
    for (auto& j : jobs)
      if (!j.explain) all.insert(all.end(), j.posts.begin(), j.posts.end());
    try {
      auto outcomes = predictor_.predict_many(all);
      if (observe_ && !all.empty()) observe_(all.size());
      size_t k = 0;
      for (auto& j : jobs) {
        if (j.explain) {
          auto out = predictor_.predict_many(j.posts, true);
          if (observe_) observe_(j.posts.size());
          j.done.set_value(std::move(out));
          continue;
        }
        std::vector<predict::Outcome> mine(std::make_move_iterator(outcomes.begin() + k),
                                           std::make_move_iterator(outcomes.begin() + k + j.posts.size()));
        k += j.posts.size();
        j.done.set_value(std::move(mine));
      }
    } catch (...) {
      for (auto& j : jobs) {
        try {
          j.done.set_exception(std::current_exception());
        } catch (const std::future_error&) {  // already answered
        }
      }
    }
    lock.lock();
  }
}

}  // namespace emopost::serve
