// The bad-input catalogue (tests/bad_inputs/cases.json): every case is run against the real
// server, the JSONL reader or the model loader, and must give exactly its code, its HTTP status
// and a message that names the problem. One test per case, so a failure names the case.
#include <torch/torch.h>  // before gtest: torch defines glog-style CHECK macros

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "emopost/core/json.h"
#include "emopost/models/folder.h"
#include "emopost/predict/jsonl.h"
#include "emopost/predict/predictor.h"
#include "emopost/serve/server.h"
#include "running_server.h"
#include "support.h"

using namespace emopost;
using namespace emopost::test;
using nlohmann::json;

namespace {

// JSON strings are UTF-8; "latin1" cases mean their code points below 256 as raw bytes (0xFF).
std::string bytes_of(const std::string& s, bool latin1) {
  if (!latin1) return s;
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) out += char(c);
    else out += char(((c & 0x1F) << 6) | (static_cast<unsigned char>(s[++i]) & 0x3F));  // 2-byte sequences only
  }
  return out;
}

std::string data_of(const json& d, bool latin1) {
  if (d.contains("empty")) return "";
  if (d.contains("bytes")) return bytes_of(d["bytes"].get<std::string>(), latin1);
  if (d.contains("png")) return make_png(d["png"][0].get<uint32_t>(), d["png"][1].get<uint32_t>(), 8, 2, "", 1);
  std::string bytes = read_bytes(kRoot / d["file"].get<std::string>());
  if (d.contains("cut")) bytes.resize(size_t(double(bytes.size()) * d["cut"].get<double>()));
  if (d.contains("flip"))
    for (size_t i = bytes.size() / 2, n = 0; i < bytes.size() && n < d["flip"].get<size_t>(); ++i, ++n) bytes[i] ^= 0x5A;
  return bytes;
}

// ctest runs each case as its own process, several at a time: each case gets a folder of its own.
fs::path scratch(const std::string& what) {
  const auto dir = fs::temp_directory_path() / ("emopost_bad_inputs_" + what + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

class Catalogue : public ::testing::TestWithParam<json> {
 public:
  static int port() { return port_; }
  static void SetUpTestSuite() {
    serve::ServeOptions o;
    o.port = 0;
    server_ = new RunningServer(o, [] {
      predict::PredictorOptions po;
      po.models_dir = kRoot / "models";
      return std::make_unique<predict::Predictor>(po);
    });
    port_ = server_->port();
    ASSERT_TRUE(server_->ready());
  }
  static void TearDownTestSuite() { delete server_; }
  static const predict::Predictor& predictor() {
    static const predict::Predictor p([] {
      predict::PredictorOptions o;
      o.models_dir = kRoot / "models";
      return o;
    }());
    return p;
  }

 protected:
  static inline RunningServer* server_ = nullptr;
  static inline int port_ = 0;
};

void run_api(const json& c) {
  httplib::Client client("127.0.0.1", Catalogue::port());
  client.set_read_timeout(120);
  client.set_write_timeout(120);
  const std::string path = c.value("path", "/v1/predict");
  const bool batch = path == "/v1/predict/batch";
  const bool latin1 = c.value("latin1", false);
  auto send = [&]() -> httplib::Result {
  if (c.value("method", "POST") == "GET") return client.Get(path);
  if (c.contains("parts")) {
    httplib::MultipartFormDataItems items;
    for (const auto& p : c["parts"])
      items.push_back({p["name"], data_of(p["data"], latin1), p["name"] == "image" ? "upload" : "", ""});
    return client.Post(path, items);
  }
    std::string body;
    const std::string type = c.value("content_type", "application/json");
    if (c.contains("json")) body = c["json"].get<std::string>();
    if (c.contains("raw")) body = bytes_of(c["raw"].get<std::string>(), latin1);
    if (c.contains("caption_bytes")) body = R"({"text": ")" + std::string(c["caption_bytes"].get<size_t>(), 'a') + "\"}";
    if (c.contains("deep")) {
      body = R"({"text": "hi", "id": )" + nested(c["deep"].get<size_t>()) + "}";
      if (batch) body = "[" + body + "]";
    }
    if (c.contains("batch_of")) body = json(std::vector<json>(c["batch_of"].get<size_t>(), {{"text", "hi"}})).dump();
    return client.Post(path, body, type);
  };
  auto r = send();
  ASSERT_TRUE(r) << "no response: " << httplib::to_string(r.error());
  const auto& want = c["expect"];
  EXPECT_EQ(r->status, want["status"].get<int>()) << r->body.substr(0, 400);
  if (want["status"] == 200) return;
  auto body = json::parse(r->body);
  EXPECT_EQ(body["error"]["code"], want["code"]) << r->body.substr(0, 400);
  EXPECT_NE(body["error"]["message"].get<std::string>().find(want["message"].get<std::string>()), std::string::npos)
      << body["error"]["message"];
  EXPECT_EQ(error_kind(*parse_errc(want["code"].get<std::string>())).http_status, r->status)
      << "the table and the answer disagree";
}

void run_jsonl(const json& c) {
  const auto dir = scratch("jsonl");
  if (c.contains("fifo")) ASSERT_EQ(mkfifo((dir / c["fifo"].get<std::string>()).c_str(), 0600), 0);
  std::istringstream in(c["line"].get<std::string>() + "\n{\"id\": \"after\", \"text\": \"still read\"}\n");
  std::ostringstream out;
  auto stats = predict::run_jsonl(Catalogue::predictor(), in, out, {dir}, 8, 2, /*progress=*/false);
  fs::remove_all(dir);
  EXPECT_EQ(stats.lines, 2u);
  EXPECT_EQ(stats.errors, 1u);
  std::istringstream lines(out.str());
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  auto j = json::parse(first);
  EXPECT_EQ(j["line"], 1);
  EXPECT_EQ(j["error"]["code"], c["expect"]["code"]) << first;
  EXPECT_NE(j["error"]["message"].get<std::string>().find(c["expect"]["message"].get<std::string>()), std::string::npos)
      << first;
  EXPECT_EQ(json::parse(second)["id"], "after") << "the rest of the file goes on";
}

void run_loader(const json& c) {
  const std::string model = c["model"];
  const auto dir = scratch(model);
  // The folder's own files are copied to be edited; its weights and any ensemble member (a
  // sub-folder) are linked, and so never edited.
  for (const auto& f : fs::directory_iterator(kRoot / "models" / model))
    if (f.is_directory() || (f.path().filename() == "model.safetensors" && !c.contains("cut")))
      fs::create_symlink(f.path(), dir / f.path().filename());
    else fs::copy_file(f.path(), dir / f.path().filename());
  if (c.contains("cut")) fs::resize_file(dir / c["cut"].get<std::string>(), fs::file_size(dir / c["cut"].get<std::string>()) / 2);
  if (c.contains("remove")) fs::remove(dir / c["remove"].get<std::string>());
  auto edit = [&](const char* file, auto&& change) {
    auto j = read_json_file(dir / file);
    change(j);
    write_json_file(dir / file, j);
  };
  if (c.contains("config")) edit("config.json", [&](json& j) { j.update(c["config"]); });
  if (c.contains("tokenizer")) edit("tokenizer_config.json", [&](json& j) { j.update(c["tokenizer"]); });
  if (c.contains("drop_label"))
    edit("config.json", [&](json& j) {
      j["id2label"].erase(c["drop_label"].get<std::string>());
      j.erase("label2id");
    });
  if (c.contains("replace"))
    for (const auto& [file, text] : c["replace"].items()) std::ofstream(dir / file) << text.get<std::string>();
  expect_error_code([&] { model == "text" ? (void)models::load_text_folder(dir) : (void)models::load_face_folder(dir); },
                    c["expect"]["code"], c["expect"]["message"]);
  fs::remove_all(dir);
}

std::vector<json> cases() {
  auto all = read_json_file(kRoot / "tests/bad_inputs/cases.json")["cases"];
  return {all.begin(), all.end()};
}

std::string case_name(const ::testing::TestParamInfo<json>& info) {
  std::string name;
  for (char ch : info.param["name"].get<std::string>()) name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return name;
}

}  // namespace

TEST_P(Catalogue, GivesItsExactError) {
  const auto& c = GetParam();
  const std::string via = c["via"];
  if (via == "api") run_api(c);
  else if (via == "jsonl") run_jsonl(c);
  else if (via == "loader") run_loader(c);
  else FAIL() << "unknown via " << via;
}

INSTANTIATE_TEST_SUITE_P(BadInputs, Catalogue, ::testing::ValuesIn(cases()), case_name);

TEST(BadInputs, TheCatalogueCoversEveryClassWithFortyCasesOrMore) {
  auto all = cases();
  EXPECT_GE(all.size(), 40u);
  std::set<std::string> classes;
  for (const auto& c : all) classes.insert(c["class"].get<std::string>());
  EXPECT_EQ(classes, (std::set<std::string>{"image", "multipart", "text", "request", "jsonl", "model"}));
}
