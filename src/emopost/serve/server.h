#pragma once
// `emopost serve`: the JSON API and the web page over one shared Predictor (cpp-httplib).
#include <chrono>
#include <memory>
#include <string>

#include "emopost/predict/predictor.h"
#include "emopost/serve/micro_batcher.h"

namespace emopost::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port (see Server::bind)
  predict::PredictorOptions predictor;
  BatcherOptions batcher;
  size_t max_body_bytes = 20 << 20;  // whole request; larger bodies get 413
  size_t max_batch_items = 64;       // posts per /v1/predict/batch request
  std::chrono::seconds request_timeout{30};
  // The whole body must arrive within this of the headers: a client that trickles it byte by byte
  // would otherwise hold an HTTP thread for as long as it likes.
  std::chrono::milliseconds body_timeout{30'000};
  int http_threads = 16;             // connections served at once
};

class Server {
 public:
  explicit Server(ServeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the socket and starts loading the models in the background; returns the bound port.
  // Throws emopost::Error when the address cannot be bound.
  int bind();
  // Serves until stop(); in-flight requests are finished before it returns. Throws emopost::Error
  // if the models failed to load.
  void run();
  void stop();  // safe from any thread (the SIGTERM watcher calls it)
  bool ready() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emopost::serve
