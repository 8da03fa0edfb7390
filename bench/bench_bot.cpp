// The Telegram bot's throughput and latency against the fake Bot API (tests/fake_bot_api.h) on
// loopback, with the shipped models:
//   BM_Bot/text    tweet-length captions, each from its own chat
//   BM_Bot/photo   the same captions with the 1280x720 group photo (5 faces by the CNN) of bench_predict,
//                  fetched through getFile, and the photo sent back with its faces boxed
// Each iteration posts a burst of updates (40: throughput, the latency then includes the wait in
// the queue; 1: one post at a time, the latency of a post alone) and waits for their replies.
// Counters: replies/s, and the latency from an update being posted to its sendMessage arriving,
// p50 and p99 (ms), as the user waits for it.
// Telegram's send limits are off (--chat-rate 0 --global-rate 0): this measures the bot, not them.
// Threads: 2, or EMOPOST_THREADS; bot workers: 2.
#include <torch/torch.h>  // before benchmark.h: torch defines glog-style macros

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "emopost/bot/bot.h"
#include "emopost/models/threads.h"
#include "emopost/predict/predictor.h"
#include "bench_photo.h"
#include "fake_bot_api.h"

namespace {

using namespace emopost;
namespace fs = std::filesystem;
const fs::path kRoot = EMOPOST_SOURCE_DIR;
const std::string kToken = "1:bench";
const char* kCaptions[] = {
    "Finally saw my best friends after two years apart!!! 😭❤️ #reunited @maria",
    "can't believe they cancelled the show again, so annoyed right now",
    "this storm outside is honestly terrifying, hope everyone is safe",
    "lazy sunday, coffee and a book ☕",
};

const predict::Predictor& predictor() {
  static const predict::Predictor p = [] {
    const char* t = std::getenv("EMOPOST_THREADS");
    models::configure_runtime(t ? std::atoi(t) : 2);
    predict::PredictorOptions o;
    o.models_dir = kRoot / "models";
    return predict::Predictor(o);
  }();
  return p;
}

using bench::percentile;
using bench::photo_1280x720;

void BM_Bot(benchmark::State& state, bool photos) {
  const int per_iteration = int(state.range(0));
  using json = nlohmann::json;
  test::FakeBotApi api(kToken);
  const fs::path dir = fs::temp_directory_path() / ("emopost-bench-bot-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  bot::BotOptions o;
  o.api.api_url = api.url();
  o.api.token = kToken;
  o.state_file = dir / (photos ? "photo.sqlite" : "text.sqlite");
  o.chat_rate = o.global_rate = 0;
  o.poll_timeout_s = 1;
  bot::Bot bot(o, predictor(), predictor().fusion());
  std::thread runner([&] { bot.run(); });
  const std::string file = api.add_file(photos ? photo_1280x720() : "");
  int64_t chat = 1, posted = 0;
  for (auto _ : state) {
    for (int i = 0; i < per_iteration; ++i, ++chat) {
      json m = {{"chat", {{"id", chat}, {"type", "private"}}}, {"from", {{"id", chat}, {"is_bot", false}}}};
      const char* caption = kCaptions[i % 4];
      if (photos) {
        m["photo"] = json::array({{{"file_id", file}, {"file_unique_id", "p"}, {"width", 1280}, {"height", 720}}});
        m["caption"] = caption;
      } else {
        m["text"] = caption;
      }
      api.push(m);
    }
    posted += per_iteration;
    if (!api.wait_for([&] { return int64_t(api.sent("sendMessage").size()) >= posted; }, std::chrono::seconds(300)))
      state.SkipWithError("replies did not arrive");
  }
  bot.stop();
  runner.join();
  const auto pushed = api.pushed();
  std::vector<double> latency;
  for (const auto& m : api.sent("sendMessage")) {
    auto it = pushed.find(api.update_of_message(m.reply_to));
    if (it != pushed.end()) latency.push_back(std::chrono::duration<double, std::milli>(m.at - it->second).count());
  }
  state.counters["replies/s"] = benchmark::Counter(double(posted), benchmark::Counter::kIsRate);
  state.counters["latency_p50_ms"] = percentile(latency, 0.5);
  state.counters["latency_p99_ms"] = percentile(latency, 0.99);
  state.counters["photos_sent"] = double(api.sent("sendPhoto").size());
  fs::remove_all(dir);
}
BENCHMARK_CAPTURE(BM_Bot, text, false)->Arg(40)->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Bot, text, false)->Arg(1)->Iterations(40)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Bot, photo, true)->Arg(40)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Bot, photo, true)->Arg(1)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
