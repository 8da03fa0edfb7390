#pragma once
// `emopost serve`: the JSON API and the web page over one shared PostReader (cpp-httplib). No
// torch here: the caller says how to load the models, so the server's tests can use a stand-in.
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "emopost/predict/post.h"
#include "emopost/serve/micro_batcher.h"

namespace emopost::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port (see Server::bind)
  BatcherOptions batcher;
  size_t max_body_bytes = 20 << 20;  // whole request; larger bodies get 413
  size_t max_batch_items = 64;       // posts per /v1/predict/batch request
  std::chrono::seconds request_timeout{30};
  // The whole body must arrive within this of the headers: a client that trickles it byte by byte
  // would otherwise hold an HTTP thread for as long as it likes.
  std::chrono::milliseconds body_timeout{30'000};
  // The request line and headers must arrive within this of their first byte, for the same reason.
  std::chrono::milliseconds header_timeout{10'000};
  int http_threads = 16;             // connections served at once
  // A report written by `emopost report` for the models served: its files are served under
  // /report/, and /v1/models says so, so that the web page links to it. Empty: none.
  std::filesystem::path report_dir;
};

// Loads the models; run on a thread of its own by bind(). Throws emopost::Error (bad_model).
using ModelLoader = std::function<std::unique_ptr<predict::PostReader>()>;

class Server {
 public:
  Server(ServeOptions options, ModelLoader load);
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
  // One request as raw HTTP bytes in, the raw answer out, through every route and limit but no
  // socket: for fuzz/fuzz_request.cpp. Load the models first (bind(), then wait for ready()).
  std::string answer_raw(std::string_view request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emopost::serve
