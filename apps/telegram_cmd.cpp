// `telegram`: the Telegram bot over the shipped models, stopped cleanly by SIGTERM or Ctrl-C.
#include <cstdlib>
#include <fstream>
#include <thread>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "command.h"
#include "emopost/bot/bot.h"
#include "emopost/core/error.h"
#include "emopost/predict/predictor.h"
#include "stop_signals.h"

namespace emopost::app {

namespace {

struct Options {
  bot::BotOptions bot;
  std::filesystem::path token_file;
  predict::PredictorOptions predictor;
  ModelChoice models;
  int timeout_s = 30;
  double max_megapixels = 40;
  bool no_photos = false;
  std::string metrics_host = "127.0.0.1";
  int metrics_port = 0;
};

// The token from its file, else from TELEGRAM_BOT_TOKEN. Messages never show it.
std::string read_token(const std::filesystem::path& file) {
  std::string token;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) throw Error("cannot read the token file " + file.string(), Errc::invalid_input);
    std::getline(in, token);
  } else if (const char* env = std::getenv("TELEGRAM_BOT_TOKEN")) {
    token = env;
  } else {
    throw Error("no bot token: give --token-file PATH or set TELEGRAM_BOT_TOKEN", Errc::invalid_input);
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) token.erase(0, 1);
  if (token.empty()) throw Error("the bot token is empty", Errc::invalid_input);
  // It becomes part of every URL's path: BotFather's tokens are digits, ':' and [A-Za-z0-9_-].
  for (unsigned char ch : token)
    if (!(std::isalnum(ch) || ch == ':' || ch == '_' || ch == '-'))
      throw Error("the bot token has a character a Telegram token cannot have (it is not shown here)", Errc::invalid_input);
  return token;
}

int run(Options& c) {
  c.bot.api.token = read_token(c.token_file);
  c.bot.api.timeout = std::chrono::seconds(c.timeout_s);
  c.bot.send_photos = !c.no_photos;
  c.predictor.decode.max_pixels = int64_t(c.max_megapixels * 1e6);
  c.bot.files.max_pixels = c.predictor.decode.max_pixels;
  apply_model_choice(c.models, c.predictor);
  predict::Predictor predictor(c.predictor);
  bot::Bot bot(c.bot, predictor, predictor.fusion());

  httplib::Server metrics;
  std::thread metrics_thread;
  if (c.metrics_port > 0) {
    metrics.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
      res.set_content(bot.metrics(), "text/plain; version=0.0.4");
    });
    if (!metrics.bind_to_port(c.metrics_host, c.metrics_port))
      throw Error(fmt::format("cannot listen on {}:{} for metrics", c.metrics_host, c.metrics_port), Errc::invalid_input);
    metrics_thread = std::thread([&] { metrics.listen_after_bind(); });
    spdlog::info("metrics on http://{}:{}/metrics", c.metrics_host, c.metrics_port);
  }
  auto stop_metrics = [&] {
    if (!metrics_thread.joinable()) return;
    metrics.stop();
    metrics_thread.join();
  };
  try {
    run_until_stop_signal([&] { bot.run(); }, [&] { bot.stop(); }, "replies");
  } catch (...) {
    stop_metrics();
    throw;
  }
  stop_metrics();
  return 0;
}

}  // namespace

void add_telegram_command(CLI::App& app, Commands& out) {
  auto c = std::make_shared<Options>();
  auto& b = c->bot;
  auto* s = app.add_subcommand("telegram", "Run the Telegram bot: send it a photo with a caption, get the post's emotion");
  s->add_option("--token-file", c->token_file, "File holding the bot's token (default: $TELEGRAM_BOT_TOKEN)")
      ->check(CLI::ExistingFile);
  s->add_option("--api-url", b.api.api_url, "Bot API server (a self-hosted telegram-bot-api works too)")->capture_default_str();
  s->add_option("--state", b.state_file, "SQLite file of the updates answered (no message text or photos)")
      ->capture_default_str();
  add_model_options(s, c->models, /*with_fusion=*/true);
  add_detector_options(s, c->predictor.detector);
  s->add_option("--workers", b.workers, "Posts answered at once (one chat's posts stay in order)")->capture_default_str()
      ->check(CLI::Range(1, 64));
  s->add_option("--poll-timeout", b.poll_timeout_s, "Seconds each getUpdates long poll waits")->capture_default_str()
      ->check(CLI::Range(0, 50));
  s->add_option("--request-timeout", c->timeout_s, "Seconds before a Bot API call is given up and retried")
      ->capture_default_str()->check(CLI::Range(1, 600));
  s->add_option("--chat-rate", b.chat_rate, "Messages a second to one chat (0: no limit)")->capture_default_str()
      ->check(CLI::Range(0.0, 1000.0));
  s->add_option("--global-rate", b.global_rate, "Messages a second in all (0: no limit)")->capture_default_str()
      ->check(CLI::Range(0.0, 10000.0));
  s->add_option("--max-megapixels", c->max_megapixels, "Largest picture read")->capture_default_str()
      ->check(CLI::Range(0.01, 400.0));
  s->add_flag("--no-photos", c->no_photos, "Reply with text only, not also the photo with its faces boxed");
  s->add_option("--metrics-port", c->metrics_port, "Serve Prometheus metrics on this port (0: off)")->capture_default_str()
      ->check(CLI::Range(0, 65535));
  s->add_option("--metrics-host", c->metrics_host, "Address for the metrics")->capture_default_str();
  s->footer("Commands the bot answers: /start, /help, /privacy, /about; end a caption with /explain.\n"
            "SIGTERM or Ctrl-C finishes the replies being sent, records them, and exits 0.");
  out.push_back({s, [c] { return run(*c); }, catch_stop_signals});
}

}  // namespace emopost::app
