#pragma once
// The service's Prometheus metrics, in the text exposition format (version 0.0.4).
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace emopost::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // Lines for `name` (with _bucket, _sum and _count), cumulative as Prometheus expects.
  std::string render(const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void request_done(const std::string& path, int status, double seconds);
  void batch_done(size_t posts) { batch_size_.observe(double(posts)); }
  std::atomic<int> in_flight{0};
  std::atomic<uint64_t> posts_cancelled{0};  // dropped unread: their request had already timed out
  std::string render() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (path, status) -> count
  Histogram latency_, batch_size_;
};

}  // namespace emopost::serve
