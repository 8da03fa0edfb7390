#include "emopost/text/words.h"

#include <cctype>

namespace emopost::text {

namespace {

bool word_byte(unsigned char c) { return std::isalnum(c) || c == '\''; }

}  // namespace

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size();) {
    if (!word_byte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && word_byte(static_cast<unsigned char>(text[end]))) ++end;
    out.push_back(lower(text.substr(i, end - i)));
    i = end;
  }
  return out;
}

std::string drop_words(const std::string& text, const std::set<std::string>& drop) {
  if (drop.empty()) return text;
  std::string kept;
  for (size_t i = 0; i < text.size();) {
    size_t end = i;
    while (end < text.size() && word_byte(static_cast<unsigned char>(text[end]))) ++end;
    if (end == i) {
      kept += text[i++];
      continue;
    }
    std::string word = text.substr(i, end - i);
    if (!drop.count(lower(word))) kept += word;
    i = end;
  }
  return squeeze_spaces(kept);
}

std::string squeeze_spaces(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace emopost::text
