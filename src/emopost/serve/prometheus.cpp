#include "emopost/serve/prometheus.h"

#include <algorithm>

#include <fmt/format.h>

namespace emopost::serve {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  std::lock_guard lock(mutex_);
  size_t b = size_t(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  ++counts_[b];
  sum_ += v;
  ++count_;
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
  std::lock_guard lock(mutex_);
  std::string out = fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t b = 0; b < bounds_.size(); ++b) {
    cumulative += counts_[b];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[b], cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, sum_, name, count_);
  return out;
}

Metrics::Metrics()
    : latency_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}),
      batch_size_({1, 2, 4, 8, 16, 32, 64}) {}

void Metrics::request_done(const std::string& path, int status, double seconds) {
  {
    std::lock_guard lock(mutex_);
    ++requests_[{path, status}];
  }
  latency_.observe(seconds);
}

std::string Metrics::render() const {
  std::string out =
      "# HELP emopost_requests_total HTTP requests by path and status code.\n"
      "# TYPE emopost_requests_total counter\n";
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, n] : requests_)
      out += fmt::format("emopost_requests_total{{path=\"{}\",code=\"{}\"}} {}\n", key.first, key.second, n);
  }
  out += latency_.render("emopost_request_duration_seconds", "Request latency, from arrival to response.");
  out += batch_size_.render("emopost_batch_size", "Posts per model batch.");
  out += fmt::format("# HELP emopost_cancelled_posts_total Posts dropped unread because their request timed out.\n"
                     "# TYPE emopost_cancelled_posts_total counter\nemopost_cancelled_posts_total {}\n",
                     posts_cancelled.load());
  out += fmt::format("# HELP emopost_in_flight_requests Requests being handled now.\n"
                     "# TYPE emopost_in_flight_requests gauge\nemopost_in_flight_requests {}\n",
                     in_flight.load());
  return out;
}

}  // namespace emopost::serve
