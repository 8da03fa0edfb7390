#pragma once
// Every failure the user can cause surfaces as an emopost::Error whose message names the problem
// (the file, the tensor, the line) so that callers can report it without guessing. The code is a
// stable machine-readable name for the kind of problem (APIs and batch records carry it).
#include <stdexcept>
#include <string>

namespace emopost {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string code = "invalid_input")
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

}  // namespace emopost
