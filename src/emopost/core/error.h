#pragma once
// Every failure the user can cause surfaces as an emopost::Error whose message names the problem
// (the file, the tensor, the line) so that callers can report it without guessing. Its code is one
// row of kErrorTable: a stable machine-readable name (APIs and batch records carry it), what it
// means, the HTTP status the server answers with and the exit code of the command line.
#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace emopost {

enum class Errc {
  invalid_input,
  bad_request,
  slow_request,
  invalid_json,
  invalid_field,
  bad_base64,
  not_found,
  method_not_allowed,
  empty_post,
  invalid_utf8,
  bad_image,
  no_signal,
  image_too_large,
  text_too_long,
  payload_too_large,
  batch_too_large,
  not_ready,
  overloaded,
  timeout,
  bad_model,
  internal,
};

struct ErrorKind {
  Errc code;
  std::string_view name;
  std::string_view meaning;
  int http_status;
  int exit_code;  // 2: the request or its options; 3: the post's content; 4: a model; 5: the service; 1: a bug
};

inline constexpr std::array kErrorTable{
    ErrorKind{Errc::invalid_input, "invalid_input", "an option or argument is invalid", 400, 2},
    ErrorKind{Errc::bad_request, "bad_request", "the HTTP request is malformed", 400, 2},
    ErrorKind{Errc::slow_request, "slow_request", "the request body arrived too slowly", 408, 2},
    ErrorKind{Errc::invalid_json, "invalid_json", "the body or a line is not the JSON expected", 400, 2},
    ErrorKind{Errc::invalid_field, "invalid_field", "a field has the wrong type or value", 400, 2},
    ErrorKind{Errc::bad_base64, "bad_base64", "image_base64 is not valid base64", 400, 2},
    ErrorKind{Errc::not_found, "not_found", "no such endpoint or file", 404, 2},
    ErrorKind{Errc::method_not_allowed, "method_not_allowed", "the endpoint does not take this method", 405, 2},
    ErrorKind{Errc::empty_post, "empty_post", "the post has neither readable text nor an image", 422, 3},
    ErrorKind{Errc::invalid_utf8, "invalid_utf8", "the text is not valid UTF-8", 422, 3},
    ErrorKind{Errc::bad_image, "bad_image", "the picture cannot be read (truncated, corrupt, not an image)", 422, 3},
    ErrorKind{Errc::no_signal, "no_signal", "neither the text nor a face could be read", 422, 3},
    ErrorKind{Errc::image_too_large, "image_too_large", "the picture is over the pixel or byte limit", 413, 3},
    ErrorKind{Errc::text_too_long, "text_too_long", "the caption is over the byte limit", 413, 3},
    ErrorKind{Errc::payload_too_large, "payload_too_large", "the request body is over the limit", 413, 3},
    ErrorKind{Errc::batch_too_large, "batch_too_large", "the batch has more posts than allowed", 413, 3},
    ErrorKind{Errc::not_ready, "not_ready", "the models are still loading", 503, 5},
    ErrorKind{Errc::overloaded, "overloaded", "the queue is full; retry later", 503, 5},
    ErrorKind{Errc::timeout, "timeout", "no answer within the request timeout", 504, 5},
    ErrorKind{Errc::bad_model, "bad_model", "a model folder or file is missing or corrupt", 500, 4},
    ErrorKind{Errc::internal, "internal", "a bug: see the log", 500, 1},
};

constexpr const ErrorKind& error_kind(Errc code) { return kErrorTable[static_cast<size_t>(code)]; }
constexpr bool table_follows_enum() {
  for (size_t i = 0; i < kErrorTable.size(); ++i)
    if (kErrorTable[i].code != static_cast<Errc>(i)) return false;
  return kErrorTable.size() == size_t(Errc::internal) + 1;
}
static_assert(table_follows_enum(), "kErrorTable lists every Errc once, in the enum's order");

// The code named `name`, if the table has it.
inline std::optional<Errc> parse_errc(std::string_view name) {
  for (const auto& k : kErrorTable)
    if (k.name == name) return k.code;
  return std::nullopt;
}

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, Errc code = Errc::invalid_input)
      : std::runtime_error(message), code_(code) {}
  std::string_view code() const { return error_kind(code_).name; }
  Errc errc() const { return code_; }
  const ErrorKind& kind() const { return error_kind(code_); }

 private:
  Errc code_;
};

}  // namespace emopost
