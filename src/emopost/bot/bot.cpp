#include "emopost/bot/bot.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "emopost/bot/reply.h"
#include "emopost/bot/state.h"
#include "emopost/core/error.h"
#include "emopost/serve/prometheus.h"

namespace emopost::bot {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

bool final_status(Status s) { return s == Status::done || s == Status::failed || s == Status::skipped; }

// One reply's worth of work: a message, or the parts of an album.
struct Job {
  std::vector<Message> parts;
  bool text_sent = false;  // a restart found its text reply sent, its photo not
  Clock::time_point received;
  std::vector<int64_t> ids() const {
    std::vector<int64_t> out;
    for (const auto& m : parts) out.push_back(m.update_id);
    return out;
  }
};

struct Album {
  Job job;
  Clock::time_point first, last;
};

// What a reply says and shows.
struct Composed {
  std::string text;
  std::vector<std::pair<std::string, std::vector<predict::Face>>> photos;  // picture bytes and its faces
  std::string failure;  // the post could not be read: why, for its failed row (the reply apologises)
};

// Keeps messages about one a second per chat and `global` a second in all, by spacing them.
class RateLimiter {
 public:
  RateLimiter(double per_chat, double global) : per_chat_(per_chat), global_(global) {}
  void acquire(int64_t chat) {
    Clock::time_point at;
    {
      std::lock_guard lock(mutex_);
      at = std::max({Clock::now(), chat_next_[chat], global_next_});
      if (per_chat_ > 0) chat_next_[chat] = at + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1 / per_chat_));
      if (global_ > 0) global_next_ = at + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1 / global_));
      if (chat_next_.size() > 100'000) chat_next_.clear();  // old chats' slots have long passed
    }
    std::this_thread::sleep_until(at);
  }

 private:
  double per_chat_, global_;
  std::mutex mutex_;
  std::map<int64_t, Clock::time_point> chat_next_;
  Clock::time_point global_next_{};
};

}  // namespace

struct Bot::Impl {
  BotOptions opt;
  const predict::PostReader& reader;
  fusion::FusionModel fusion;
  TelegramApi api;
  StateStore store;
  Identity me;
  std::string about;
  RateLimiter rate;

  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::condition_variable cv;
  std::set<int64_t> open;      // updates gathered, queued or being answered
  int64_t next_offset = 0;     // one past the highest update seen in this run
  std::map<std::pair<int64_t, std::string>, Album> albums;
  std::map<int64_t, std::deque<Job>> chat_jobs;
  std::deque<int64_t> ready;   // chats with a job to start, none running
  bool workers_quit = false;
  std::set<std::string> unknown_kinds;  // update kinds skipped, each logged once (the poll thread's)
  uint64_t completions = 0;  // jobs answered, so the poller misses no wake-up

  // Metrics.
  mutable std::mutex metrics_mutex;
  std::map<std::string, uint64_t> updates_by_kind, errors_by_kind;
  std::atomic<uint64_t> replies{0}, retries{0};
  std::atomic<uint64_t> ambiguous_retries{0};  // sends retried after Telegram may have taken them
  serve::Histogram latency{{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};

  Impl(BotOptions o, const predict::PostReader& r, fusion::FusionModel f)
      : opt(std::move(o)), reader(r), fusion(std::move(f)), api(opt.api), store(opt.state_file),
        rate(opt.chat_rate, opt.global_rate) {}

  std::string mask(const std::string& s) const { return mask_token(s, opt.api.token); }

  void count_error(const std::string& kind) {
    std::lock_guard lock(metrics_mutex);
    ++errors_by_kind[kind];
  }

  milliseconds backoff(int attempt) const {
    thread_local std::mt19937 rng{std::random_device{}()};
    const double full = std::min(double(opt.backoff_cap.count()), opt.backoff_base.count() * std::pow(2.0, attempt - 1));
    return milliseconds(int64_t(full * std::uniform_real_distribution<double>(0.5, 1.0)(rng)));
  }

  // Runs a call, retrying 429s after their retry_after and transient failures with backoff.
  template <class F>
  auto with_retries(F&& f, const char* what) -> decltype(f()) {
    for (int attempt = 1;; ++attempt) {
      try {
        return f();
      } catch (const ApiError& e) {
        if (!e.retryable() || attempt >= opt.max_attempts) throw;
        ++retries;
        // A send Telegram may already have taken: retrying may deliver it twice. Counted, not hidden.
        const std::string_view call = what;
        if (e.maybe_delivered && (call == "sendMessage" || call == "sendPhoto")) ++ambiguous_retries;
        const auto wait = e.failure == Failure::rate_limited ? milliseconds(1000 * e.retry_after_s) : backoff(attempt);
        spdlog::warn("{} failed ({}); retry {} in {} ms", what, mask(e.what()), attempt, wait.count());
        std::this_thread::sleep_for(wait);
      }
    }
  }

  // Waits up to `d`, waking early on stop(); false once stopping.
  bool pause(milliseconds d) {
    std::unique_lock lock(mutex);
    cv.wait_for(lock, d, [&] { return stopping.load(); });
    return !stopping;
  }

  void start() {
    for (int attempt = 1;; ++attempt) {
      try {
        api.call("deleteWebhook", {{"drop_pending_updates", false}}, {}, &stopping);
        auto got = api.call("getMe", json::object(), {}, &stopping);
        me.id = got.value("id", int64_t(0));
        me.username = got.value("username", "");
        break;
      } catch (const ApiError& e) {
        if (e.failure == Failure::cancelled) return;
        if (!e.retryable())
          throw Error(mask(fmt::format("the Bot API refused to start the bot: {}", e.what())), Errc::invalid_input);
        spdlog::warn("cannot reach the Bot API ({}); retrying", mask(e.what()));
        if (!pause(backoff(std::min(attempt, 10)))) return;
      }
    }
    about = about_text(reader.info());
    spdlog::info("bot @{} polling {}", me.username, opt.api.api_url);
  }

  // ---- polling ----------------------------------------------------------------------------------

  void poll() {
    int failures = 0;
    auto next_prune = Clock::now();
    while (!stopping) {
      if (Clock::now() >= next_prune) {
        const auto before = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch() -
                                                          opt.keep_finished).count();
        if (const auto gone = store.prune(before)) spdlog::info("state: forgot {} updates finished over {} h ago", gone,
                                                                 opt.keep_finished.count());
        next_prune = Clock::now() + std::chrono::hours(1);
      }
      int64_t offset;
      bool busy;
      uint64_t seen_completions;
      {
        std::unique_lock lock(mutex);
        cv.wait_for(lock, milliseconds(200), [&] { return stopping || open.size() < opt.max_open; });
        if (stopping) break;
        if (open.size() >= opt.max_open) continue;
        // Confirm only what is answered: the offset stops at the oldest update still open.
        offset = open.empty() ? next_offset : std::min(*open.begin(), next_offset);
        busy = !open.empty();
        seen_completions = completions;
      }
      json params = {{"timeout", busy ? 0 : opt.poll_timeout_s},
                     {"allowed_updates", {"message", "edited_message"}}};
      if (offset > 0) params["offset"] = offset;
      json updates;
      try {
        updates = api.call("getUpdates", params, milliseconds(1000 * (busy ? 0 : opt.poll_timeout_s)) + opt.api.timeout,
                           &stopping);
        if (!updates.is_array()) throw ApiError(Failure::transient, "getUpdates: the result is not a list");
        failures = 0;
      } catch (const ApiError& e) {
        if (e.failure == Failure::cancelled) break;
        ++retries;
        count_error(failure_name(e.failure));
        const auto wait = e.failure == Failure::rate_limited ? milliseconds(1000 * e.retry_after_s) : backoff(++failures);
        spdlog::warn("getUpdates failed ({}); retrying in {} ms", mask(e.what()), wait.count());
        if (!pause(wait)) break;
        continue;
      }
      const bool fresh = take(updates);
      // While updates are open, Telegram hands them back at once (they are not confirmed), so the
      // poll cannot wait there: it waits here for an answer to finish, polling every 50 ms for new
      // updates meanwhile.
      if (busy && !fresh) {
        std::unique_lock lock(mutex);
        cv.wait_for(lock, milliseconds(50), [&] { return stopping || completions != seen_completions; });
      }
    }
  }

  // Records and queues the updates not seen before; true when there was one.
  bool take(const json& updates) {
    std::vector<Arrival> arrivals;
    std::vector<int64_t> skipped;
    std::vector<std::pair<Message, bool>> messages;  // with "text reply already sent"
    for (const auto& u : updates) {
      if (!u.is_object() || !u.contains("update_id") || !u["update_id"].is_number_integer()) {
        spdlog::warn("skipping an update without an update_id");
        count_error("malformed_update");
        continue;
      }
      const int64_t id = u["update_id"].get<int64_t>();
      {
        std::lock_guard lock(mutex);
        if (id < next_offset) continue;  // seen in this run
        next_offset = id + 1;
      }
      const auto known = store.status(id);
      if (known && final_status(*known)) continue;  // answered before a restart, not yet confirmed
      std::optional<Message> m;
      try {
        m = read_update(u, me, opt.files);
      } catch (const Error& e) {
        spdlog::warn("skipping a malformed update: {}", mask(e.what()));
        count_error("malformed_update");
        arrivals.push_back({id, 0, "malformed"});
        skipped.push_back(id);
        continue;
      }
      if (!m) {  // a kind of update the bot does not read (a poll, a channel post, ...): skipped, logged once
        std::string kind = "other";
        for (const auto& [k, v] : u.items())
          if (k != "update_id") kind = k;
        if (unknown_kinds.insert(kind).second) spdlog::info("skipping updates of kind \"{}\", which the bot does not read", kind);
        arrivals.push_back({id, 0, kind});
        skipped.push_back(id);
        continue;
      }
      {
        std::lock_guard lock(metrics_mutex);
        ++updates_by_kind[m->edited ? "edited_" + m->kind : m->kind];
      }
      arrivals.push_back({id, m->chat_id, m->kind});
      if (!m->addressed && m->media_group_id.empty()) skipped.push_back(id);
      else messages.emplace_back(std::move(*m), known == Status::answered);
    }
    store.received(arrivals);
    if (!skipped.empty()) store.set_status(skipped, Status::skipped);
    const auto now = Clock::now();
    for (auto& [m, sent] : messages) {
      std::lock_guard lock(mutex);
      open.insert(m.update_id);
      if (!m.media_group_id.empty()) {
        auto& a = albums[{m.chat_id, m.media_group_id}];
        if (a.job.parts.empty()) a.first = now, a.job.received = now;
        a.last = now;
        a.job.text_sent = a.job.text_sent || sent;
        a.job.parts.push_back(std::move(m));
        cv.notify_all();  // the album timer takes the new due time
        continue;
      }
      // A chat's album is answered before the message that follows it.
      for (auto it = albums.begin(); it != albums.end();)
        if (it->first.first == m.chat_id) enqueue(std::move(it->second.job)), it = albums.erase(it);
        else ++it;
      Job job;
      job.parts.push_back(std::move(m));
      job.text_sent = sent;
      job.received = now;
      enqueue(std::move(job));
    }
    return !arrivals.empty();
  }

  // Albums are queued by a timer of their own, not by the poll loop: that loop waits while
  // `max_open` updates are open, and album parts count as open, so albums flushed there could wedge
  // it for good (issue 39).
  void album_timer() {
    std::unique_lock lock(mutex);
    while (!stopping && !workers_quit) cv.wait_for(lock, flush_albums());
  }

  // Under `mutex`. Queues the albums that are complete; returns how long until the next is due.
  milliseconds flush_albums() {
    const auto now = Clock::now();
    milliseconds next = opt.album_gap;
    for (auto it = albums.begin(); it != albums.end();) {
      const auto due = std::min(it->second.last + opt.album_gap, it->second.first + opt.album_cap);
      if (due <= now) {
        enqueue(std::move(it->second.job));
        it = albums.erase(it);
      } else {
        next = std::min(next, std::chrono::duration_cast<milliseconds>(due - now) + milliseconds(1));
        ++it;
      }
    }
    return next;
  }

  // Under `mutex`.
  void enqueue(Job job) {
    const bool addressed = std::any_of(job.parts.begin(), job.parts.end(), [](const Message& m) { return m.addressed; });
    if (!addressed) {  // an album in a group, none of its parts meant for the bot
      store.set_status(job.ids(), Status::skipped);
      for (auto id : job.ids()) open.erase(id);
      return;
    }
    const int64_t chat = job.parts.front().chat_id;
    auto& q = chat_jobs[chat];
    q.push_back(std::move(job));
    if (q.size() == 1) ready.push_back(chat);  // else the chat is running or already ready
    cv.notify_all();
  }

  // ---- answering --------------------------------------------------------------------------------

  void work() {
    for (;;) {
      Job job;
      int64_t chat;
      {
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return workers_quit || !ready.empty(); });
        if (workers_quit) return;
        chat = ready.front();
        ready.pop_front();
        job = chat_jobs[chat].front();  // stays queued (so the chat is busy) until answered
      }
      try {
        answer(job);
      } catch (const std::exception& e) {
        fail(job, e);
      }
      std::lock_guard lock(mutex);
      auto& q = chat_jobs[chat];
      q.pop_front();
      if (q.empty()) chat_jobs.erase(chat);
      else ready.push_back(chat);
      for (auto id : job.ids()) open.erase(id);
      ++completions;
      cv.notify_all();
    }
  }

  struct Fetched {
    std::string bytes, problem;  // the picture, or why there is none (in the user's words)
  };
  Fetched fetch(const FileRef& f) {
    try {
      auto file = with_retries([&] { return api.call("getFile", {{"file_id", f.file_id}}); }, "getFile");
      const int64_t size = file.value("file_size", int64_t(0));
      if (size > opt.files.max_bytes)
        return {"", fmt::format("the file is {:.1f} MB, over the {} MB that bots may download", double(size) / (1 << 20),
                                opt.files.max_bytes >> 20)};
      if (!file.contains("file_path") || !file["file_path"].is_string()) return {"", "Telegram gave no path to download the file"};
      const std::string path = file["file_path"].get<std::string>();
      return {with_retries([&] { return api.download(path, size_t(opt.files.max_bytes)); }, "download"), ""};
    } catch (const ApiError& e) {
      count_error(std::string("download_") + failure_name(e.failure));
      // The Bot API itself refuses files over 20 MB: "Bad Request: file is too big".
      const bool too_big = e.failure == Failure::too_large ||
                           (e.failure == Failure::rejected && std::string(e.what()).find("too big") != std::string::npos);
      if (too_big) return {"", fmt::format("the file is over the {} MB that bots may download", opt.files.max_bytes >> 20)};
      return {"", "the picture could not be downloaded (" + mask(e.what()) + ")"};
    }
  }

  Composed compose(const Job& job) {
    const Message& m = job.parts.front();
    if (job.parts.size() == 1 && m.media_group_id.empty()) {
      if (!m.command.empty()) {
        if (m.command == "start" || m.command == "help") return {help_text(), {}};
        if (m.command == "privacy") return {privacy_text(), {}};
        if (m.command == "about") return {about, {}};
        return {fmt::format("I don't know /{}.\n\n{}", m.command, help_text()), {}};
      }
      if (m.kind != "photo" && m.kind != "document" && m.kind != "text") return {unsupported_text(m.kind), {}};
    }
    // A post: its caption and every picture, read as one.
    std::optional<std::string> caption;
    bool explain = false, edited = false;
    std::vector<std::string> images;
    std::string problem;
    for (const auto& part : job.parts) {
      if (part.text && !caption) caption = part.text;
      explain = explain || part.explain;
      edited = edited || part.edited;
      if (!part.image_problem.empty()) problem = part.image_problem;
      if (!part.image) continue;
      auto got = fetch(*part.image);
      if (got.problem.empty()) images.push_back(std::move(got.bytes));
      else problem = got.problem;
    }
    if (caption && caption->find_first_not_of(" \t\r\n") == std::string::npos) caption.reset();
    if (!problem.empty() && images.empty()) return {apology(problem), {}, problem};
    if (!caption && images.empty())
      return {"Send me a photo with a caption, a photo or some text, and I'll tell you its emotion.", {}};
    std::vector<predict::Post> posts;
    const bool album = images.size() > 1;
    if (!album) {
      posts.push_back({std::to_string(m.update_id), caption, images.empty() ? std::nullopt : std::optional(images[0])});
    } else {
      if (caption) posts.push_back({"caption", caption, std::nullopt});
      for (size_t i = 0; i < images.size(); ++i) posts.push_back({fmt::format("picture {}", i + 1), std::nullopt, images[i]});
    }
    auto outcomes = reader.predict_many(posts, explain);
    predict::Outcome outcome = album ? merge_album(outcomes, caption.has_value(), fusion) : outcomes.front();
    if (!outcome.prediction) return {apology(outcome.error_message), {}, outcome.error_message};
    Composed c{verdict_text(*outcome.prediction, explain, edited), {}};
    if (!problem.empty()) c.text += "\nOne picture was left out: " + problem;
    if (opt.send_photos)
      for (size_t i = 0; i < images.size(); ++i) {
        const auto& o = outcomes[album && caption ? i + 1 : i];
        if (o.prediction && !o.prediction->faces.empty()) c.photos.emplace_back(images[i], o.prediction->faces);
      }
    return c;
  }

  // A reply quotes the message it answers, and is sent even if that message is gone.
  static json reply_parameters(const Message& m) {
    return {{"message_id", m.message_id}, {"allow_sending_without_reply", true}};
  }

  // A text reply to `m`, within the chat's rate, retried as with_retries says; its message id.
  int64_t send_text(const Message& m, const std::string& text) {
    rate.acquire(m.chat_id);
    const auto sent = with_retries(
        [&] { return api.call("sendMessage", {{"chat_id", m.chat_id}, {"text", text}, {"reply_parameters", reply_parameters(m)}}); },
        "sendMessage");
    return sent.value("message_id", int64_t(0));
  }

  void answer(const Job& job) {
    const Message& m = job.parts.front();
    const auto ids = job.ids();
    Composed c = compose(job);
    const json reply_to = reply_parameters(m);
    if (!job.text_sent) {
      try {
        const int64_t reply_id = send_text(m, c.text);
        ++replies;
        latency.observe(std::chrono::duration<double>(Clock::now() - job.received).count());
        const Status status = !c.failure.empty() ? Status::failed : c.photos.empty() ? Status::done : Status::answered;
        store.set_status(ids, status, reply_id, mask(c.failure));
      } catch (const ApiError& e) {
        // Blocked by the user, a rejected request, or retries spent: recorded, not retried forever.
        spdlog::warn("no reply to update {} in chat {}: {}", m.update_id, m.chat_id, mask(e.what()));
        count_error(std::string("send_") + failure_name(e.failure));
        store.set_status(ids, Status::failed, {}, mask(e.what()));
        return;
      }
    }
    for (const auto& [image, faces] : c.photos) {
      try {
        const std::string jpeg = draw_faces(image, faces);
        rate.acquire(m.chat_id);
        with_retries([&] { return api.send_photo({{"chat_id", m.chat_id}, {"reply_parameters", reply_to}}, jpeg); },
                     "sendPhoto");
      } catch (const std::exception& e) {
        spdlog::warn("the boxed photo for update {} was not sent: {}", m.update_id, mask(e.what()));
        count_error("send_photo");
      }
    }
    if (!c.photos.empty()) store.set_status(ids, Status::done);
  }

  // Whatever went wrong while answering (a model error, memory, SQLite, an answer of Telegram's not
  // shaped as documented), the user hears so and the update's row says why: it is never confirmed
  // to Telegram with neither a reply nor a failure recorded.
  void fail(const Job& job, const std::exception& e) {
    const Message& m = job.parts.front();
    const auto* err = dynamic_cast<const Error*>(&e);
    const ErrorKind& kind = err ? err->kind() : error_kind(Errc::internal);
    spdlog::error("answering update {} failed [{}]: {}", m.update_id, kind.name, mask(e.what()));
    count_error(std::string(kind.name));
    std::optional<int64_t> reply_id;
    try {
      reply_id = send_text(m, apology(std::string(kind.meaning)));
    } catch (const std::exception& send) {
      spdlog::warn("no apology for update {} in chat {}: {}", m.update_id, m.chat_id, mask(send.what()));
    }
    try {
      store.set_status(job.ids(), Status::failed, reply_id, fmt::format("{}: {}", kind.name, mask(e.what())));
    } catch (const std::exception& store_error) {
      spdlog::error("update {}: its failure was not recorded: {}", m.update_id, mask(store_error.what()));
    }
  }

  // After the poller stops: a last getUpdates confirms what was answered.
  void confirm() {
    int64_t offset;
    {
      std::lock_guard lock(mutex);
      offset = open.empty() ? next_offset : std::min(*open.begin(), next_offset);
    }
    if (offset <= 0) return;
    try {
      api.call("getUpdates", {{"offset", offset}, {"timeout", 0}, {"limit", 1}}, milliseconds(5000));
    } catch (const ApiError& e) {
      spdlog::warn("could not confirm the answered updates ({}); Telegram will hand them back, and they are skipped",
                   mask(e.what()));
    }
  }
};

Bot::Bot(BotOptions options, const predict::PostReader& reader, fusion::FusionModel fusion)
    : impl_(std::make_unique<Impl>(std::move(options), reader, std::move(fusion))) {}

Bot::~Bot() = default;

void Bot::stop() {
  impl_->stopping = true;
  impl_->cv.notify_all();
}

void Bot::run() {
  auto& m = *impl_;
  m.start();
  std::vector<std::thread> workers;
  for (int i = 0; i < std::max(1, m.opt.workers); ++i) workers.emplace_back([&m] { m.work(); });
  std::thread albums([&m] { m.album_timer(); });
  m.poll();
  {
    std::lock_guard lock(m.mutex);
    m.workers_quit = true;  // each finishes the reply it is sending; queued ones wait for the next run
  }
  m.cv.notify_all();
  albums.join();
  for (auto& w : workers) w.join();
  m.confirm();
  spdlog::info("bot stopped: {} replies sent in this run", m.replies.load());
}

std::string Bot::metrics() const {
  const auto& m = *impl_;
  std::string out;
  auto counter = [&](const char* name, const char* help, const std::map<std::string, uint64_t>& by, const char* label) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name, help, name);
    for (const auto& [k, n] : by) out += fmt::format("{}{{{}=\"{}\"}} {}\n", name, label, k, n);
  };
  {
    std::lock_guard lock(m.metrics_mutex);
    counter("emopost_bot_updates_total", "Updates received, by kind.", m.updates_by_kind, "kind");
    counter("emopost_bot_errors_total", "Errors, by kind.", m.errors_by_kind, "kind");
  }
  out += fmt::format("# HELP emopost_bot_replies_total Replies sent.\n# TYPE emopost_bot_replies_total counter\n"
                     "emopost_bot_replies_total {}\n",
                     m.replies.load());
  out += fmt::format("# HELP emopost_bot_retries_total Calls retried after a 429, 5xx, timeout or lost connection.\n"
                     "# TYPE emopost_bot_retries_total counter\nemopost_bot_retries_total {}\n",
                     m.retries.load());
  out += fmt::format("# HELP emopost_bot_ambiguous_retries_total Sends retried after a failure that Telegram may "
                     "have carried out (a timeout, a lost connection, a 5xx): each may be a duplicate reply.\n"
                     "# TYPE emopost_bot_ambiguous_retries_total counter\nemopost_bot_ambiguous_retries_total {}\n",
                     m.ambiguous_retries.load());
  out += m.latency.render("emopost_bot_reply_latency_seconds", "From receiving an update to its reply being accepted.");
  return out;
}

}  // namespace emopost::bot
