// The Telegram bot against a fake Bot API on loopback (fake_bot_api.h) and a stand-in reader
// (bot_reader.h): what it answers, in which order, through which faults, and what it keeps.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "bot_reader.h"
#include "emopost/bot/bot.h"
#include "emopost/bot/message.h"
#include "emopost/bot/reply.h"
#include "emopost/bot/state.h"
#include "emopost/core/error.h"
#include "fake_bot_api.h"

namespace fs = std::filesystem;
using namespace emopost;
using namespace emopost::bot;
using json = nlohmann::json;
using test::FakeBotApi;

namespace {

const std::string kToken = "123456789:AAE-test_Secret-Token";

json chat(int64_t id, const std::string& type = "private") {
  json c = {{"id", id}, {"type", type}};
  if (type == "private") c["first_name"] = "Ann";
  else c["title"] = "Friends";
  return c;
}
json from() { return {{"id", 42}, {"is_bot", false}, {"first_name", "Ann"}}; }
json text_message(int64_t chat_id, const std::string& text, const std::string& type = "private") {
  return {{"chat", chat(chat_id, type)}, {"from", from()}, {"text", text}};
}
json photo_sizes(const std::string& small, const std::string& big, int64_t big_size = 5000) {
  return json::array({{{"file_id", small}, {"file_unique_id", "s"}, {"width", 90}, {"height", 90}, {"file_size", 900}},
                      {{"file_id", big}, {"file_unique_id", "b"}, {"width", 800}, {"height", 800}, {"file_size", big_size}}});
}
json photo_message(int64_t chat_id, const std::string& file, const std::optional<std::string>& caption = {}) {
  json m = {{"chat", chat(chat_id)}, {"from", from()}, {"photo", photo_sizes(file, file)}};
  if (caption) m["caption"] = *caption;
  return m;
}

Identity me() { return {FakeBotApi::kBotId, FakeBotApi::kBotName}; }

fs::path temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("emopost-bot-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A bot over the fake API, with timings short enough for tests; logs captured.
struct BotRun {
  FakeBotApi api{kToken};
  test::BotReader reader;
  fs::path dir;
  BotOptions options;
  std::unique_ptr<Bot> bot;
  std::thread thread;
  std::ostringstream log;
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();

  explicit BotRun(const std::string& name) : dir(temp_dir(name)) {
    options.api.api_url = api.url();
    options.api.token = kToken;
    options.api.timeout = std::chrono::milliseconds(1000);
    options.state_file = dir / "state.sqlite";
    options.poll_timeout_s = 1;
    options.album_gap = std::chrono::milliseconds(300);
    options.album_cap = std::chrono::milliseconds(3000);
    options.chat_rate = options.global_rate = 0;
    options.backoff_base = std::chrono::milliseconds(50);
    options.backoff_cap = std::chrono::milliseconds(400);
    options.max_attempts = 4;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("bot-test", sink));
  }
  void start() {
    bot = std::make_unique<Bot>(options, reader);
    thread = std::thread([this] { bot->run(); });
  }
  void stop() {
    if (!thread.joinable()) return;
    bot->stop();
    thread.join();
  }
  ~BotRun() {
    stop();
    spdlog::set_default_logger(previous);
    fs::remove_all(dir);
  }
  // Replies (sendMessage) in the order the fake received them.
  std::vector<FakeBotApi::Sent> messages() const { return api.sent("sendMessage"); }
  bool wait_messages(size_t n, std::chrono::milliseconds t = std::chrono::seconds(20)) {
    return api.wait_for([&] { return messages().size() >= n; }, t);
  }
  std::string state_bytes() const {
    std::string all;
    for (const auto& e : fs::directory_iterator(dir)) {
      std::ifstream in(e.path(), std::ios::binary);
      all += std::string(std::istreambuf_iterator<char>(in), {});
    }
    return all;
  }
};

}  // namespace

// ---- reading updates ----------------------------------------------------------------------------

TEST(BotMessage, PhotoWithCaptionTakesTheLargestSizeWithinTheLimits) {
  json u = {{"update_id", 5}, {"message", {{"message_id", 9}, {"chat", chat(1)}, {"caption", "what a day"},
                                           {"photo", photo_sizes("small", "big", 30 << 20)}}}};
  auto m = read_update(u, me());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, "photo");
  EXPECT_EQ(m->image->file_id, "small");  // the big one is over 20 MB
  EXPECT_EQ(*m->text, "what a day");
  EXPECT_TRUE(m->addressed);
  u["message"]["photo"] = photo_sizes("small", "big");
  EXPECT_EQ(read_update(u, me())->image->file_id, "big");
}

TEST(BotMessage, DocumentsStickersAndEdits) {
  json doc = {{"update_id", 1}, {"message", {{"message_id", 1}, {"chat", chat(1)},
                                             {"document", {{"file_id", "d"}, {"mime_type", "image/png"}, {"file_size", 100}}}}}};
  EXPECT_EQ(read_update(doc, me())->kind, "document");
  EXPECT_EQ(read_update(doc, me())->image->file_id, "d");
  doc["message"]["document"]["mime_type"] = "application/pdf";
  EXPECT_EQ(read_update(doc, me())->kind, "file");
  EXPECT_FALSE(read_update(doc, me())->image);
  doc["message"]["document"] = {{"file_id", "d"}, {"mime_type", "image/jpeg"}, {"file_size", 25 << 20}};
  EXPECT_NE(read_update(doc, me())->image_problem.find("20 MB"), std::string::npos);
  json sticker = {{"update_id", 2}, {"message", {{"message_id", 2}, {"chat", chat(1)}, {"sticker", {{"file_id", "s"}}}}}};
  EXPECT_EQ(read_update(sticker, me())->kind, "sticker");
  json edited = {{"update_id", 3}, {"edited_message", text_message(1, "now I'm sad")}};
  edited["edited_message"]["message_id"] = 3;
  auto e = read_update(edited, me());
  EXPECT_TRUE(e->edited);
  EXPECT_EQ(e->kind, "text");
  EXPECT_FALSE(read_update(json{{"update_id", 4}, {"callback_query", json::object()}}, me()));
}

TEST(BotMessage, InGroupsOnlyMentionsRepliesAndCommandsAreForTheBot) {
  auto group = [](const std::string& text) {
    json m = text_message(-100, text, "supergroup");
    m["message_id"] = 1;
    return json{{"update_id", 1}, {"message", m}};
  };
  EXPECT_FALSE(read_update(group("what a lovely day"), me())->addressed);
  auto mentioned = read_update(group("@Emopost_Test_Bot what a lovely day"), me());
  EXPECT_TRUE(mentioned->addressed);
  EXPECT_EQ(*mentioned->text, "what a lovely day");  // the mention is not read as part of the post
  EXPECT_FALSE(read_update(group("ask @emopost_test_bot_fan"), me())->addressed);
  EXPECT_TRUE(read_update(group("/help"), me())->addressed);
  EXPECT_EQ(read_update(group("/help@emopost_test_bot"), me())->command, "help");
  EXPECT_FALSE(read_update(group("/help@other_bot"), me())->addressed);
  auto reply = group("so true");
  reply["message"]["reply_to_message"] = {{"message_id", 0}, {"from", {{"id", FakeBotApi::kBotId}, {"is_bot", true}}}};
  EXPECT_TRUE(read_update(reply, me())->addressed);
}

TEST(BotMessage, ExplainAsCommandOrCaptionEnding) {
  json u = {{"update_id", 1}, {"message", {{"message_id", 1}, {"chat", chat(1)}, {"text", "I love this /explain"}}}};
  auto m = read_update(u, me());
  EXPECT_TRUE(m->explain);
  EXPECT_EQ(*m->text, "I love this");
  u["message"]["text"] = "/explain I love this";
  m = read_update(u, me());
  EXPECT_TRUE(m->explain);
  EXPECT_TRUE(m->command.empty());
  EXPECT_EQ(*m->text, "I love this");
}

TEST(BotMessage, MalformedUpdatesNameTheProblem) {
  EXPECT_THROW(read_update(json::array(), me()), Error);
  try {
    read_update(json{{"update_id", 7}, {"message", {{"message_id", 1}}}}, me());
    FAIL() << "a message without a chat was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("update 7"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("chat"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_update(json{{"update_id", 8}, {"message", {{"message_id", 1}, {"chat", chat(1)}, {"text", 5}}}}, me()),
               Error);
}

TEST(BotApi, TheTokenIsMaskedInEveryForm) {
  EXPECT_EQ(mask_token("GET /bot" + kToken + "/getMe failed", kToken), "GET /bot<token>/getMe failed");
  EXPECT_EQ(mask_token("url /bot123456789%3AAAE-test_Secret-Token/x", kToken), "url /bot<token>/x");
  EXPECT_EQ(mask_token("nothing here", kToken), "nothing here");
}

TEST(BotApi, ErrorsAreClassifiedAndNeverShowTheToken) {
  FakeBotApi fake(kToken);
  TelegramApi api({fake.url(), kToken, std::chrono::milliseconds(500), std::chrono::milliseconds(500)});
  EXPECT_EQ(api.call("getMe")["username"], FakeBotApi::kBotName);
  auto failure_of = [&](FakeBotApi::Fault f) {
    fake.fail_next("getMe", f);
    try {
      api.call("getMe");
    } catch (const ApiError& e) {
      EXPECT_EQ(std::string(e.what()).find(kToken), std::string::npos) << e.what();
      return std::make_pair(e.failure, e.retry_after_s);
    }
    return std::make_pair(Failure::cancelled, -1);
  };
  EXPECT_EQ(failure_of(FakeBotApi::Fault::rate_limit), std::make_pair(Failure::rate_limited, 1));
  EXPECT_EQ(failure_of(FakeBotApi::Fault::server_error).first, Failure::transient);
  EXPECT_EQ(failure_of(FakeBotApi::Fault::malformed).first, Failure::transient);
  EXPECT_EQ(failure_of(FakeBotApi::Fault::forbidden).first, Failure::forbidden);
  EXPECT_EQ(failure_of(FakeBotApi::Fault::hang).first, Failure::transient);  // the client's timeout
  TelegramApi wrong({fake.url(), "1:wrong", std::chrono::milliseconds(500), std::chrono::milliseconds(500)});
  try {
    wrong.call("getMe");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.failure, Failure::rejected);
    EXPECT_NE(std::string(e.what()).find("401"), std::string::npos) << e.what();
  }
  const auto id = fake.add_file(std::string(3000, 'x'));
  EXPECT_EQ(api.download("photos/" + id + ".jpg", 5000).size(), 3000u);
  try {
    api.download("photos/" + id + ".jpg", 1000);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.failure, Failure::too_large);
  }
}

// ---- state --------------------------------------------------------------------------------------

TEST(BotState, RecordsSurviveReopeningAndKeepNoText) {
  auto dir = temp_dir("state");
  {
    StateStore s(dir / "s.sqlite");
    EXPECT_FALSE(s.last_update_id());
    s.received({{10, 1, "text"}, {11, 1, "photo"}});
    s.received({{10, 1, "text"}});  // again: kept as it was
    s.set_status({10}, Status::done, 555);
    s.set_status({11}, Status::failed, {}, "403 Forbidden");
  }
  StateStore s(dir / "s.sqlite");
  EXPECT_EQ(s.status(10), Status::done);
  EXPECT_EQ(s.status(11), Status::failed);
  EXPECT_FALSE(s.status(12));
  EXPECT_EQ(s.count(Status::done), 1);
  EXPECT_EQ(s.last_update_id(), 11);
  fs::remove_all(dir);
}

TEST(BotState, PruningForgetsOnlyFinishedUpdatesOlderThanTheCutOff) {
  auto dir = temp_dir("prune");
  StateStore s(dir / "s.sqlite");
  s.received({{1, 1, "text"}, {2, 1, "text"}, {3, 2, "photo"}, {4, 2, "sticker"}, {5, 3, "text"}});
  s.set_status({1}, Status::done, 7);
  s.set_status({2}, Status::failed, {}, "403 Forbidden");
  s.set_status({3}, Status::answered, 8);  // its photo reply is still to be sent
  s.set_status({4}, Status::skipped);      // 5 stays received
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_EQ(s.prune(now - 3600), 0) << "nothing finished an hour ago";
  EXPECT_EQ(s.prune(now + 1), 3);
  for (int64_t gone : {1, 2, 4}) EXPECT_FALSE(s.status(gone)) << gone;
  EXPECT_EQ(s.status(3), Status::answered);
  EXPECT_EQ(s.status(5), Status::received);
  fs::remove_all(dir);
}

TEST(BotState, ACorruptFileIsAClearError) {
  auto dir = temp_dir("corrupt");
  std::ofstream(dir / "bad.sqlite") << std::string(4096, 'z');
  try {
    StateStore s(dir / "bad.sqlite");
    FAIL() << "a corrupt state file was opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.sqlite"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

// ---- what it says -------------------------------------------------------------------------------

TEST(BotReply, VerdictTextHasALinePerModality) {
  predict::Prediction p;
  p.text = fusion::Scores{0.01, 0.01, 0.01, 0.9, 0.05, 0.01, 0.01};
  p.fused = *p.text;
  p.label = 3;
  p.confidence = 0.9;
  p.notes = {"No face was found in the picture, so the image abstained."};
  p.attribution = {{"the", -0.02}, {"love", 0.5}, {"day", 0.1}};
  const auto t = verdict_text(p, /*explain=*/true);
  EXPECT_EQ(t.rfind("😊 joy (90% sure)\n", 0), 0u) << t;
  EXPECT_NE(t.find("text: joy 90%"), std::string::npos) << t;
  EXPECT_NE(t.find("faces: (none found)"), std::string::npos) << t;
  EXPECT_NE(t.find("fused: joy 90%"), std::string::npos) << t;
  EXPECT_NE(t.find("No face was found"), std::string::npos) << t;
  EXPECT_NE(t.find("love (+0.50), day (+0.10)"), std::string::npos) << t;
  EXPECT_EQ(t.find("the ("), std::string::npos) << t;  // it pulled the other way
}

TEST(BotReply, AboutReadsTheCardsTestTables) {
  const auto t = about_text(test::BotReader().info());
  EXPECT_NE(t.find("Test text model"), std::string::npos) << t;
  EXPECT_NE(t.find("pooled (10 examples): accuracy 70.0%, macro-F1 0.650"), std::string::npos) << t;
  EXPECT_NE(t.find("Test face model"), std::string::npos) << t;
  EXPECT_NE(t.find("the card gives no test scores"), std::string::npos) << t;
}

TEST(BotReply, FacesAreDrawnOnADecodableScaledJpeg) {
  predict::Face f;
  f.box = {100, 100, 400, 400};
  f.probabilities.fill(0.1);
  f.probabilities[6] = 0.4;
  const auto jpeg = draw_faces(test::tiny_jpeg(2000), {f}, 1000);
  cv::Mat img = cv::imdecode(cv::Mat(1, int(jpeg.size()), CV_8UC1, const_cast<char*>(jpeg.data())), cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.cols, 1000);
  // The box's edge (scaled to x = 50) is drawn in green.
  const auto px = img.at<cv::Vec3b>(150, 50);
  EXPECT_GT(px[1], 150);
  EXPECT_LT(px[0], 120);
  EXPECT_THROW(draw_faces("not an image", {f}), Error);
}

// ---- conversations ------------------------------------------------------------------------------

TEST(Bot, AnswersEveryKindOfMessageInOrder) {
  BotRun run("kinds");
  auto& api = run.api;
  const auto photo = api.add_file(test::tiny_jpeg());
  const auto a1 = api.add_file(test::tiny_jpeg()), a2 = api.add_file(test::tiny_jpeg()), a3 = api.add_file(test::tiny_jpeg());
  const auto doc = api.add_file(test::tiny_jpeg());
  std::vector<int64_t> order;  // update ids of chat 1, in the order sent
  order.push_back(api.push(photo_message(1, photo, "best day ever")));
  json album1 = photo_message(1, a1), album2 = photo_message(1, a2, "our trip"), album3 = photo_message(1, a3);
  for (auto* m : {&album1, &album2, &album3}) (*m)["media_group_id"] = "g1";
  order.push_back(api.push(album1));
  api.push(album2);
  api.push(album3);
  order.push_back(api.push(text_message(1, "so sad today")));
  order.push_back(api.push({{"chat", chat(1)}, {"document", {{"file_id", doc}, {"mime_type", "image/jpeg"}, {"file_size", 700}}}}));
  order.push_back(api.push({{"chat", chat(1)}, {"sticker", {{"file_id", "st"}, {"emoji", "😀"}}}}));
  order.push_back(api.push(text_message(1, "/privacy")));
  order.push_back(api.push(text_message(1, "/about")));
  const auto group_silent = api.push(text_message(-5, "lovely day", "group"));
  const auto group_asked = api.push(text_message(-5, "@emopost_test_bot lovely day", "group"));
  json edit = text_message(1, "so sad now");
  edit["message_id"] = 4242;
  order.push_back(api.push(edit, "edited_message"));
  run.start();
  ASSERT_TRUE(run.wait_messages(9)) << run.messages().size() << " replies";
  ASSERT_TRUE(api.wait_for([&] { return api.confirmed_below() > api.last_update_id(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // nothing more should come
  const auto msgs = run.messages();
  ASSERT_EQ(msgs.size(), 9u);
  std::vector<FakeBotApi::Sent> chat1;
  for (const auto& m : msgs) {
    if (m.chat_id == 1) chat1.push_back(m);
    else EXPECT_EQ(api.update_of_message(m.reply_to), group_asked) << "only the mention is answered in the group";
  }
  ASSERT_EQ(chat1.size(), order.size());
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(api.update_of_message(chat1[i].reply_to), order[i]) << i;
  EXPECT_NE(chat1[0].text.find("😊 joy"), std::string::npos) << chat1[0].text;
  EXPECT_NE(chat1[0].text.find("faces: surprise 70% (1 found)"), std::string::npos) << chat1[0].text;
  EXPECT_NE(chat1[1].text.find("(3 found)"), std::string::npos) << "the album is one post: " << chat1[1].text;
  EXPECT_NE(chat1[1].text.find("text: joy"), std::string::npos) << "its caption came on part 2: " << chat1[1].text;
  EXPECT_NE(chat1[2].text.find("😢 sadness"), std::string::npos) << chat1[2].text;
  EXPECT_NE(chat1[2].text.find("There is no picture"), std::string::npos) << chat1[2].text;
  EXPECT_NE(chat1[3].text.find("faces: surprise"), std::string::npos) << "a document image is read: " << chat1[3].text;
  EXPECT_NE(chat1[4].text.find("can't read a sticker"), std::string::npos) << chat1[4].text;
  EXPECT_NE(chat1[5].text.find("I keep no message text"), std::string::npos) << chat1[5].text;
  EXPECT_NE(chat1[6].text.find("Test text model"), std::string::npos) << chat1[6].text;
  EXPECT_NE(chat1[7].text.find("Edited post"), std::string::npos) << chat1[7].text;
  EXPECT_EQ(api.calls("deleteWebhook"), 1) << "polling works on a bot that once had a webhook";
  // The photo back, boxed: one for the photo, three for the album, one for the document.
  EXPECT_EQ(api.sent("sendPhoto").size(), 5u);
  run.stop();
  StateStore state(run.options.state_file);
  EXPECT_EQ(state.status(group_silent), Status::skipped);
  EXPECT_EQ(state.status(group_asked), Status::done);
  EXPECT_EQ(state.count(Status::done), 11);  // 9 replies: the album holds 3 updates, the silent one is skipped
  EXPECT_EQ(state.count(Status::received) + state.count(Status::answered), 0);
  const auto bytes = run.state_bytes();
  for (const char* secret : {"best day ever", "our trip", "so sad today", "lovely day"})
    EXPECT_EQ(bytes.find(secret), std::string::npos) << "the state file keeps message text: " << secret;
  EXPECT_EQ(bytes.find(kToken), std::string::npos);
  EXPECT_EQ(run.log.str().find(kToken), std::string::npos) << run.log.str();
}

TEST(Bot, RidesOutRateLimitsServerErrorsHangsAndMalformedAnswers) {
  BotRun run("faults");
  auto& api = run.api;
  api.hang_for = std::chrono::milliseconds(2000);
  api.fail_next("getUpdates", FakeBotApi::Fault::server_error);
  api.fail_next("getUpdates", FakeBotApi::Fault::malformed);
  api.fail_next("sendMessage", FakeBotApi::Fault::rate_limit);
  api.fail_next("sendMessage", FakeBotApi::Fault::hang);
  api.fail_next("sendMessage", FakeBotApi::Fault::server_error);
  const auto t0 = FakeBotApi::Clock::now();
  const auto id = api.push(text_message(1, "hello there"));
  api.push_raw({{"message", {{"message_id", 77}, {"text", "no chat"}}}});  // malformed: skipped
  const auto after = api.push(text_message(2, "and me"));
  run.start();
  ASSERT_TRUE(run.wait_messages(2));
  ASSERT_TRUE(api.wait_for([&] { return api.confirmed_below() > after; }));
  const auto msgs = run.messages();
  ASSERT_EQ(msgs.size(), 2u) << "each update answered once";
  std::map<int64_t, int> per_update;
  for (const auto& m : msgs) ++per_update[api.update_of_message(m.reply_to)];
  EXPECT_EQ(per_update[id], 1);
  EXPECT_EQ(per_update[after], 1);
  // The 429 asked for a second's wait, and the hang cost the client's timeout (1 s).
  const auto first = std::min(msgs[0].at, msgs[1].at);
  EXPECT_GE(first - t0, std::chrono::milliseconds(1000));
  EXPECT_EQ(api.calls("sendMessage"), 5);  // 3 faults, then the 2 replies
  run.stop();
  const auto metrics = run.bot->metrics();
  EXPECT_NE(metrics.find("emopost_bot_retries_total 5"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("emopost_bot_errors_total{kind=\"malformed_update\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("emopost_bot_replies_total 2"), std::string::npos) << metrics;
  EXPECT_NE(run.log.str().find("malformed update"), std::string::npos);
  EXPECT_EQ(run.log.str().find(kToken), std::string::npos) << run.log.str();
  EXPECT_EQ(run.state_bytes().find(kToken), std::string::npos);
}

TEST(Bot, ABlockedChatIsRecordedOnceAndTheOthersGoOn) {
  BotRun run("forbidden");
  auto& api = run.api;
  api.forbid_chat(9);
  const auto blocked = api.push(text_message(9, "hi"));
  const auto ok = api.push(text_message(1, "hi"));
  run.start();
  ASSERT_TRUE(run.wait_messages(1));
  ASSERT_TRUE(api.wait_for([&] { return api.confirmed_below() > ok; }));
  run.stop();
  EXPECT_EQ(api.calls_to_chat(9), 1) << "403 is not retried";
  StateStore state(run.options.state_file);
  EXPECT_EQ(state.status(blocked), Status::failed);
  EXPECT_EQ(state.status(ok), Status::done);
}

TEST(Bot, BadFilesGetAnApologyThatNamesTheProblem) {
  BotRun run("files");
  auto& api = run.api;
  const auto huge = api.add_file(test::tiny_jpeg(), 25 << 20);
  const auto broken = api.add_file("this is not a picture");
  json huge_doc = {{"chat", chat(1)}, {"document", {{"file_id", huge}, {"mime_type", "image/png"}}}};
  const auto huge_id = api.push(huge_doc);
  const auto broken_id = api.push(photo_message(1, broken, "look"));
  run.start();
  ASSERT_TRUE(run.wait_messages(2));
  ASSERT_TRUE(api.wait_for([&] { return api.confirmed_below() > broken_id; }));
  run.stop();
  const auto msgs = run.messages();
  EXPECT_NE(msgs[0].text.find("over the 20 MB"), std::string::npos) << msgs[0].text;
  EXPECT_NE(msgs[1].text.find("Sorry"), std::string::npos) << msgs[1].text;
  EXPECT_NE(msgs[1].text.find("bad_image"), std::string::npos) << msgs[1].text;
  // Apologised for, and recorded as failures with the reason.
  StateStore state(run.options.state_file);
  EXPECT_EQ(state.status(huge_id), Status::failed);
  EXPECT_NE(state.error(huge_id).value_or("").find("20 MB"), std::string::npos);
  EXPECT_EQ(state.status(broken_id), Status::failed);
  EXPECT_NE(state.error(broken_id).value_or("").find("bad_image"), std::string::npos);
}

// Whatever the reader throws, the user gets the error table's apology for its code, the row is failed
// with that code, and the update is confirmed only then; the chat's next post is answered as usual.
TEST(Bot, AnythingThrownWhileAnsweringEndsInAnApologyAndAFailedRow) {
  BotRun run("throws");
  auto& api = run.api;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"throw:model", "bad_model"}, {"throw:alloc", "internal"}, {"throw:other", "internal"}};
  std::vector<int64_t> ids;
  for (const auto& [caption, code] : cases) ids.push_back(api.push(text_message(1, caption)));
  const auto fine = api.push(text_message(1, "a good day"));
  run.start();
  ASSERT_TRUE(run.wait_messages(4));
  ASSERT_TRUE(api.wait_for([&] { return api.confirmed_below() > fine; }));
  run.stop();
  const auto msgs = run.messages();
  EXPECT_NE(msgs[0].text.find(std::string(error_kind(Errc::bad_model).meaning)), std::string::npos) << msgs[0].text;
  EXPECT_NE(msgs[1].text.find(std::string(error_kind(Errc::internal).meaning)), std::string::npos) << msgs[1].text;
  EXPECT_NE(msgs[3].text.find("joy"), std::string::npos) << msgs[3].text;
  StateStore state(run.options.state_file);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(state.status(ids[i]), Status::failed) << cases[i].first;
    EXPECT_EQ(state.error(ids[i]).value_or("").rfind(cases[i].second + ": ", 0), 0u) << state.error(ids[i]).value_or("none");
  }
  EXPECT_EQ(state.status(fine), Status::done);
}

// Album parts count as open updates. With more of them open than max_open, the poll loop waits, and
// albums used to be flushed only by that loop: the bot stopped answering for good. A timer flushes
// them now. 30 parts (10 albums in 10 chats) against a max_open of 12, then the same after a restart.
TEST(Bot, AlbumsBeyondMaxOpenAreAllAnswered) {
  BotRun run("albums");
  auto& api = run.api;
  run.options.max_open = 12;
  run.options.send_photos = false;
  const auto jpeg = api.add_file(test::tiny_jpeg());
  auto push_albums = [&](const std::string& tag) {
    for (int chat_id = 1; chat_id <= 10; ++chat_id)
      for (int part = 0; part < 3; ++part) {
        json m = photo_message(chat_id, jpeg, part == 1 ? std::optional<std::string>("our trip") : std::nullopt);
        m["media_group_id"] = tag + std::to_string(chat_id);
        api.push(m);
      }
  };
  push_albums("a");
  run.start();
  ASSERT_TRUE(run.wait_messages(10, std::chrono::seconds(15))) << run.messages().size() << " of 10 albums answered";
  run.stop();
  push_albums("b");  // waiting for the next run, as after a restart
  run.start();
  ASSERT_TRUE(run.wait_messages(20, std::chrono::seconds(15))) << run.messages().size() << " of 20 albums answered";
  run.stop();
  StateStore state(run.options.state_file);
  EXPECT_EQ(state.count(Status::done), 60);
}

// Update kinds the bot never heard of are skipped rows, named by their kind and logged once per kind.
TEST(Bot, UnknownUpdateKindsAreSkippedAndLoggedOnce) {
  BotRun run("kinds-unknown");
  auto& api = run.api;
  const auto a = api.push_raw({{"poll", {{"id", "1"}, {"question", "?"}}}});
  const auto b = api.push_raw({{"poll", {{"id", "2"}, {"question", "?"}}}});
  const auto c = api.push_raw({{"channel_post", {{"message_id", 1}, {"chat", chat(5, "channel")}}}});
  const auto fine = api.push(text_message(1, "a good day"));
  run.start();
  ASSERT_TRUE(run.wait_messages(1));
  ASSERT_TRUE(api.wait_for([&] { return api.confirmed_below() > fine; }));
  run.stop();
  StateStore state(run.options.state_file);
  for (auto id : {a, b, c}) EXPECT_EQ(state.status(id), Status::skipped) << id;
  const std::string log = run.log.str();
  size_t polls = 0;
  for (size_t at = 0; (at = log.find("kind \"poll\"", at)) != std::string::npos; ++at) ++polls;
  EXPECT_EQ(polls, 1u) << log;
  EXPECT_NE(log.find("kind \"channel_post\""), std::string::npos) << log;
}

// Telegram has no idempotency key: a send whose answer was lost after Telegram took it is retried
// and arrives twice. The bot cannot prevent that; it counts it. A 429 surely did not deliver and is
// not counted. The README's table of failure classes says the same.
TEST(Bot, SendsThatMayHaveArrivedAreRetriedAndCounted) {
  BotRun run("ambiguous");
  auto& api = run.api;
  api.fail_next("sendMessage", FakeBotApi::Fault::rate_limit);
  api.fail_next("sendMessage", FakeBotApi::Fault::accept_then_hang);
  api.push(text_message(1, "a good day"));
  run.start();
  ASSERT_TRUE(run.wait_messages(2, std::chrono::seconds(20)));
  const auto metrics = run.bot->metrics();
  run.stop();
  const auto msgs = run.messages();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].text, msgs[1].text);  // the duplicate the retry made
  EXPECT_NE(metrics.find("emopost_bot_ambiguous_retries_total 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("emopost_bot_retries_total 2\n"), std::string::npos) << metrics;
}

TEST(Bot, OneSlowPostDoesNotHoldUpOtherChats) {
  BotRun run("slow");
  run.reader.slow_for = std::chrono::milliseconds(2000);
  auto& api = run.api;
  api.push(text_message(1, "a slow one"));
  const auto quick = api.push(text_message(2, "a quick one"));
  run.start();
  ASSERT_TRUE(run.wait_messages(1));
  const auto first = run.messages().front();
  EXPECT_EQ(api.update_of_message(first.reply_to), quick);
  ASSERT_TRUE(run.wait_messages(2));
  EXPECT_GE(run.messages()[1].at - first.at, std::chrono::milliseconds(1000));
}

TEST(Bot, SendingStaysUnderThePerChatRate) {
  BotRun run("rate");
  run.options.chat_rate = 5;  // a message every 200 ms in one chat
  run.options.send_photos = false;
  auto& api = run.api;
  for (int i = 0; i < 5; ++i) api.push(text_message(1, "hi " + std::to_string(i)));
  api.push(text_message(2, "other chat"));
  run.start();
  ASSERT_TRUE(run.wait_messages(6));
  std::vector<FakeBotApi::Clock::time_point> chat1;
  for (const auto& m : run.messages())
    if (m.chat_id == 1) chat1.push_back(m.at);
  ASSERT_EQ(chat1.size(), 5u);
  for (size_t i = 1; i < chat1.size(); ++i) EXPECT_GE(chat1[i] - chat1[i - 1], std::chrono::milliseconds(180)) << i;
}

TEST(Bot, StopFinishesTheReplyInFlightAndLeavesTheRestForTheNextRun) {
  BotRun run("stop");
  run.reader.slow_for = std::chrono::milliseconds(800);
  run.options.workers = 1;
  auto& api = run.api;
  const auto first = api.push(text_message(1, "slow start"));
  const auto second = api.push(text_message(1, "slow second"));
  run.start();
  ASSERT_TRUE(api.wait_for([&] { return run.reader.posts_read() >= 1; }));
  run.stop();
  StateStore state(run.options.state_file);
  EXPECT_EQ(state.status(first), Status::done) << "the reply in flight was finished and recorded";
  EXPECT_NE(state.status(second), Status::done);
  EXPECT_EQ(api.confirmed_below(), first + 1) << "only the answered update is confirmed";
}

// ---- crash and restart --------------------------------------------------------------------------

namespace {

pid_t spawn_harness(const std::string& url, const fs::path& state, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("TELEGRAM_BOT_TOKEN", kToken.c_str(), 1);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 2);
    ::execl(EMOPOST_BOT_HARNESS, EMOPOST_BOT_HARNESS, url.c_str(), state.c_str(), "2", nullptr);
    ::_exit(127);
  }
  return pid;
}

}  // namespace

TEST(BotProcess, KilledMidBatchThenRestartedItAnswersEveryUpdateOnce) {
  FakeBotApi api(kToken);
  constexpr int kUpdates = 1000;
  std::vector<int64_t> ids;
  for (int i = 0; i < kUpdates; ++i) ids.push_back(api.push(text_message(1 + i % 50, "post " + std::to_string(i))));
  const auto dir = temp_dir("kill9");
  const auto state = dir / "state.sqlite", log = dir / "bot.log";

  pid_t pid = spawn_harness(api.url(), state, log);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(api.wait_for([&] { return api.sent("sendMessage").size() >= 400; }, std::chrono::seconds(120)));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  const size_t before_restart = api.sent("sendMessage").size();

  pid = spawn_harness(api.url(), state, log);
  ASSERT_TRUE(api.wait_for([&] { return api.confirmed_below() > ids.back(); }, std::chrono::seconds(120)))
      << api.sent("sendMessage").size() << " replies";
  ::kill(pid, SIGTERM);
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "SIGTERM ends the bot with exit code 0";

  std::map<int64_t, int> replies;
  for (const auto& m : api.sent("sendMessage")) ++replies[api.update_of_message(m.reply_to)];
  int missing = 0, twice = 0;
  for (auto id : ids) {
    missing += replies[id] == 0;
    twice += replies[id] > 1;
  }
  std::cout << "kill -9 after " << before_restart << " of " << kUpdates << " replies, then a restart: " << missing
            << " updates unanswered, " << twice << " answered twice (the window: a reply accepted but not yet recorded)\n";
  RecordProperty("answered_twice", twice);
  EXPECT_EQ(missing, 0);
  EXPECT_LE(twice, 2) << "at most one reply per worker can fall in the window";
  EXPECT_EQ(replies.size(), size_t(kUpdates));  // no reply to anything else

  std::ifstream in(log);
  const std::string logged((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(logged.find("bot stopped"), std::string::npos) << logged;
  EXPECT_EQ(logged.find(kToken), std::string::npos);
  std::string bytes;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream f(e.path(), std::ios::binary);
    bytes += std::string(std::istreambuf_iterator<char>(f), {});
  }
  EXPECT_EQ(bytes.find(kToken.substr(kToken.find(':') + 1)), std::string::npos);
  StateStore s(state);
  EXPECT_EQ(s.count(Status::done), kUpdates);
  fs::remove_all(dir);
}
