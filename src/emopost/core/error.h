#pragma once
// Every failure the user can cause surfaces as an emopost::Error whose message names the problem
// (the file, the tensor, the line) so that callers can report it without guessing.
#include <stdexcept>
#include <string>

namespace emopost {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace emopost
