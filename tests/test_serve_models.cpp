// The HTTP API over the shipped models: what /v1/models shows, and the answers and errors that
// come from the models themselves (the HTTP layer alone is tested in test_server.cpp).
#include "emopost/serve/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include "emopost/io/base64.h"
#include "emopost/predict/predictor.h"
#include "running_server.h"
#include "support.h"

using namespace emopost::test;
using nlohmann::json;

namespace {

class ServeModelsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    emopost::serve::ServeOptions o;
    o.port = 0;
    server_ = new RunningServer(o, [] {
      emopost::predict::PredictorOptions po;
      po.models_dir = kRoot / "models";
      return std::make_unique<emopost::predict::Predictor>(po);
    });
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

TEST_F(ServeModelsTest, ModelsEndpointShowsConfigsCardsAndFusion) {
  auto m = client().Get("/v1/models");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  auto info = json::parse(m->body);
  EXPECT_EQ(info["labels"].size(), 7u);
  EXPECT_EQ(info["text"]["config"]["model_type"], "distilbert");
  EXPECT_EQ(info["face"]["config"]["model_type"], "faceres");
  EXPECT_EQ(info["face"]["mirror_average"], false);  // models/face/config.json's test_time_mirror
  EXPECT_NE(info["text"]["card"].get<std::string>().find("# "), std::string::npos);
  EXPECT_TRUE(info["fusion"].contains("text_weight"));
  EXPECT_EQ(info["version"], "emopost 0.1.0");
}

TEST_F(ServeModelsTest, PredictFromMultipartAndFromJson) {
  auto c = client();
  httplib::MultipartFormDataItems form{{"image", photo(), "face.jpg", "image/jpeg"},
                                       {"text", "best day ever 😂", "", ""}};
  auto r = c.Post("/v1/predict?explain=1", form);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = json::parse(r->body);
  EXPECT_EQ(j["label"], "joy");
  EXPECT_EQ(j["modalities"], json::array({"text", "image"}));
  EXPECT_EQ(j["faces"].size(), 1u);
  EXPECT_FALSE(j["attribution"].empty());

  auto r2 = c.Post("/v1/predict", json{{"text", "so angry"}, {"image", emopost::io::base64_encode(photo())}}.dump(),
                   "application/json");
  ASSERT_EQ(r2->status, 200) << r2->body;
  EXPECT_EQ(json::parse(r2->body)["modalities"].size(), 2u);
  // Text only: the picture abstains and says so.
  auto r3 = c.Post("/v1/predict", R"({"text": "I feel nothing"})", "application/json");
  ASSERT_EQ(r3->status, 200);
  EXPECT_TRUE(json::parse(r3->body)["probabilities"]["image"].is_null());
}

TEST_F(ServeModelsTest, TheModelsErrorsKeepTheirStatus) {
  auto c = client();
  expect_error(c.Post("/v1/predict", R"({"text": "  "})", "application/json"), 422, "empty_post");
  httplib::MultipartFormDataItems bad_utf8{{"text", "bad \xff byte", "", ""}};
  expect_error(c.Post("/v1/predict", bad_utf8), 422, "invalid_utf8");
  httplib::MultipartFormDataItems not_image{{"image", "plain text, not a picture", "a.jpg", "image/jpeg"}};
  expect_error(c.Post("/v1/predict", not_image), 422, "bad_image");
  httplib::MultipartFormDataItems bomb{{"image", make_png(100000, 100000, 8, 2, "", 1), "b.png", "image/png"}};
  expect_error(c.Post("/v1/predict", bomb), 413, "image_too_large");
  auto r = c.Post("/v1/predict/batch",
                  json::array({{{"id", "a"}, {"text", "what a lovely surprise"}},
                               {{"id", "c"}, {"image", emopost::io::base64_encode(photo())}}}).dump(),
                  "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  auto results = json::parse(r->body)["results"];
  EXPECT_EQ(results[0]["modalities"], json::array({"text"}));
  EXPECT_EQ(results[1]["modalities"], json::array({"image"}));
  EXPECT_EQ(results[1]["faces"].size(), 1u);
}
