#pragma once
// A thin client of the Telegram Bot API over libcurl: methods are called as
// {api_url}/bot{token}/{method} and files fetched from {api_url}/file/bot{token}/{file_path}, as the
// real API and its self-hosted server (`telegram-bot-api --local`) both serve them. No torch here.
//
// The token never leaves this class: every message it builds, and every error it throws, has the
// token replaced by "<token>" (mask_token), whatever libcurl or the server put in it.
#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace emopost::bot {

// What went wrong with a call, as the retry policy needs to know it.
enum class Failure {
  rate_limited,  // 429: wait retry_after seconds
  transient,     // 5xx, timeout, dropped connection, malformed answer: back off and retry
  forbidden,     // 403: the user blocked the bot, or it was removed from the group
  rejected,      // other 4xx: the request itself is wrong; retrying will not help
  too_large,     // a download over its byte limit
  cancelled,     // the caller asked the call to stop (shutdown)
};
const char* failure_name(Failure f);

class ApiError : public std::runtime_error {
 public:
  ApiError(Failure failure, std::string message, int http_status = 0, int retry_after_s = 0, bool maybe_delivered = false)
      : std::runtime_error(std::move(message)), failure(failure), http_status(http_status), retry_after_s(retry_after_s),
        maybe_delivered(maybe_delivered) {}
  Failure failure;
  int http_status;
  int retry_after_s;
  bool retryable() const { return failure == Failure::rate_limited || failure == Failure::transient; }
  // Telegram may have carried the request out: the request went out and the answer was lost (a
  // timeout, a dropped connection, a 5xx, an answer that is not its JSON). False when it surely did
  // not: no connection was made, a 429, a 4xx. Telegram has no idempotency key, so a send retried
  // after such a failure may arrive twice.
  bool maybe_delivered;
};

// `text` with every occurrence of `token` (and of its URL-encoded form) replaced by "<token>".
std::string mask_token(std::string text, const std::string& token);

struct ApiOptions {
  std::string api_url = "https://api.telegram.org";
  std::string token;
  std::chrono::milliseconds timeout{30'000};         // a whole call, polls excepted
  std::chrono::milliseconds connect_timeout{10'000};
};

class TelegramApi {
 public:
  explicit TelegramApi(ApiOptions options);

  // POSTs `params` as JSON to `method` and returns the answer's "result". `timeout` replaces the
  // default (a long poll needs its own `timeout` plus some). `cancel`, when set, aborts the call
  // (Failure::cancelled). Throws ApiError.
  nlohmann::json call(const std::string& method, const nlohmann::json& params = nlohmann::json::object(),
                      std::optional<std::chrono::milliseconds> timeout = {},
                      const std::atomic<bool>* cancel = nullptr) const;
  // sendPhoto with a JPEG upload (multipart/form-data); `fields` are the other parameters.
  nlohmann::json send_photo(const nlohmann::json& fields, const std::string& jpeg) const;
  // The bytes of a file that getFile named; over `max_bytes` throws ApiError (too_large).
  std::string download(const std::string& file_path, size_t max_bytes) const;

  const ApiOptions& options() const { return options_; }

 private:
  ApiOptions options_;
};

}  // namespace emopost::bot
