#pragma once
// Words as the analysis report counts them, and the report's ablation, which trains and tests the
// text model without some words. One definition, so that the words dropped are the words counted.
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace emopost::text {

// ASCII letters lower-cased; other bytes as they are.
std::string lower(std::string_view s);

// Lower-cased words of a text: runs of letters, digits and apostrophes (ASCII; other bytes split).
std::vector<std::string> words_of(const std::string& text);

// The text without the words in `drop` (lower case, compared as words_of() reads them). What lies
// between the words stays; spaces left doubled or at the ends by a dropped word are removed.
std::string drop_words(const std::string& text, const std::set<std::string>& drop);

// Runs of spaces as one, none at the ends (the normaliser's output, and a text with words dropped).
std::string squeeze_spaces(const std::string& text);

}  // namespace emopost::text
