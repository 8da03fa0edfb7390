// The bot as a process over the stand-in reader, for the test that kills it with SIGKILL mid-batch
// and restarts it: bot_harness API_URL STATE_FILE [WORKERS]. The token comes from
// TELEGRAM_BOT_TOKEN; SIGTERM stops it as it stops `emopost telegram`.
#include <cstdlib>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "bot_reader.h"
#include "emopost/bot/bot.h"
#include "stop_signals.h"

int main(int argc, char** argv) {
  using namespace emopost;
  spdlog::set_default_logger(spdlog::stderr_color_mt("bot"));
  if (argc < 3 || !std::getenv("TELEGRAM_BOT_TOKEN")) {
    spdlog::error("usage: TELEGRAM_BOT_TOKEN=... bot_harness API_URL STATE_FILE [WORKERS]");
    return 2;
  }
  app::catch_stop_signals();
  bot::BotOptions o;
  o.api.api_url = argv[1];
  o.api.token = std::getenv("TELEGRAM_BOT_TOKEN");
  o.api.timeout = std::chrono::milliseconds(2000);
  o.state_file = argv[2];
  o.workers = argc > 3 ? std::stoi(argv[3]) : 2;
  o.poll_timeout_s = 1;
  o.chat_rate = o.global_rate = 0;
  o.send_photos = false;
  test::BotReader reader;
  bot::Bot bot(o, reader);
  app::run_until_stop_signal([&] { bot.run(); }, [&] { bot.stop(); }, "replies");
  return 0;
}
