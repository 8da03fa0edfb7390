#include "emopost/text/normalize.h"

#include <algorithm>
#include <array>
#include <limits>

#include <fmt/format.h>
#include <pugixml.hpp>
#include <utf8proc.h>

#include "emopost/core/error.h"
#include "emopost/text/words.h"

namespace emopost::text {

namespace fs = std::filesystem;

namespace {

// Western emoticons, matched as whole whitespace-separated tokens (so "10:30" and URLs are safe).
// Names follow CLDR's wording for the closest emoji.
constexpr std::array<std::pair<std::string_view, std::string_view>, 44> kEmoticons{{
    {":)", "smiling face"}, {":-)", "smiling face"}, {":]", "smiling face"}, {"=)", "smiling face"},
    {"(:", "smiling face"}, {"^_^", "smiling face"}, {"^^", "smiling face"},
    {":D", "grinning face"}, {":-D", "grinning face"}, {"=D", "grinning face"},
    {"xD", "grinning squinting face"}, {"XD", "grinning squinting face"},
    {":(", "sad face"}, {":-(", "sad face"}, {":[", "sad face"}, {"=(", "sad face"}, {"):", "sad face"},
    {":'(", "crying face"}, {":'-(", "crying face"}, {"T_T", "crying face"}, {";_;", "crying face"},
    {";)", "winking face"}, {";-)", "winking face"},
    {":P", "face with tongue"}, {":-P", "face with tongue"}, {":p", "face with tongue"},
    {":-p", "face with tongue"},
    {":O", "face with open mouth"}, {":-O", "face with open mouth"}, {":o", "face with open mouth"},
    {":-o", "face with open mouth"}, {"o_O", "confused face"}, {"O_o", "confused face"},
    {">:(", "angry face"}, {">:-(", "angry face"},
    {":/", "confused face"}, {":-/", "confused face"},
    {":|", "neutral face"}, {":-|", "neutral face"}, {"-_-", "expressionless face"},
    {"<3", "red heart"}, {"</3", "broken heart"}, {"D:", "anguished face"}, {":*", "kissing face"},
}};

constexpr char32_t kZwj = 0x200D, kVs16 = 0xFE0F, kKeycap = 0x20E3;
bool skin_tone(char32_t c) { return c >= 0x1F3FB && c <= 0x1F3FF; }
bool tag_char(char32_t c) { return c >= 0xE0020 && c <= 0xE007F; }
bool emoji_start(char32_t c) {
  auto b = utf8proc_get_property(c)->boundclass;
  return b == UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC || b == UTF8PROC_BOUNDCLASS_REGIONAL_INDICATOR;
}
bool emoji_continues(char32_t c) {
  return emoji_start(c) || c == kZwj || c == kVs16 || c == kKeycap || skin_tone(c) || tag_char(c);
}
// Presentation and skin-tone modifiers change how an emoji looks, not what it says.
bool ignorable(char32_t c) { return c == kVs16 || skin_tone(c); }

void append_utf8(std::string& out, char32_t c) {
  utf8proc_uint8_t buf[4];
  auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
  out.append(reinterpret_cast<const char*>(buf), n);
}

std::vector<char32_t> decode(std::string_view s) {
  std::vector<char32_t> cps;
  size_t i = 0;
  while (i < s.size()) {
    utf8proc_int32_t c;
    auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                              static_cast<utf8proc_ssize_t>(s.size() - i), &c);
    if (n < 0)
      throw Error(fmt::format("invalid UTF-8 at byte offset {}: {}", i, utf8proc_errmsg(n)),
                  Errc::invalid_utf8);
    cps.push_back(static_cast<char32_t>(c));
    i += n;
  }
  return cps;
}

std::string clean_key(std::string_view s) {
  std::string out;
  for (char32_t c : decode(s))
    if (!ignorable(c)) append_utf8(out, c);
  return out;
}

// The `<annotation cp="X" type="tts">name</annotation>` elements under ldml/annotations; the
// others (type-less keyword lists) are not names.
void read_cldr_names(const fs::path& file, std::unordered_map<std::string, std::string>& names) {
  pugi::xml_document doc;
  const pugi::xml_parse_result parsed =
      doc.load_file(file.c_str(), pugi::parse_default, pugi::encoding_utf8);
  if (parsed.status == pugi::status_file_not_found || parsed.status == pugi::status_io_error)
    throw Error(fmt::format("cannot open CLDR annotations {} (install unicode-cldr-core)", file.string()));
  if (!parsed)
    throw Error(fmt::format("cannot parse CLDR annotations {}: {} at byte offset {}", file.string(),
                            parsed.description(), parsed.offset));
  const pugi::xml_node annotations = doc.child("ldml").child("annotations");
  if (!annotations)
    throw Error(fmt::format("CLDR annotations {} has no ldml/annotations element", file.string()));
  for (const pugi::xml_node a : annotations.children("annotation")) {
    if (std::string_view(a.attribute("type").value()) != "tts") continue;
    std::string key;
    try {
      key = clean_key(a.attribute("cp").value());
    } catch (const Error& e) {  // the user's text is fine: it is the data file that is broken
      throw Error(fmt::format("CLDR annotations {}, annotation element at byte offset {}: cp: {}",
                              file.string(), a.offset_debug(), e.what()));
    }
    auto decoded = decode(key);
    if (decoded.empty() || !emoji_start(decoded.front())) continue;  // symbols such as "√" stay text
    std::string name = a.text().get();
    std::replace(name.begin(), name.end(), ':', ' ');  // "flag: Peru" -> "flag  Peru"
    names.emplace(std::move(key), std::move(name));    // the first file wins over derived names
  }
}

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

}  // namespace

TextNormalizer TextNormalizer::from_cldr(const fs::path& cldr_dir, Lexicon words) {
  std::unordered_map<std::string, std::string> names;
  read_cldr_names(cldr_dir / "annotations" / "en.xml", names);
  read_cldr_names(cldr_dir / "annotationsDerived" / "en.xml", names);
  if (names.size() < 100)
    throw Error(fmt::format("CLDR annotations under {} hold only {} emoji names", cldr_dir.string(),
                            names.size()));
  return TextNormalizer(std::move(names), std::move(words));
}

TextNormalizer::TextNormalizer(std::unordered_map<std::string, std::string> emoji_names, Lexicon words)
    : names_(std::move(emoji_names)), words_(std::move(words)) {
  for (const auto& [k, v] : names_) longest_key_ = std::max(longest_key_, k.size());
}

std::string TextNormalizer::emoji_name(std::string_view emoji) const {
  auto it = names_.find(clean_key(emoji));
  return it == names_.end() ? "" : it->second;
}

// Fewest known words that spell `lower`; the whole string when it cannot be spelled.
std::string TextNormalizer::segment(std::string_view s) const {
  constexpr size_t kMaxWord = 24;
  const size_t n = s.size();
  constexpr int kNone = std::numeric_limits<int>::max();
  std::vector<int> best(n + 1, kNone), from(n + 1, 0);
  best[0] = 0;
  for (size_t end = 1; end <= n; ++end)
    for (size_t len = 1; len <= std::min(end, kMaxWord); ++len) {
      size_t start = end - len;
      if (best[start] == kNone || best[start] + 1 >= best[end]) continue;
      if (words_.vocab.count(std::string(s.substr(start, len)))) best[end] = best[start] + 1, from[end] = int(start);
    }
  if (best[n] == kNone) return std::string(s);
  std::vector<std::string_view> parts;
  for (size_t end = n; end > 0; end = from[end]) parts.push_back(s.substr(from[end], end - from[end]));
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += (out.empty() ? "" : " ") + std::string(*it);
  return out;
}

std::string TextNormalizer::split_hashtag(std::string_view tag) const {
  // Camel case and letter/digit changes mark word boundaries; pieces without them are segmented.
  std::vector<std::string> pieces;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) pieces.push_back(lower(cur)), cur.clear();
  };
  for (size_t i = 0; i < tag.size(); ++i) {
    unsigned char c = tag[i];
    if (c == '_') { flush(); continue; }
    if (!cur.empty()) {
      unsigned char p = cur.back();
      bool up = std::isupper(c), next_low = i + 1 < tag.size() && std::islower(static_cast<unsigned char>(tag[i + 1]));
      if ((std::islower(p) && up) || (std::isupper(p) && up && next_low) ||
          (std::isdigit(p) != 0) != (std::isdigit(c) != 0))
        flush();
    }
    cur += static_cast<char>(c);
  }
  flush();
  std::string out;
  for (const auto& p : pieces) {
    bool digits = std::all_of(p.begin(), p.end(), [](unsigned char c) { return std::isdigit(c); });
    out += (out.empty() ? "" : " ") + (digits || words_.vocab.count(p) ? p : segment(p));
  }
  return out;
}

void TextNormalizer::replace_emojis(std::string_view text, std::string& out) const {
  auto cps = decode(text);
  for (size_t i = 0; i < cps.size();) {
    if (!emoji_start(cps[i])) {
      append_utf8(out, cps[i++]);
      continue;
    }
    std::vector<char32_t> run;  // the emoji sequence, without presentation and skin-tone marks
    for (; i < cps.size() && emoji_continues(cps[i]); ++i)
      if (!ignorable(cps[i])) run.push_back(cps[i]);
    // Greedy longest match, so a ZWJ family is one name rather than four people.
    for (size_t k = 0; k < run.size();) {
      size_t matched = 0;
      std::string key, best_key;
      for (size_t j = k; j < run.size() && key.size() < longest_key_; ++j) {
        append_utf8(key, run[j]);
        if (names_.count(key)) matched = j - k + 1, best_key = key;
      }
      if (matched) {
        out += " " + names_.at(best_key) + " ";
        k += matched;
      } else {
        ++k;  // an unnamed piece (a lone ZWJ, an unknown code point) says nothing the model can read
      }
    }
  }
}

std::string TextNormalizer::normalize(std::string_view text) const {
  decode(text);  // validates the whole text before anything is rewritten
  std::string words;
  size_t i = 0, addressed = 0;  // @mentions that open the text, before any other word
  while (i < text.size()) {
    if (std::isspace(static_cast<unsigned char>(text[i]))) { ++i; continue; }
    size_t end = i;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    std::string_view tok = text.substr(i, end - i);
    i = end;
    std::string piece;
    if (starts_with_icase(tok, "http://") || starts_with_icase(tok, "https://") ||
        starts_with_icase(tok, "www.")) {
      continue;  // a link carries no emotion the model can read
    }
    auto emoticon = std::find_if(kEmoticons.begin(), kEmoticons.end(), [&](auto& e) { return e.first == tok; });
    if (emoticon != kEmoticons.end()) {
      piece = emoticon->second;
    } else if ((tok[0] == '@' || tok[0] == '#') && tok.size() > 1 && is_word_char(tok[1])) {
      size_t w = 1;
      while (w < tok.size() && is_word_char(tok[w])) ++w;
      // A reply's opening @mentions say whom it answers, not what it says (Twitter hides them in
      // replies): they go. Elsewhere a mention is a name, and GoEmotions masks names as [NAME],
      // so the model already knows what one is.
      if (tok[0] == '@' && words.empty()) {
        ++addressed;
        continue;
      }
      piece = tok[0] == '@' ? "[NAME]" : split_hashtag(tok.substr(1, w - 1));
      piece += tok.substr(w);
    } else {
      piece = respell_token(tok, words_);
    }
    words += piece + " ";
  }
  if (words.empty())  // nothing but mentions: they are all the text says
    for (size_t k = 0; k < addressed; ++k) words += "[NAME] ";
  std::string replaced;
  replace_emojis(words, replaced);
  return squeeze_spaces(replaced);
}

}  // namespace emopost::text
