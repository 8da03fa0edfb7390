#include "emopost/bot/telegram_api.h"

#include <algorithm>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>

namespace emopost::bot {

using json = nlohmann::json;

const char* failure_name(Failure f) {
  switch (f) {
    case Failure::rate_limited: return "rate_limited";
    case Failure::transient: return "transient";
    case Failure::forbidden: return "forbidden";
    case Failure::rejected: return "rejected";
    case Failure::too_large: return "too_large";
    case Failure::cancelled: return "cancelled";
  }
  return "unknown";
}

std::string mask_token(std::string text, const std::string& token) {
  if (token.empty()) return text;
  // The token's ':' is "%3A" once URL-encoded; both forms are masked.
  std::string encoded = token;
  for (size_t p = 0; (p = encoded.find(':', p)) != std::string::npos; p += 3) encoded.replace(p, 1, "%3A");
  for (const std::string* t : std::initializer_list<const std::string*>{&token, &encoded})
    for (size_t p = 0; (p = text.find(*t, p)) != std::string::npos; p += 7) text.replace(p, t->size(), "<token>");
  return text;
}

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One handle per thread, reset between calls: it keeps its connections open, so a reply does not
// pay for a new TLS handshake.
CURL* thread_handle() {
  global_init();
  struct Handle {
    CURL* h = curl_easy_init();
    ~Handle() { curl_easy_cleanup(h); }
  };
  thread_local Handle handle;
  if (!handle.h) throw ApiError(Failure::transient, "libcurl could not create a handle");
  curl_easy_reset(handle.h);
  return handle.h;
}

struct Sink {
  std::string body;
  size_t max_bytes = 64u << 20;
  bool over = false;
  const std::atomic<bool>* cancel = nullptr;
};

size_t on_data(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  if (sink->body.size() + size * n > sink->max_bytes) {
    sink->over = true;
    return 0;  // aborts the transfer
  }
  sink->body.append(data, size * n);
  return size * n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* sink = static_cast<Sink*>(user);
  return sink->cancel && sink->cancel->load() ? 1 : 0;
}

struct Headers {
  curl_slist* list = nullptr;
  ~Headers() { curl_slist_free_all(list); }
};

struct Mime {
  curl_mime* mime = nullptr;
  ~Mime() { curl_mime_free(mime); }
};

}  // namespace

TelegramApi::TelegramApi(ApiOptions options) : options_(std::move(options)) {
  while (!options_.api_url.empty() && options_.api_url.back() == '/') options_.api_url.pop_back();
  global_init();
}

namespace {

// Runs a prepared handle and returns (HTTP status, body); throws ApiError for what never got an answer.
std::pair<long, std::string> perform(CURL* h, const std::string& url, std::chrono::milliseconds timeout,
                                     std::chrono::milliseconds connect_timeout, Sink& sink, const std::string& token) {
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, long(timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, long(connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &sink);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "emopost-bot/0.1");
  const CURLcode rc = curl_easy_perform(h);
  if (sink.over) throw ApiError(Failure::too_large, fmt::format("the answer is over {} bytes", sink.max_bytes));
  if (rc == CURLE_ABORTED_BY_CALLBACK) throw ApiError(Failure::cancelled, "the call was cancelled");
  if (rc != CURLE_OK) {
    const std::string detail = error[0] ? error : curl_easy_strerror(rc);
    // Before a connection, the request surely did not arrive; after it, it may have.
    const bool connected = rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST &&
                           rc != CURLE_COULDNT_RESOLVE_PROXY;
    throw ApiError(Failure::transient, mask_token(fmt::format("network error: {}", detail), token), 0, 0, connected);
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  return {status, std::move(sink.body)};
}

// The Bot API's envelope: {"ok": true, "result": ...} or {"ok": false, "error_code", "description",
// "parameters": {"retry_after"}}.
json unwrap(const std::string& method, long status, const std::string& body, const std::string& token) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  const bool has_envelope = j.is_object() && j.contains("ok") && j["ok"].is_boolean();
  if (has_envelope && j["ok"].get<bool>() && status < 300) {
    if (!j.contains("result"))
      throw ApiError(Failure::transient, fmt::format("{}: the answer has no \"result\"", method), int(status), 0, true);
    return std::move(j["result"]);
  }
  std::string description = "no description";
  int retry_after = 0;
  if (has_envelope) {
    if (j.contains("description") && j["description"].is_string()) description = j["description"].get<std::string>();
    const auto& p = j.contains("parameters") ? j["parameters"] : json();
    if (p.is_object() && p.contains("retry_after") && p["retry_after"].is_number_integer())
      retry_after = std::clamp(p["retry_after"].get<int>(), 0, 3600);
  }
  const std::string message = mask_token(fmt::format("{}: HTTP {}: {}", method, status, description), token);
  if (status == 429) throw ApiError(Failure::rate_limited, message, int(status), std::max(1, retry_after));
  if (status >= 500 || status == 0) throw ApiError(Failure::transient, message, int(status), 0, true);
  if (!has_envelope)
    throw ApiError(Failure::transient, mask_token(fmt::format("{}: HTTP {}: the answer is not the Bot API's JSON", method, status), token),
                   int(status), 0, true);
  if (status == 403) throw ApiError(Failure::forbidden, message, int(status));
  throw ApiError(Failure::rejected, message, int(status));
}

}  // namespace

json TelegramApi::call(const std::string& method, const json& params, std::optional<std::chrono::milliseconds> timeout,
                       const std::atomic<bool>* cancel) const {
  CURL* h = thread_handle();
  const std::string body = params.dump(-1, ' ', false, json::error_handler_t::replace);
  Headers headers;
  headers.list = curl_slist_append(headers.list, "Content-Type: application/json");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.size()));
  Sink sink;
  sink.cancel = cancel;
  auto [status, answer] = perform(h, fmt::format("{}/bot{}/{}", options_.api_url, options_.token, method),
                                  timeout.value_or(options_.timeout), options_.connect_timeout, sink, options_.token);
  return unwrap(method, status, answer, options_.token);
}

json TelegramApi::send_photo(const json& fields, const std::string& jpeg) const {
  CURL* h = thread_handle();
  Mime mime;
  mime.mime = curl_mime_init(h);
  for (const auto& [key, value] : fields.items()) {
    const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
    auto* part = curl_mime_addpart(mime.mime);
    curl_mime_name(part, key.c_str());
    curl_mime_data(part, text.data(), text.size());
  }
  auto* photo = curl_mime_addpart(mime.mime);
  curl_mime_name(photo, "photo");
  curl_mime_filename(photo, "faces.jpg");
  curl_mime_type(photo, "image/jpeg");
  curl_mime_data(photo, jpeg.data(), jpeg.size());
  curl_easy_setopt(h, CURLOPT_MIMEPOST, mime.mime);
  Sink sink;
  auto [status, answer] = perform(h, fmt::format("{}/bot{}/sendPhoto", options_.api_url, options_.token),
                                  options_.timeout, options_.connect_timeout, sink, options_.token);
  return unwrap("sendPhoto", status, answer, options_.token);
}

std::string TelegramApi::download(const std::string& file_path, size_t max_bytes) const {
  CURL* h = thread_handle();
  Sink sink;
  sink.max_bytes = max_bytes;
  auto [status, body] = perform(h, fmt::format("{}/file/bot{}/{}", options_.api_url, options_.token, file_path),
                                options_.timeout, options_.connect_timeout, sink, options_.token);
  if (status == 429) throw ApiError(Failure::rate_limited, "file download: HTTP 429", int(status), 1);
  if (status >= 500) throw ApiError(Failure::transient, fmt::format("file download: HTTP {}", status), int(status));
  if (status != 200) throw ApiError(status == 403 ? Failure::forbidden : Failure::rejected,
                                    fmt::format("file download: HTTP {}", status), int(status));
  return body;
}

}  // namespace emopost::bot
