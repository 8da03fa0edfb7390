// `serve`: the HTTP API and web page, stopped cleanly by SIGTERM or Ctrl-C.
#include "command.h"
#include "emopost/core/error.h"
#include "emopost/predict/predictor.h"
#include "emopost/serve/server.h"
#include "stop_signals.h"

namespace emopost::app {

namespace {

struct Options {
  serve::ServeOptions options;
  predict::PredictorOptions predictor;
  ModelChoice models;
  int max_wait_us = 5000;
  int timeout_s = 30;
  int body_timeout_s = 30;
  int header_timeout_s = 10;
  double max_megapixels = 40;
};

int run(Options& c) {
  c.options.batcher.max_wait = std::chrono::microseconds(c.max_wait_us);
  c.options.request_timeout = std::chrono::seconds(c.timeout_s);
  c.options.body_timeout = std::chrono::seconds(c.body_timeout_s);
  c.options.header_timeout = std::chrono::seconds(c.header_timeout_s);
  c.predictor.decode.max_pixels = int64_t(c.max_megapixels * 1e6);
  apply_model_choice(c.models, c.predictor);
  serve::Server server(c.options, [&c] { return std::make_unique<predict::Predictor>(c.predictor); });
  server.bind();
  run_until_stop_signal([&] { server.run(); }, [&] { server.stop(); }, "requests");
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
  add_detector_options(s, c->predictor.detector);
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
  s->add_option("--max-text-bytes", c->predictor.max_text_bytes, "Longest caption")->capture_default_str()
      ->check(CLI::Range(size_t(1), size_t(100'000'000)));
  s->add_option("--max-batch-items", o.max_batch_items, "Posts per /v1/predict/batch request")->capture_default_str()
      ->check(CLI::Range(size_t(1), size_t(100'000)));
  s->add_option("--timeout", c->timeout_s, "Seconds before a request gets 504")->capture_default_str()
      ->check(CLI::Range(1, 3600));
  s->add_option("--body-timeout", c->body_timeout_s, "Seconds a request body may take to arrive (408 after)")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  s->add_option("--header-timeout", c->header_timeout_s,
                "Seconds the request line and headers may take to arrive, from their first byte (408 after)")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  s->add_option("--http-threads", o.http_threads, "Connections served at once")->capture_default_str()
      ->check(CLI::Range(1, 1024));
  s->add_option("--report", o.report_dir, "Folder written by `emopost report` for these models: served at /report/ and "
                "linked from the web page")->check(CLI::ExistingDirectory);
  s->add_flag("--int8", c->predictor.int8,
              "Run the transformer linears in dynamic int8: faster, but a post's probabilities then "
              "move slightly with the other posts in its batch");
  s->footer("Endpoints: POST /v1/predict, POST /v1/predict/batch, GET /v1/models, /healthz, /readyz, /metrics.\n"
            "SIGTERM or Ctrl-C stops accepting, finishes the requests in flight, then exits.");
  out.push_back({s, [c] { return run(*c); }, catch_stop_signals});
}

}  // namespace emopost::app
