#pragma once
// A real `emopost serve` on a free loopback port, for the suites that talk HTTP to it: started
// (models loaded) on construction, drained and joined on destruction.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "emopost/serve/server.h"

namespace emopost::test {

class RunningServer {
 public:
  RunningServer(serve::ServeOptions options, serve::ModelLoader load) : server_(std::move(options), std::move(load)) {
    port_ = server_.bind();
    thread_ = std::thread([this] { server_.run(); });
    for (int i = 0; i < 300 && !server_.ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(server_.ready()) << "the server did not get ready in 15 s";
  }
  ~RunningServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  bool ready() const { return server_.ready(); }

 private:
  serve::Server server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace emopost::test
