#include "emopost/core/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace emopost {

ProgressBar::ProgressBar(size_t total, std::string label, std::string unit)
    : total_(total), label_(std::move(label)), unit_(std::move(unit)), tty_(isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double ProgressBar::rate() const {
  double s = elapsed_seconds();
  return s > 0 ? static_cast<double>(done_) / s : 0.0;
}

void ProgressBar::update(size_t n, const std::string& extra) {
  done_ += n;
  extra_ = extra;
  auto now = std::chrono::steady_clock::now();
  // A terminal redraws often; a log file gets a line every 30 s so that it stays readable.
  auto every = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(30000);
  if (now - last_draw_ >= every) {
    last_draw_ = now;
    draw(false);
  }
}

void ProgressBar::finish(const std::string& extra) {
  if (!extra.empty()) extra_ = extra;
  draw(true);
}

void ProgressBar::draw(bool final) {
  double r = rate();
  double eta = r > 0 && total_ > done_ ? static_cast<double>(total_ - done_) / r : 0.0;
  constexpr int kWidth = 24;
  int filled = total_ ? static_cast<int>(kWidth * std::min<double>(1.0, double(done_) / total_)) : 0;
  std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '-');
  auto line = fmt::format("{} [{}] {}/{} {} | {:.1f} {}/s | {} < {}{}{}", label_, bar, done_, total_,
                          unit_, r, unit_, format_duration(elapsed_seconds()), format_duration(eta),
                          extra_.empty() ? "" : " | ", extra_);
  std::fprintf(stderr, tty_ ? "\r\033[K%s%s" : "%s%s", line.c_str(), final || !tty_ ? "\n" : "");
  std::fflush(stderr);
}

std::string format_duration(double seconds) {
  auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{:02}:{:02}", s / 60, s % 60);
}

}  // namespace emopost
