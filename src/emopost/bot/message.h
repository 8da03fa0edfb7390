#pragma once
// What the bot makes of one Telegram update: who wrote, in which chat, what they sent and whether
// it is meant for the bot. Pure functions of the update's JSON, so every shape Telegram sends can
// be tested without a network. No torch here.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace emopost::bot {

struct Identity {  // the bot itself, from getMe
  int64_t id = 0;
  std::string username;
};

struct FileLimits {
  int64_t max_bytes = 20 << 20;       // getFile serves up to 20 MB
  int64_t max_pixels = 40'000'000;    // the predictor's decode limit
};

struct FileRef {
  std::string file_id;
  int64_t size = 0;  // 0: unknown
  int width = 0, height = 0;
  std::string mime_type;
};

struct Message {
  int64_t update_id = 0;
  int64_t chat_id = 0;
  std::string chat_type;  // private, group, supergroup, channel
  int64_t message_id = 0;
  bool edited = false;
  // photo, text, document (an image file), file (any other document), sticker, voice, audio, video,
  // animation, other
  std::string kind;
  std::optional<std::string> text;  // the text or caption, the bot's @mention and /explain removed
  std::optional<FileRef> image;     // the photo size or image document to read
  std::string image_problem;        // why no image was taken although one was sent (over the limits)
  std::string media_group_id;       // set for the parts of an album
  std::string command;              // "start", "help", ... (without '/' and @bot); empty: none
  bool explain = false;             // "/explain" asked for the words behind the text verdict
  bool addressed = true;            // in groups: a mention, a reply to the bot or a command
};

// The message an update carries, or nullopt for an update without one (a poll, a callback...).
// Throws emopost::Error (invalid_field) naming what is malformed.
std::optional<Message> read_update(const nlohmann::json& update, const Identity& me, const FileLimits& limits = {});

}  // namespace emopost::bot
