#pragma once
// A progress bar in the style of tqdm: count, rate, ETA and a few live values, on stderr.
#include <chrono>
#include <string>

namespace emopost {

class ProgressBar {
 public:
  ProgressBar(size_t total, std::string label, std::string unit = "it");
  // Adds n finished items; `extra` is shown after the rate (e.g. "loss 0.512").
  void update(size_t n, const std::string& extra = "");
  void finish(const std::string& extra = "");
  double rate() const;  // items per second so far
  double elapsed_seconds() const;

 private:
  void draw(bool final);
  size_t total_, done_ = 0;
  std::string label_, unit_, extra_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

std::string format_duration(double seconds);  // "1:02:03" or "02:03"

}  // namespace emopost
