// The bot over the shipped models (the product's path: Predictor, fusion, the album's pooled faces),
// against the fake Bot API. test_bot covers the bot itself over a stand-in reader.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "emopost/bot/bot.h"
#include "emopost/predict/predictor.h"
#include "fake_bot_api.h"
#include "support.h"

namespace fs = std::filesystem;
using namespace emopost;
using json = nlohmann::json;

using emopost::test::kRoot;
using emopost::test::read_bytes;

TEST(BotWithModels, AnswersAPhotoPostAndAnAlbumWithTheShippedModels) {
  predict::PredictorOptions po;
  po.models_dir = kRoot / "models";
  const predict::Predictor predictor(po);
  test::FakeBotApi api("1:models");
  const auto dir = fs::temp_directory_path() / ("emopost-bot-models-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  bot::BotOptions o;
  o.api.api_url = api.url();
  o.api.token = "1:models";
  o.state_file = dir / "state.sqlite";
  o.chat_rate = o.global_rate = 0;
  o.poll_timeout_s = 1;
  o.album_gap = std::chrono::milliseconds(300);
  bot::Bot bot(o, predictor, predictor.fusion());
  std::thread runner([&] { bot.run(); });

  const auto happy = api.add_file(read_bytes(kRoot / "samples/face_happy.jpg"));
  const auto group = api.add_file(read_bytes(kRoot / "samples/photos/group6.jpg"));
  auto photo = [](const std::string& file) {
    return json::array({{{"file_id", file}, {"file_unique_id", file}, {"width", 600}, {"height", 600}}});
  };
  const json chat = {{"id", 5}, {"type", "private"}};
  api.push({{"chat", chat}, {"photo", photo(happy)}, {"caption", "best day of my life, I'm so happy!"}});
  for (int part = 0; part < 2; ++part) {
    json m = {{"chat", chat}, {"photo", photo(part ? group : happy)}, {"media_group_id", "album"}};
    if (part == 1) m["caption"] = "we won the final, so happy!!! 🎉";
    api.push(m);
  }
  api.push({{"chat", chat}, {"text", "/about"}});
  ASSERT_TRUE(api.wait_for([&] { return api.sent("sendMessage").size() >= 3; }, std::chrono::seconds(120)));
  bot.stop();
  runner.join();
  const auto msgs = api.sent("sendMessage");
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].text.rfind("😊 joy", 0), 0u) << msgs[0].text;
  EXPECT_NE(msgs[0].text.find("(1 found)"), std::string::npos) << msgs[0].text;
  EXPECT_NE(msgs[0].text.find("text: joy"), std::string::npos) << msgs[0].text;
  // The album: the close-up's face and the group photo's faces, pooled as one post's.
  EXPECT_NE(msgs[1].text.find("text: joy"), std::string::npos) << msgs[1].text;
  const auto found = msgs[1].text.find(" found)");
  ASSERT_NE(found, std::string::npos) << msgs[1].text;
  const auto open = msgs[1].text.rfind('(', found);
  EXPECT_GE(std::stoi(msgs[1].text.substr(open + 1)), 4) << msgs[1].text;
  EXPECT_EQ(api.sent("sendPhoto").size(), 3u);  // each picture back with its faces boxed
  // /about names both shipped models and gives the test figures their cards hold.
  const auto& about = msgs[2].text;
  EXPECT_NE(about.find("Text: emopost text model"), std::string::npos) << about;
  EXPECT_NE(about.find("Faces: emopost face model"), std::string::npos) << about;
  EXPECT_NE(about.find("pooled (6968 examples): accuracy"), std::string::npos) << about;
  EXPECT_NE(about.find("FER2013 PrivateTest, FER2013's labels (3589 examples): accuracy 57.87%"), std::string::npos) << about;
  EXPECT_NE(about.find("FER2013 PrivateTest, FER+'s majority (faces with a usable one) (3349 examples): accuracy 80.26%"), std::string::npos) << about;
  fs::remove_all(dir);
}
