#pragma once
// The Telegram bot: long polling, answers read by any PostReader, and the bookkeeping that makes
// every update answered once through faults and restarts (state.h says how). No torch here: the
// bot's tests run it over a stand-in reader and a fake Bot API server.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "emopost/bot/message.h"
#include "emopost/bot/telegram_api.h"
#include "emopost/fusion/fusion.h"
#include "emopost/predict/post.h"

namespace emopost::bot {

struct BotOptions {
  ApiOptions api;
  std::filesystem::path state_file = "emopost-bot.sqlite";
  int workers = 2;          // posts answered at once; one chat's posts are answered in order
  size_t max_open = 200;    // updates gathered, queued or being answered before polling waits
  int poll_timeout_s = 25;  // getUpdates' long-poll timeout
  // An album arrives as one update per picture; it is answered once no part came for `album_gap`,
  // or `album_cap` after its first part.
  std::chrono::milliseconds album_gap{1500}, album_cap{10'000};
  // Telegram's limits on sending: about one message a second in a chat, 30 a second in all.
  double chat_rate = 1.0, global_rate = 30.0;  // messages a second; 0: unlimited
  int max_attempts = 6;                        // per call, for 429, 5xx, timeouts and lost connections
  std::chrono::milliseconds backoff_base{500}, backoff_cap{30'000};
  FileLimits files;
  bool send_photos = true;  // the photo back, each face boxed and labelled
  // Finished updates are kept in the state file this long, then forgotten (checked at start and
  // every hour). Telegram re-sends an unconfirmed update for 24 hours at most.
  std::chrono::hours keep_finished{48};
};

class Bot {
 public:
  // Opens the state file (emopost::Error naming it when it cannot). `reader` outlives the bot;
  // `fusion` pools an album's faces as the reader pools a picture's.
  Bot(BotOptions options, const predict::PostReader& reader, fusion::FusionModel fusion = {});
  ~Bot();
  Bot(const Bot&) = delete;
  Bot& operator=(const Bot&) = delete;

  // Polls and answers until stop(); then finishes the replies being sent, records them, and
  // returns. Throws emopost::Error when the Bot API refuses the token at start.
  void run();
  // Thread-safe; returns at once. Updates not yet started are left unconfirmed for the next run.
  void stop();
  // Prometheus text: updates by kind, replies, retries, errors by kind, reply latency.
  std::string metrics() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emopost::bot
