// The HTTP layer against a real server on loopback, over a stand-in reader (no torch, so that the
// ASan and TSan builds run it): every endpoint, every limit and error path, concurrency, and the
// micro-batcher. The shipped models behind the same API: test_serve_models.cpp.
#include "emopost/serve/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <fmt/format.h>

#include "emopost/io/base64.h"
#include "emopost/serve/micro_batcher.h"
#include "running_server.h"
#include "stand_in_reader.h"
#include "support.h"

using namespace emopost::test;
using nlohmann::json;

namespace {

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    emopost::serve::ServeOptions o;
    o.port = 0;
    o.max_body_bytes = 512 * 1024;
    o.max_batch_items = 8;
    o.body_timeout = std::chrono::milliseconds(1500);
    o.header_timeout = std::chrono::milliseconds(1500);
    o.batcher.max_wait = std::chrono::milliseconds(20);
    server_ = new RunningServer(o, [] { return std::make_unique<StandInReader>(std::chrono::milliseconds(2)); });
    port_ = server_->port();
    ASSERT_TRUE(server_->ready());
  }
  static void TearDownTestSuite() { delete server_; }
  static httplib::Client client() { return http_client(port_); }
  static void expect_error(const httplib::Result& r, int status, const std::string& code) {
    expect_http_error(r, status, code);
  }
  static std::string photo() { return read_bytes(kRoot / "samples/face_happy.jpg"); }

  static inline RunningServer* server_ = nullptr;
  static inline int port_ = 0;
};
}  // namespace

TEST_F(ServerTest, HealthReadinessModelsAndMetrics) {
  auto c = client();
  auto h = c.Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body)["status"], "ok");
  auto r = c.Get("/readyz");
  EXPECT_EQ(r->status, 200);
  auto m = c.Get("/v1/models");
  EXPECT_EQ(m->status, 200);
  auto info = json::parse(m->body);
  EXPECT_EQ(info["labels"].size(), 7u);
  EXPECT_EQ(info["stand_in"], true);
  EXPECT_EQ(info["version"], "emopost 0.1.0");
  auto page = c.Get("/");
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<form id=\"post-form\""), std::string::npos);
  EXPECT_EQ(c.Get("/app.js")->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  // httplib counts a request (its logger) after the answer is written, on the thread that served it,
  // so on a loaded machine the /healthz line can trail the scrape: scrape until it shows (or 10 s).
  const std::string healthz = "emopost_requests_total{path=\"/healthz\",code=\"200\"} ";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto metrics = c.Get("/metrics");
  while (metrics && metrics->body.find(healthz) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    metrics = c.Get("/metrics");
  }
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  for (const char* name : {healthz.c_str(), "emopost_request_duration_seconds_bucket", "emopost_batch_size_count"})
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name;
  // At least the scrape itself; the request before it may not have been logged out yet, since
  // httplib logs (and the gauge drops) only after the answer is written.
  const auto gauge = metrics->body.find("\nemopost_in_flight_requests ");
  ASSERT_NE(gauge, std::string::npos);
  EXPECT_GE(std::stoi(metrics->body.substr(gauge + 28)), 1);
}

TEST_F(ServerTest, PostsFromMultipartAndFromJson) {
  auto c = client();
  httplib::MultipartFormDataItems form{{"image", photo(), "face.jpg", "image/jpeg"},
                                       {"text", "best day ever 😂", "", ""}};
  auto r = c.Post("/v1/predict?explain=1", form);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = json::parse(r->body);
  EXPECT_EQ(j["modalities"], json::array({"text", "image"}));
  EXPECT_EQ(j["text"]["normalized"], "best day ever 😂");
  EXPECT_FALSE(j["attribution"].empty());
  auto r2 = c.Post("/v1/predict", json{{"text", "so angry"}, {"image", emopost::io::base64_encode(photo())}, {"id", 3}}.dump(),
                   "application/json");
  ASSERT_EQ(r2->status, 200) << r2->body;
  EXPECT_EQ(json::parse(r2->body)["modalities"].size(), 2u);
  EXPECT_EQ(json::parse(r2->body)["id"], "3");
  EXPECT_FALSE(json::parse(r2->body).contains("attribution"));
  httplib::MultipartFormDataItems two_images{{"image", photo(), "a.jpg", "image/jpeg"}, {"image", photo(), "b.jpg", "image/jpeg"}};
  expect_error(c.Post("/v1/predict", two_images), 400, "invalid_field");
}

TEST_F(ServerTest, EveryErrorIsJsonWithTheRightStatus) {
  auto c = client();
  expect_error(c.Post("/v1/predict", "{not json", "application/json"), 400, "invalid_json");
  expect_error(c.Post("/v1/predict", R"({"text": 5})", "application/json"), 400, "invalid_field");
  expect_error(c.Post("/v1/predict", R"({"image": "***"})", "application/json"), 400, "bad_base64");
  expect_error(c.Post("/v1/predict", "{}", "application/json"), 422, "empty_post");
  // Invalid UTF-8 inside JSON is a JSON error (in a multipart text field it is the model's: test_serve_models).
  expect_error(c.Post("/v1/predict", std::string("{\"text\": \"bad \xff\"}"), "application/json"), 400,
               "invalid_json");
  expect_error(c.Post("/v1/predict", "", "text/plain"), 422, "empty_post");
  expect_error(c.Post("/v1/predict", std::string(600 * 1024, 'x'), "application/json"), 413, "payload_too_large");
  expect_error(c.Get("/v1/predict"), 405, "method_not_allowed");
  EXPECT_EQ(c.Get("/v1/predict")->get_header_value("Allow"), "POST");
  expect_error(c.Delete("/healthz"), 405, "method_not_allowed");
  expect_error(c.Get("/no/such/thing"), 404, "not_found");
  expect_error(c.Post("/v1/predict/batch", R"({"a": 1})", "application/json"), 400, "invalid_json");
  expect_error(c.Post("/v1/predict/batch", "[]", "application/json"), 422, "empty_post");
  expect_error(c.Post("/v1/predict/batch", json(std::vector<json>(9, {{"text", "hi"}})).dump(), "application/json"), 413,
               "batch_too_large");
}

namespace {
std::string gzip(const std::string& plain) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);  // 31: gzip wrapper
  std::string out(deflateBound(&z, plain.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = uInt(plain.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}
}  // namespace

// A JSON body nested 100,000 deep (200 kB, under the cap) once crashed the server when its id was
// echoed back; now nesting has a limit, and ids are strings or numbers.
TEST_F(ServerTest, DeeplyNestedJsonIsRefusedAndIdsAreStringsOrNumbers) {
  auto c = client();
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expect_error(c.Post("/v1/predict/batch", R"([{"text": "hi", "id": )" + deep + "}]", "application/json"), 400,
               "invalid_json");
  expect_error(c.Post("/v1/predict", R"({"text": "hi", "id": )" + deep + "}", "application/json"), 400, "invalid_json");
  auto r = c.Post("/v1/predict/batch", R"([{"id": [[1]], "text": "hi"}, {"id": 7, "text": "hi"}, {"id": "x", "text": "hi"}])",
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto results = json::parse(r->body)["results"];
  EXPECT_EQ(results[0]["error"]["code"], "invalid_field");
  EXPECT_FALSE(results[0].contains("id"));
  EXPECT_EQ(results[1]["id"], "7");
  EXPECT_EQ(results[2]["id"], "x");
  EXPECT_EQ(c.Get("/healthz")->status, 200);
}

// The 512 kB cap once held only for a Content-Length: a chunked body was read whole, a gzip one
// inflated whole. Decoded bytes count, and reading stops at the cap.
TEST_F(ServerTest, BodyCapHoldsForChunkedAndCompressedBodies) {
  const std::string big = "[" + std::string(600 * 1024, ' ') + "]";
  {
    auto c = client();
    auto r = c.Post(
        "/v1/predict/batch",
        [&](size_t offset, httplib::DataSink& sink) {
          if (offset >= big.size()) {
            sink.done();
            return true;
          }
          const size_t n = std::min<size_t>(64 * 1024, big.size() - offset);
          return sink.write(big.data() + offset, n);
        },
        "application/json");
    expect_error(r, 413, "payload_too_large");
  }
  {
    auto c = client();
    const auto packed = gzip(big);
    ASSERT_LT(packed.size(), 10'000u);
    httplib::Headers headers{{"Content-Encoding", "gzip"}};
    expect_error(c.Post("/v1/predict/batch", headers, packed, "application/json"), 413, "payload_too_large");
    // Under the cap, a compressed body is read as usual.
    auto ok = c.Post("/v1/predict", headers, gzip(R"({"text": "what a wonderful day"})"), "application/json");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << ok->body;
  }
  auto c = client();
  EXPECT_EQ(c.Get("/healthz")->status, 200);
}

namespace {
// A raw TCP connection to the server (-1 on failure), for what httplib's client cannot send.
int connect_loopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  close(fd);
  return -1;
}
// A raw client that sends `head`, then `byte` every 100 ms (for at most 10 s) until the server
// answers; it stops writing as soon as the answer is there, then reads it until the server closes.
struct Trickled {
  std::string answer;
  std::chrono::steady_clock::duration waited;
};
Trickled trickle(int port, const std::string& head, char byte) {
  const int fd = connect_loopback(port);
  EXPECT_GE(fd, 0) << "no connection";
  EXPECT_EQ(send(fd, head.data(), head.size(), MSG_NOSIGNAL), ssize_t(head.size()));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) break;  // answered
    if (send(fd, &byte, 1, MSG_NOSIGNAL) != 1) break;
  }
  Trickled out{"", std::chrono::steady_clock::now() - start};
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) out.answer.append(buf, size_t(n));
  close(fd);
  return out;
}
}  // namespace

// A client that trickles its body is cut off at the body deadline (1.5 s here), freeing its thread.
TEST_F(ServerTest, SlowBodiesAreCutOffAtTheDeadline) {
  const auto t = trickle(port_,
                         "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 100\r\n\r\n",
                         ' ');  // 10 s for the body
  EXPECT_EQ(t.answer.rfind("HTTP/1.1 408", 0), 0u) << t.answer;
  EXPECT_NE(t.answer.find("slow_request"), std::string::npos) << t.answer;
  EXPECT_LT(t.waited, std::chrono::milliseconds(3500));
}

// A client still sending when its body is refused at the cap gets the one 413 it was sent, and the
// connection ends there. httplib alone read on and took the rest of the body for further requests
// (answering 414 and 400 to it); and closing a socket with unread input answers with a reset that
// can throw the 413 away, so the server drains what still comes before it closes.
TEST_F(ServerTest, ARefusedBodyStillSendingGetsItsAnswerNotAReset) {
  const int fd = connect_loopback(port_);
  ASSERT_GE(fd, 0);
  auto send_all = [&](const std::string& bytes) {
    for (size_t at = 0; at < bytes.size();) {
      const auto n = send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return false;
      at += size_t(n);
    }
    return true;
  };
  const std::string chunk = fmt::format("{:x}\r\n{}\r\n", 600 * 1024, std::string(600 * 1024, ' '));
  ASSERT_TRUE(send_all("POST /v1/predict/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n" + chunk));
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10'000), 1) << "no answer in 10 s";
  // The answer is in; the client, not yet reading, sends more of its body, then reads.
  EXPECT_TRUE(send_all(chunk + "0\r\n\r\n"));
  std::string answer;
  char buf[4096];
  const auto start = std::chrono::steady_clock::now();
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, size_t(n));
  close(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3)) << "the server kept the connection";
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  EXPECT_NE(answer.find("payload_too_large"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << "more than one answer: " << answer;
}

// A client that trickles its request line and headers is cut off at the header deadline (1.5 s
// here); httplib alone bounded only each read, so a byte every few seconds held a thread forever.
TEST_F(ServerTest, SlowHeadersAreCutOffAtTheDeadline) {
  const auto t = trickle(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 'X');  // the headers never end
  EXPECT_EQ(t.answer.rfind("HTTP/1.1 408", 0), 0u) << t.answer;
  EXPECT_NE(t.answer.find("slow_request"), std::string::npos) << t.answer;
  EXPECT_GT(t.waited, std::chrono::milliseconds(1000));
  EXPECT_LT(t.waited, std::chrono::milliseconds(3500));
  EXPECT_EQ(client().Get("/healthz")->status, 200);
}


// A wrongly typed field is the client's fault: a 400 naming the field, never a 500.
TEST_F(ServerTest, WronglyTypedFieldsAre400NotInternalErrors) {
  auto c = client();
  auto r = c.Post("/v1/predict", R"({"text": "hi", "explain": "yes"})", "application/json");
  expect_error(r, 400, "invalid_field");
  EXPECT_NE(r->body.find("explain"), std::string::npos) << r->body;
  expect_error(c.Post("/v1/predict", R"({"text": ["a"]})", "application/json"), 400, "invalid_field");
  expect_error(c.Post("/v1/predict", R"([1, 2])", "application/json"), 400, "invalid_json");
  // Every code the server answers with has its status in the one table.
  for (const auto& k : emopost::kErrorTable) {
    EXPECT_GE(k.http_status, 400) << k.name;
    EXPECT_NE(k.http_status, 0) << k.name;
  }
}

TEST_F(ServerTest, BatchAnswersEveryItemInOrder) {
  auto c = client();
  json posts = json::array({{{"id", "a"}, {"text", "what a lovely surprise"}},
                            {{"id", "b"}, {"image", "@@@"}},
                            {{"id", "c"}, {"image", emopost::io::base64_encode(photo())}},
                            {{"id", "d"}},
                            "not an object"});
  auto r = c.Post("/v1/predict/batch", posts.dump(), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  auto results = json::parse(r->body)["results"];
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0]["id"], "a");
  EXPECT_TRUE(results[0].contains("label"));
  EXPECT_EQ(results[1]["error"]["code"], "bad_base64");
  EXPECT_EQ(results[1]["id"], "b");
  EXPECT_EQ(results[2]["modalities"], json::array({"image"}));
  EXPECT_EQ(results[2]["id"], "c");
  EXPECT_EQ(results[3]["error"]["code"], "empty_post");
  EXPECT_EQ(results[4]["error"]["code"], "invalid_json");
}

TEST_F(ServerTest, ConcurrentRequestsAreBatchedAndAllAnswered) {
  constexpr int kThreads = 12, kEach = 4;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto c = client();
      for (int i = 0; i < kEach; ++i) {
        auto r = c.Post("/v1/predict", json{{"text", "request " + std::to_string(t * kEach + i) + " makes me happy"}}.dump(),
                        "application/json");
        if (r && r->status == 200 && json::parse(r->body)["label"].is_string()) ++ok;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, kThreads * kEach);
  // Fewer model batches than posts: concurrent requests shared batches.
  auto metrics = client().Get("/metrics")->body;
  auto count_of = [&](const std::string& name) {
    auto p = metrics.find(name + " ");
    return p == std::string::npos ? -1.0 : std::stod(metrics.substr(p + name.size() + 1));
  };
  EXPECT_LT(count_of("emopost_batch_size_count"), count_of("emopost_batch_size_sum"));
}

TEST(MicroBatcher, RefusesWhenTheQueueIsFull) {
  StandInReader predictor;
  emopost::serve::BatcherOptions bo;
  bo.max_batch = 100;
  bo.max_wait = std::chrono::seconds(2);  // holds the first posts while the queue fills
  bo.max_queue = 2;
  emopost::serve::MicroBatcher batcher(predictor, bo);
  auto a = batcher.submit({{"", "one", std::nullopt}}, false);
  auto b = batcher.submit({{"", "two", std::nullopt}}, false);
  expect_error_code([&] { batcher.submit({{"", "three", std::nullopt}}, false); }, "overloaded", "retry");
  EXPECT_TRUE(a.get().front().prediction);
  EXPECT_TRUE(b.get().front().prediction);
  EXPECT_EQ(predictor.posts_read(), 2u);
}

// Jobs submitted from many threads at once are each answered with their own posts, in order.
TEST(MicroBatcher, ManyThreadsEachGetTheirOwnOutcomes) {
  StandInReader predictor;
  emopost::serve::BatcherOptions bo;
  bo.max_batch = 5;
  bo.max_wait = std::chrono::milliseconds(1);
  std::atomic<int> right{0};
  {
    emopost::serve::MicroBatcher batcher(predictor, bo);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i) {
          std::vector<emopost::predict::Post> posts;
          for (int k = 0; k <= i % 3; ++k) posts.push_back({fmt::format("{}-{}-{}", t, i, k), "text", std::nullopt});
          auto out = batcher.submit(posts, i % 7 == 0).get();
          bool all = out.size() == posts.size();
          for (size_t k = 0; all && k < out.size(); ++k) all = out[k].id == posts[k].id && out[k].prediction;
          right += all;
        }
      });
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(right, 8 * 25);
  EXPECT_EQ(predictor.posts_read(), 8u * (9 * 1 + 8 * 2 + 8 * 3));
}

TEST(ServerStartup, ModelsThatFailToLoadStopTheServer) {
  emopost::serve::ServeOptions o;
  o.port = 0;
  emopost::serve::Server s(o, []() -> std::unique_ptr<emopost::predict::PostReader> {
    throw emopost::Error("no models in /nonexistent", emopost::Errc::bad_model);
  });
  s.bind();
  expect_error_code([&] { s.run(); }, "bad_model", "the models failed to load");
  EXPECT_FALSE(s.ready());
}

TEST(ServerStartup, RequestsPastTheTimeoutGet504) {
  emopost::serve::ServeOptions o;
  o.port = 0;
  o.request_timeout = std::chrono::seconds(0);  // no answer can be on time
  o.batcher.max_wait = std::chrono::milliseconds(200);
  emopost::serve::Server s(o, [] { return std::make_unique<StandInReader>(); });
  int port = s.bind();
  std::thread t([&] { s.run(); });
  for (int i = 0; i < 300 && !s.ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  httplib::Client c("127.0.0.1", port);
  auto r = c.Post("/v1/predict", R"({"text": "hello"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "timeout");
  // Its client has gone: the post is dropped, never read by the models.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // past the batcher's 200 ms wait
  auto m = c.Get("/metrics")->body;
  EXPECT_NE(m.find("emopost_cancelled_posts_total 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("emopost_batch_size_count 0\n"), std::string::npos) << m;
  s.stop();
  t.join();
}

TEST(ServerReport, AReportFolderIsServedAndNamedInModels) {
  const auto dir = fs::temp_directory_path() / ("emopost-serve-report-" + std::to_string(::getpid()));
  fs::create_directories(dir / "data");
  std::ofstream(dir / "index.html") << "<html>the report</html>";
  std::ofstream(dir / "data/01-class-counts.csv") << "dataset,label,count\n";
  emopost::serve::ServeOptions o;
  o.port = 0;
  o.report_dir = dir;
  {
    RunningServer server(o, [] { return std::make_unique<StandInReader>(); });
    auto c = http_client(server.port());
    auto page = c.Get("/report/index.html");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_EQ(page->body, "<html>the report</html>");
    EXPECT_EQ(c.Get("/report/data/01-class-counts.csv")->status, 200);
    EXPECT_NE(c.Get("/report/../../etc/passwd")->status, 200);
    EXPECT_EQ(c.Get("/report/missing.html")->status, 404);
    EXPECT_EQ(json::parse(c.Get("/v1/models")->body)["report"], "/report/index.html");
  }
  {
    o.report_dir.clear();
    RunningServer plain(o, [] { return std::make_unique<StandInReader>(); });
    auto c = http_client(plain.port());
    EXPECT_EQ(c.Get("/report/index.html")->status, 404);
    EXPECT_FALSE(json::parse(c.Get("/v1/models")->body).contains("report"));
  }
  fs::remove_all(dir);
}
