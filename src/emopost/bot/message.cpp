#include "emopost/bot/message.h"


#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/text/words.h"

namespace emopost::bot {

using json = nlohmann::json;
using text::lower;

namespace {

[[noreturn]] void malformed(int64_t update_id, const std::string& what) {
  throw Error(fmt::format("update {}: {}", update_id, what), Errc::invalid_field);
}

int64_t get_int(const json& j, const char* key, int64_t update_id, const char* where) {
  if (!j.contains(key) || !j[key].is_number_integer()) malformed(update_id, fmt::format("{}.{} is missing or not an integer", where, key));
  return j[key].get<int64_t>();
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

FileRef file_ref(const json& f, int64_t update_id) {
  if (!f.is_object() || !f.contains("file_id") || !f["file_id"].is_string()) malformed(update_id, "a file has no file_id");
  FileRef r;
  r.file_id = f["file_id"].get<std::string>();
  if (f.contains("file_size") && f["file_size"].is_number_integer()) r.size = f["file_size"].get<int64_t>();
  if (f.contains("width") && f["width"].is_number_integer()) r.width = f["width"].get<int>();
  if (f.contains("height") && f["height"].is_number_integer()) r.height = f["height"].get<int>();
  if (f.contains("mime_type") && f["mime_type"].is_string()) r.mime_type = f["mime_type"].get<std::string>();
  return r;
}

bool fits(const FileRef& f, const FileLimits& limits) {
  return f.size <= limits.max_bytes && int64_t(f.width) * f.height <= limits.max_pixels;
}

// Removes every "@username" (any case) from `text`; true when there was one.
bool remove_mention(std::string& text, const std::string& username) {
  if (username.empty()) return false;
  const std::string needle = "@" + lower(username);
  bool found = false;
  for (size_t p; (p = lower(text).find(needle)) != std::string::npos;) {
    const size_t end = p + needle.size();
    if (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_')) break;
    text.erase(p, needle.size());
    found = true;
  }
  return found;
}

}  // namespace

std::optional<Message> read_update(const json& update, const Identity& me, const FileLimits& limits) {
  if (!update.is_object()) throw Error("an update is not a JSON object", Errc::invalid_field);
  Message m;
  m.update_id = get_int(update, "update_id", 0, "update");
  const char* key = update.contains("message") ? "message" : update.contains("edited_message") ? "edited_message" : nullptr;
  if (!key) return std::nullopt;
  m.edited = std::string(key) == "edited_message";
  const json& msg = update[key];
  if (!msg.is_object()) malformed(m.update_id, fmt::format("{} is not an object", key));
  m.message_id = get_int(msg, "message_id", m.update_id, key);
  if (!msg.contains("chat") || !msg["chat"].is_object()) malformed(m.update_id, fmt::format("{}.chat is missing", key));
  m.chat_id = get_int(msg["chat"], "id", m.update_id, "chat");
  m.chat_type = msg["chat"].value("type", "private");
  if (msg.contains("media_group_id") && msg["media_group_id"].is_string())
    m.media_group_id = msg["media_group_id"].get<std::string>();

  std::string text;
  bool has_text = false;
  for (const char* t : {"text", "caption"})
    if (msg.contains(t)) {
      if (!msg[t].is_string()) malformed(m.update_id, fmt::format("{}.{} is not a string", key, t));
      text = msg[t].get<std::string>();
      has_text = true;
    }

  if (msg.contains("photo")) {
    const json& sizes = msg["photo"];
    if (!sizes.is_array() || sizes.empty()) malformed(m.update_id, "photo is not a list of sizes");
    m.kind = "photo";
    std::optional<FileRef> best;
    for (const auto& s : sizes) {
      auto f = file_ref(s, m.update_id);
      if (fits(f, limits) && (!best || int64_t(f.width) * f.height > int64_t(best->width) * best->height)) best = f;
    }
    if (best) m.image = best;
    else m.image_problem = fmt::format("every size of the photo is over the limits ({} MB, {} megapixels)",
                                       limits.max_bytes >> 20, limits.max_pixels / 1'000'000);
  } else if (msg.contains("document")) {
    auto f = file_ref(msg["document"], m.update_id);
    if (f.mime_type.rfind("image/", 0) == 0) {
      m.kind = "document";
      if (f.size > limits.max_bytes)
        m.image_problem = fmt::format("the file is {:.1f} MB, over the {} MB that bots may download", double(f.size) / (1 << 20),
                                      limits.max_bytes >> 20);
      else m.image = f;
    } else {
      m.kind = "file";
    }
  } else {
    for (const char* k : {"sticker", "voice", "audio", "video", "video_note", "animation"})
      if (msg.contains(k)) m.kind = std::string(k) == "video_note" ? "video" : k;
    if (m.kind.empty()) m.kind = has_text ? "text" : "other";
  }

  // Commands: "/name", "/name@thisbot" or, in a caption, a trailing "/explain".
  bool for_me = false;
  std::string body = trim(text);
  if (!body.empty() && body[0] == '/') {
    const size_t end = body.find_first_of(" \t\r\n");
    std::string word = body.substr(1, end == std::string::npos ? std::string::npos : end - 1);
    std::string target;
    if (const size_t at = word.find('@'); at != std::string::npos) target = word.substr(at + 1), word.resize(at);
    if (target.empty() || lower(target) == lower(me.username)) {
      m.command = lower(word);
      for_me = true;
      body = end == std::string::npos ? "" : trim(body.substr(end));
    }
  }
  if (m.command == "explain") m.explain = true, m.command.clear();
  if (body.size() >= 8 && lower(body.substr(body.size() - 8)) == "/explain") {
    m.explain = true;
    body = trim(body.substr(0, body.size() - 8));
  }
  if (remove_mention(body, me.username)) for_me = true, body = trim(body);
  if (has_text) m.text = body;

  // In groups the bot answers what is meant for it, as Telegram's privacy mode expects.
  if (msg.contains("reply_to_message") && msg["reply_to_message"].is_object()) {
    const auto& r = msg["reply_to_message"];
    if (r.contains("from") && r["from"].is_object() && r["from"].value("id", int64_t(0)) == me.id && me.id) for_me = true;
  }
  for (const char* ek : {"entities", "caption_entities"})
    if (msg.contains(ek) && msg[ek].is_array())
      for (const auto& e : msg[ek])
        if (e.is_object() && e.value("type", "") == "text_mention" && e.contains("user") && e["user"].is_object() &&
            e["user"].value("id", int64_t(0)) == me.id && me.id)
          for_me = true;
  m.addressed = m.chat_type == "private" || for_me;
  return m;
}

}  // namespace emopost::bot
