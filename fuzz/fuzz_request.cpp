// libFuzzer target: the server's request parsing, end to end on raw HTTP bytes: the request line
// and headers, chunked and gzip bodies, the body cap, multipart forms, JSON posts and batches,
// through every route, with a stand-in reader behind them. Whatever arrives, the answer is HTTP and
// never a 500 (internal): a client's bytes are the client's error.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <thread>

#include <spdlog/spdlog.h>

#include "emopost/serve/server.h"
#include "stand_in_reader.h"

namespace {

emopost::serve::Server& server() {
  static auto* s = [] {
    spdlog::set_level(spdlog::level::warn);  // no access log line per input
    emopost::serve::ServeOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.max_body_bytes = 64 << 10;
    o.max_batch_items = 8;
    o.batcher.max_wait = std::chrono::microseconds(0);
    auto* server = new emopost::serve::Server(o, [] { return std::make_unique<emopost::test::StandInReader>(); });
    server->bind();  // loads the stand-in; nothing connects to the port
    while (!server->ready()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return server;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto answer = server().answer_raw(std::string_view(reinterpret_cast<const char*>(data), size));
  if (answer.empty()) return 0;  // httplib closed without answering (no request line)
  if (answer.rfind("HTTP/1.1 ", 0) != 0 || answer.rfind("HTTP/1.1 500", 0) == 0) __builtin_trap();
  return 0;
}
