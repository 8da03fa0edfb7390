#pragma once
// A fake Telegram Bot API on loopback, for the bot's tests and benchmark. It serves getMe,
// deleteWebhook, getUpdates (long polling, offsets confirming), getFile, file downloads,
// sendMessage and sendPhoto, with JSON shaped as https://core.telegram.org/bots/api documents it
// ({"ok": true, "result": ...}; errors {"ok": false, "error_code", "description", "parameters"}).
// Tests script updates and faults, then read back what the bot sent.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace emopost::test {

class FakeBotApi {
 public:
  using json = nlohmann::json;
  using Clock = std::chrono::steady_clock;
  static constexpr int64_t kBotId = 777;
  static constexpr const char* kBotName = "emopost_test_bot";

  // accept_then_hang: the send is taken (recorded as sent), then the answer never comes in time.
  enum class Fault { rate_limit, server_error, hang, malformed, forbidden, accept_then_hang };

  struct Sent {
    std::string method;  // sendMessage or sendPhoto
    int64_t chat_id = 0;
    std::string text;
    int64_t reply_to = 0;
    int64_t message_id = 0;
    size_t photo_bytes = 0;
    Clock::time_point at;
  };

  explicit FakeBotApi(std::string token) : token_(std::move(token)) {
    server_.Post(R"(/bot([^/]+)/(\w+))", [this](const httplib::Request& req, httplib::Response& res) { method(req, res); });
    server_.Get(R"(/file/bot([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) { file(req, res); });
    server_.set_tcp_nodelay(true);  // as a real server: no 40 ms Nagle stalls on loopback
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeBotApi() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    cv_.notify_all();
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // ---- scripting ----
  // Queues an update carrying `message` (under `key`: message or edited_message); returns its id.
  int64_t push(json message, const std::string& key = "message") {
    std::lock_guard lock(mutex_);
    const int64_t id = next_update_++;
    if (!message.contains("message_id")) message["message_id"] = next_message_++;
    if (!message.contains("date")) message["date"] = 1764900000;
    updates_.push_back({{"update_id", id}, {key, std::move(message)}});
    pushed_[id] = Clock::now();
    cv_.notify_all();
    return id;
  }
  // Queues an update as given (a malformed one, say), with the next update_id.
  int64_t push_raw(json update) {
    std::lock_guard lock(mutex_);
    const int64_t id = next_update_++;
    update["update_id"] = id;
    updates_.push_back(std::move(update));
    cv_.notify_all();
    return id;
  }
  // A file getFile will describe (with `claimed_size`, when given, instead of its real size).
  std::string add_file(std::string bytes, int64_t claimed_size = -1) {
    std::lock_guard lock(mutex_);
    const std::string id = "file" + std::to_string(files_.size() + 1);
    files_[id] = {std::move(bytes), claimed_size};
    return id;
  }
  // The next `count` calls of `method` fail this way.
  void fail_next(const std::string& method, Fault fault, int count = 1) {
    std::lock_guard lock(mutex_);
    for (int i = 0; i < count; ++i) faults_[method].push_back(fault);
  }
  void forbid_chat(int64_t chat) {
    std::lock_guard lock(mutex_);
    forbidden_.push_back(chat);
  }
  std::chrono::milliseconds hang_for{2500};

  // ---- observing ----
  std::vector<Sent> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::vector<Sent> sent(const std::string& method) const {
    std::vector<Sent> out;
    for (auto& s : sent()) if (s.method == method) out.push_back(s);
    return out;
  }
  // Calls of each method, answered or not.
  int calls(const std::string& method) const {
    std::lock_guard lock(mutex_);
    auto it = calls_.find(method);
    return it == calls_.end() ? 0 : it->second;
  }
  int calls_to_chat(int64_t chat) const {
    std::lock_guard lock(mutex_);
    auto it = calls_by_chat_.find(chat);
    return it == calls_by_chat_.end() ? 0 : it->second;
  }
  // Every update below this id has been confirmed (getUpdates was called with a higher offset).
  int64_t confirmed_below() const {
    std::lock_guard lock(mutex_);
    return confirmed_below_;
  }
  int64_t last_update_id() const {
    std::lock_guard lock(mutex_);
    return next_update_ - 1;
  }
  // When each update was first handed to the bot.
  std::map<int64_t, Clock::time_point> delivered() const {
    std::lock_guard lock(mutex_);
    return delivered_;
  }
  // When each scripted update was posted (push).
  std::map<int64_t, Clock::time_point> pushed() const {
    std::lock_guard lock(mutex_);
    return pushed_;
  }
  // The update each reply answered, found from the message it replies to.
  int64_t update_of_message(int64_t message_id) const {
    std::lock_guard lock(mutex_);
    auto it = update_of_message_.find(message_id);
    return it == update_of_message_.end() ? 0 : it->second;
  }
  // Waits until `done()` holds; false after `timeout`.
  bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    const auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }

 private:
  struct File {
    std::string bytes;
    int64_t claimed_size;
  };

  static void reply(httplib::Response& res, const json& result) {
    res.set_content(json{{"ok", true}, {"result", result}}.dump(), "application/json");
  }
  static void error(httplib::Response& res, int code, const std::string& description, json parameters = nullptr) {
    json j = {{"ok", false}, {"error_code", code}, {"description", description}};
    if (!parameters.is_null()) j["parameters"] = parameters;
    res.status = code;
    res.set_content(j.dump(), "application/json");
  }

  // Parameters from a JSON body or a multipart form.
  static json params(const httplib::Request& req) {
    if (req.is_multipart_form_data()) {
      json p = json::object();
      for (const auto& [name, part] : req.files) {
        if (name == "photo") continue;
        auto v = json::parse(part.content, nullptr, false);
        p[name] = v.is_discarded() ? json(part.content) : v;
      }
      return p;
    }
    auto p = json::parse(req.body, nullptr, false);
    return p.is_object() ? p : json::object();
  }

  // A scripted fault for this call, if one is due; true when it answered.
  bool fault(const std::string& method, httplib::Response& res) {
    std::unique_lock lock(mutex_);
    auto& q = faults_[method];
    if (q.empty()) return false;
    const Fault f = q.front();
    q.pop_front();
    switch (f) {
      case Fault::rate_limit:
        error(res, 429, "Too Many Requests: retry after 1", {{"retry_after", 1}});
        return true;
      case Fault::server_error:
        error(res, 500, "Internal Server Error");
        return true;
      case Fault::forbidden:
        error(res, 403, "Forbidden: bot was blocked by the user");
        return true;
      case Fault::malformed:
        res.set_content("{\"ok\": tru", "application/json");
        return true;
      case Fault::hang:
        cv_.wait_for(lock, hang_for, [&] { return closing_; });
        error(res, 500, "Internal Server Error (after hanging)");
        return true;
      case Fault::accept_then_hang:
        accept_then_hang_ = true;  // method() records the send, then hangs
        return false;
    }
    return false;
  }

  void method(const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] != token_) return error(res, 401, "Unauthorized");
    const std::string name = req.matches[2];
    const json p = params(req);
    {
      std::lock_guard lock(mutex_);
      ++calls_[name];
      if (p.contains("chat_id") && p["chat_id"].is_number_integer()) ++calls_by_chat_[p["chat_id"].get<int64_t>()];
    }
    if (fault(name, res)) return;
    if (name == "getMe") return reply(res, {{"id", kBotId}, {"is_bot", true}, {"first_name", "emopost"}, {"username", kBotName}});
    if (name == "deleteWebhook") return reply(res, true);
    if (name == "getUpdates") return get_updates(p, res);
    if (name == "getFile") {
      std::lock_guard lock(mutex_);
      const std::string id = p.value("file_id", "");
      auto it = files_.find(id);
      if (it == files_.end()) return error(res, 400, "Bad Request: invalid file_id");
      const int64_t size = it->second.claimed_size >= 0 ? it->second.claimed_size : int64_t(it->second.bytes.size());
      if (size > (20 << 20)) return error(res, 400, "Bad Request: file is too big");
      return reply(res, {{"file_id", id}, {"file_unique_id", "u" + id}, {"file_size", size}, {"file_path", "photos/" + id + ".jpg"}});
    }
    if (name == "sendMessage" || name == "sendPhoto") {
      Sent s;
      s.method = name;
      s.chat_id = p.value("chat_id", int64_t(0));
      s.text = p.value("text", p.value("caption", ""));
      if (p.contains("reply_parameters") && p["reply_parameters"].is_object())
        s.reply_to = p["reply_parameters"].value("message_id", int64_t(0));
      if (name == "sendPhoto") {
        if (!req.has_file("photo")) return error(res, 400, "Bad Request: there is no photo in the request");
        s.photo_bytes = req.get_file_value("photo").content.size();
      }
      std::unique_lock lock(mutex_);
      if (std::find(forbidden_.begin(), forbidden_.end(), s.chat_id) != forbidden_.end())
        return error(res, 403, "Forbidden: bot was blocked by the user");
      s.message_id = next_message_++;
      s.at = Clock::now();
      sent_.push_back(s);
      if (std::exchange(accept_then_hang_, false))  // taken, but the client's timeout passes before the answer
        cv_.wait_for(lock, hang_for, [&] { return closing_; });
      return reply(res, {{"message_id", s.message_id}, {"chat", {{"id", s.chat_id}, {"type", "private"}}}, {"date", 1764900000}});
    }
    error(res, 404, "Not Found: method not found");
  }

  void get_updates(const json& p, httplib::Response& res) {
    const int64_t offset = p.value("offset", int64_t(0));
    const int timeout = std::clamp(p.value("timeout", 0), 0, 50);
    const size_t limit = size_t(std::clamp(p.value("limit", 100), 1, 100));
    std::unique_lock lock(mutex_);
    // As Telegram does: an offset confirms every update below it, and they are forgotten.
    if (offset > 0) {
      confirmed_below_ = std::max(confirmed_below_, offset);
      while (!updates_.empty() && updates_.front()["update_id"].get<int64_t>() < offset) updates_.pop_front();
    }
    auto pending = [&] {
      return std::any_of(updates_.begin(), updates_.end(), [&](const json& u) { return u["update_id"].get<int64_t>() >= offset; });
    };
    cv_.wait_for(lock, std::chrono::seconds(timeout), [&] { return closing_ || pending(); });
    json out = json::array();
    for (const auto& u : updates_) {
      if (out.size() >= limit) break;
      const int64_t id = u["update_id"].get<int64_t>();
      if (id < offset) continue;
      out.push_back(u);
      delivered_.try_emplace(id, Clock::now());
      for (const char* key : {"message", "edited_message"})
        if (u.contains(key) && u[key].is_object() && u[key].contains("message_id"))
          update_of_message_[u[key]["message_id"].get<int64_t>()] = id;
    }
    reply(res, out);
  }

  void file(const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] != token_) return error(res, 401, "Unauthorized");
    std::string path = req.matches[2];
    std::lock_guard lock(mutex_);
    ++calls_["download"];
    for (const auto& [id, f] : files_)
      if (path == "photos/" + id + ".jpg") return res.set_content(f.bytes, "image/jpeg");
    error(res, 404, "Not Found");
  }

  std::string token_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool closing_ = false;
  std::deque<json> updates_;
  int64_t next_update_ = 1000, next_message_ = 1;
  int64_t confirmed_below_ = 0;
  std::map<std::string, File> files_;
  std::map<std::string, std::deque<Fault>> faults_;
  bool accept_then_hang_ = false;
  std::vector<int64_t> forbidden_;
  std::vector<Sent> sent_;
  std::map<std::string, int> calls_;
  std::map<int64_t, int> calls_by_chat_;
  std::map<int64_t, Clock::time_point> delivered_, pushed_;
  std::map<int64_t, int64_t> update_of_message_;
};

}  // namespace emopost::test
