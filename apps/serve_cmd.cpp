// `serve`: the HTTP API and web page, stopped cleanly by SIGTERM or Ctrl-C.
#include <csignal>
#include <pthread.h>
#include <thread>

#include <spdlog/spdlog.h>

#include "command.h"
#include "emopost/serve/server.h"

namespace emopost::app {

namespace {

struct Options {
  serve::ServeOptions options;
  ModelChoice models;
  int max_wait_us = 5000;
  int timeout_s = 30;
  double max_megapixels = 40;
};

int run(Options& c) {
  c.options.batcher.max_wait = std::chrono::microseconds(c.max_wait_us);
  c.options.request_timeout = std::chrono::seconds(c.timeout_s);
  c.options.predictor.decode.max_pixels = int64_t(c.max_megapixels * 1e6);
  auto chosen = predictor_options(c.models);
  c.options.predictor.models_dir = chosen.models_dir;
  c.options.predictor.text_model = chosen.text_model;
  c.options.predictor.face_model = chosen.face_model;
  c.options.predictor.fusion_file = chosen.fusion_file;
  c.options.predictor.face_mirror = chosen.face_mirror;
  // Block the stop signals in every thread, and wait for them on one: a handler may not call
  // stop() safely, a thread may.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  serve::Server server(c.options);
  server.bind();
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig == 0) return;
    spdlog::info("signal {}: finishing requests in flight, then stopping", sig);
    server.stop();
  });
  try {
    server.run();
  } catch (...) {
    pthread_kill(watcher.native_handle(), SIGTERM);  // wake the watcher so it can be joined
    watcher.join();
    throw;
  }
  pthread_kill(watcher.native_handle(), SIGTERM);
  watcher.join();
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, Commands& out) {
  auto c = std::make_shared<Options>();
  auto& o = c->options;
  auto* s = app.add_subcommand("serve", "Serve the JSON API and the web page (http://HOST:PORT/)");
  s->add_option("--host", o.host, "Address to listen on")->capture_default_str();
  s->add_option("--port", o.port, "Port (0 = any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  add_model_options(s, c->models, /*with_fusion=*/true);
  s->add_option("--max-batch", o.batcher.max_batch, "Posts per pass through the models (1 = no micro-batching)")
      ->capture_default_str()->check(CLI::Range(1, 1024));
  s->add_option("--max-wait-us", c->max_wait_us, "How long a post waits for others to batch with")
      ->capture_default_str()->check(CLI::Range(0, 10'000'000));
  s->add_option("--max-queue", o.batcher.max_queue, "Posts waiting before requests get 503")->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  s->add_option("--max-body-bytes", o.max_body_bytes, "Largest request body")->capture_default_str()
      ->check(CLI::Range(size_t(1024), size_t(1) << 32));
  s->add_option("--max-megapixels", c->max_megapixels, "Largest image")->capture_default_str()
      ->check(CLI::Range(0.01, 400.0));
  s->add_option("--max-text-bytes", o.predictor.max_text_bytes, "Longest caption")->capture_default_str()
      ->check(CLI::Range(size_t(1), size_t(100'000'000)));
  s->add_option("--max-batch-items", o.max_batch_items, "Posts per /v1/predict/batch request")->capture_default_str()
      ->check(CLI::Range(size_t(1), size_t(100'000)));
  s->add_option("--timeout", c->timeout_s, "Seconds before a request gets 504")->capture_default_str()
      ->check(CLI::Range(1, 3600));
  s->add_option("--http-threads", o.http_threads, "Connections served at once")->capture_default_str()
      ->check(CLI::Range(1, 1024));
  s->add_flag("--int8", o.predictor.int8,
              "Run the transformer linears in dynamic int8: faster, but a post's probabilities then "
              "move slightly with the other posts in its batch");
  s->footer("Endpoints: POST /v1/predict, POST /v1/predict/batch, GET /v1/models, /healthz, /readyz, /metrics.\n"
            "SIGTERM or Ctrl-C stops accepting, finishes the requests in flight, then exits.");
  out.push_back({s, [c] { return run(*c); }});
}

}  // namespace emopost::app
