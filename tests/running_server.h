#pragma once
// A real `emopost serve` on a free loopback port, for the suites that talk HTTP to it: started
// (models loaded) on construction, drained and joined on destruction.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

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

// A client of a server on loopback, patient enough for a model's first pass.
inline httplib::Client http_client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60);
  return c;
}

// The answer is the API's JSON error: this status, this code, a message.
inline void expect_http_error(const httplib::Result& r, int status, const std::string& code) {
  ASSERT_TRUE(r) << "no response";
  EXPECT_EQ(r->status, status) << r->body;
  const auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["error"]["code"], code) << r->body;
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
}

}  // namespace emopost::test
