// A small HTTP load generator for `emopost serve` (bench/RESULTS.md, scripts/load-test).
//   load_client PORT MODE RATE SECONDS [CONCURRENCY] [SERVER_PID]
//   MODE     photo (a 1280x720 photo + caption, multipart), caption (JSON, text only), or soak
//            (photo posts with one request in 20 bad: broken JSON, bad base64, an empty post, a
//            truncated JPEG, JSON nested too deep; those must get a 4xx, everything else a 200)
//   RATE     requests per second, sent on a fixed schedule (open loop: latency counts from the
//            scheduled send time, so a slow server cannot hide its queueing); 0 = closed loop,
//            CONCURRENCY clients sending back to back, to find the sustained maximum
// Prints one JSON object: requests, errors by status, achieved rate, latency p50/p90/p99 (ms), and
// with SERVER_PID the server's resident memory after the first 10% of the run and at the end. A soak
// also reports each minute (requests, p50/p99, resident memory) and fails on an unexpected answer.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

using Clock = std::chrono::steady_clock;

namespace {

long rss_kb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

std::string photo_1280x720() {
  cv::Mat img = cv::imread(std::string(EMOPOST_SOURCE_DIR) + "/samples/photos/group6.jpg");
  std::vector<uchar> buf;
  cv::imencode(".jpg", img(cv::Rect(0, 100, 1280, 720)), buf, {cv::IMWRITE_JPEG_QUALITY, 90});
  return {buf.begin(), buf.end()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: load_client PORT photo|caption RATE SECONDS [CONCURRENCY] [SERVER_PID]\n");
    return 2;
  }
  const int port = std::stoi(argv[1]);
  const std::string mode = argv[2];
  const double rate = std::stod(argv[3]), seconds = std::stod(argv[4]);
  const int concurrency = argc > 5 ? std::stoi(argv[5]) : 8;
  const int pid = argc > 6 ? std::stoi(argv[6]) : 0;
  const std::string caption = "Finally saw my best friends after two years apart!!! 😭❤️ #reunited @maria";
  const bool soak = mode == "soak";
  const std::string photo = mode == "photo" || soak ? photo_1280x720() : "";
  // One bad request in 20, of five kinds in turn: each must be answered 4xx.
  auto bad_request = [&](httplib::Client& c, long k) {
    switch ((k / 20) % 5) {
      case 0: return c.Post("/v1/predict", "{\"text\": ", "application/json");
      case 1: return c.Post("/v1/predict", "{\"image\": \"Zm9v!mFy\"}", "application/json");
      case 2: return c.Post("/v1/predict", "{}", "application/json");
      case 3: {
        httplib::MultipartFormDataItems form{{"image", photo.substr(0, photo.size() / 3), "cut.jpg", "image/jpeg"}};
        return c.Post("/v1/predict", form);
      }
      default: return c.Post("/v1/predict", std::string(5000, '[') + std::string(5000, ']'), "application/json");
    }
  };
  std::atomic<long> sent{0};
  struct Minute {
    std::vector<double> latencies;
    long rss_kb = -1;
  };
  std::map<long, Minute> minutes;
  long unexpected = 0, expected_4xx = 0;

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Clock::time_point> due;  // scheduled send times (open loop)
  std::vector<double> latencies;
  std::map<int, int> statuses;
  std::atomic<bool> done{false};
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));

  auto send = [&](httplib::Client& c, bool& bad) {
    const long k = sent++;
    bad = soak && k % 20 == 19;
    if (bad) return bad_request(c, k);
    if (mode == "photo" || soak) {
      httplib::MultipartFormDataItems form{{"image", photo, "photo.jpg", "image/jpeg"}, {"text", caption, "", ""}};
      return c.Post("/v1/predict", form);
    }
    return c.Post("/v1/predict", nlohmann::json{{"text", caption}}.dump(), "application/json");
  };
  auto record = [&](Clock::time_point t0, const httplib::Result& r, bool bad) {
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    const int status = r ? r->status : -1;
    std::lock_guard lock(mutex);
    ++statuses[status];
    if (bad) {
      (status >= 400 && status < 500 ? expected_4xx : unexpected)++;
      return;  // latencies are of the real posts
    }
    latencies.push_back(ms);
    if (status != 200) ++unexpected;
    minutes[long(std::chrono::duration<double>(t0 - start).count() / 60)].latencies.push_back(ms);
  };

  const int workers = rate > 0 ? 64 : concurrency;
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(60);
      for (;;) {
        Clock::time_point t0;
        if (rate > 0) {
          std::unique_lock lock(mutex);
          wake.wait(lock, [&] { return done || !due.empty(); });
          if (due.empty()) return;
          t0 = due.front();
          due.pop_front();
        } else {
          if (Clock::now() >= end) return;
          t0 = Clock::now();
        }
        bool bad = false;
        auto r = send(c, bad);
        record(t0, r, bad);
      }
    });

  long rss_warm = -1;
  if (rate > 0) {
    for (long i = 0;; ++i) {
      auto t = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(i / rate));
      if (t >= end) break;
      std::this_thread::sleep_until(t);
      {
        std::lock_guard lock(mutex);
        due.push_back(t);
      }
      wake.notify_one();
      if (pid && rss_warm < 0 && t >= start + std::chrono::duration<double>(seconds / 10)) rss_warm = rss_kb(pid);
      if (pid && soak) {  // resident memory once a minute, at the minute's end
        const long m = long(std::chrono::duration<double>(t - start).count() / 60);
        std::lock_guard lock(mutex);
        minutes[m].rss_kb = rss_kb(pid);
      }
    }
  } else {
    std::this_thread::sleep_until(start + std::chrono::duration<double>(seconds / 10));
    if (pid) rss_warm = rss_kb(pid);
  }
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  wake.notify_all();
  for (auto& t : pool) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();

  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) { return latencies.empty() ? 0.0 : latencies[std::min(latencies.size() - 1, size_t(q * latencies.size()))]; };
  nlohmann::json out = {{"mode", mode}, {"target_rate", rate}, {"seconds", seconds}, {"requests", latencies.size()},
                        {"achieved_rate", latencies.size() / wall}, {"p50_ms", pct(0.5)}, {"p90_ms", pct(0.9)},
                        {"p99_ms", pct(0.99)}};
  int errors = 0;
  for (auto [status, n] : statuses) {
    out["statuses"][std::to_string(status)] = n;
    if (status != 200) errors += n;
  }
  out["errors"] = errors;
  if (soak) {
    errors = int(unexpected);  // the bad requests' 4xx are expected
    out["unexpected"] = unexpected;
    out["expected_4xx"] = expected_4xx;
    out["minutes"] = nlohmann::json::array();
    for (auto& [m, row] : minutes) {
      auto& l = row.latencies;
      std::sort(l.begin(), l.end());
      auto q = [&](double f) { return l.empty() ? 0.0 : l[std::min(l.size() - 1, size_t(f * l.size()))]; };
      out["minutes"].push_back({{"minute", m + 1}, {"requests", l.size()}, {"p50_ms", q(0.5)}, {"p99_ms", q(0.99)},
                                {"rss_kb", row.rss_kb}});
    }
  }
  if (pid) out["rss_kb_after_warmup"] = rss_warm, out["rss_kb_end"] = rss_kb(pid);
  std::printf("%s\n", out.dump().c_str());
  return errors ? 1 : 0;
}
