// WordPiece tokenizer, matching transformers' BertTokenizer (BasicTokenizer + WordpieceTokenizer)
// with do_lower_case=True, strip_accents=None (so accents are stripped) and
// tokenize_chinese_chars=True.
//
// The Python pipeline is: clean text -> space out CJK ideographs -> NFC -> str.split() -> per
// word: lower(), NFD, drop Mn, split punctuation -> WordPiece. Every step after the split works
// on one whitespace-delimited word at a time, so we run the cleaning while scanning for words and
// normalise each word as soon as it is complete. Words made of ASCII only (nearly all social-media
// text) skip utf8proc entirely: NFC/NFD are the identity there and lower() is A-Z only.
#include "emopost/text/tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <fstream>
#include <string>

#include "emopost/core/error.h"

namespace emopost::text {
namespace {

constexpr size_t kMaxCharsPerWord = 100;  // WordpieceTokenizer.max_input_chars_per_word

// ASCII classes, so the hot loop is one table load per byte.
enum : uint8_t { kWord = 0, kPunct = 1, kSpace = 2, kDrop = 3 };  // < kSpace: part of a word
constexpr std::array<uint8_t, 128> make_ascii_class() {
  std::array<uint8_t, 128> t{};
  for (int c = 0; c < 32; ++c) t[c] = kDrop;  // C0 controls (Cc) are removed by _clean_text
  t[0x7f] = kDrop;
  t['\t'] = t['\n'] = t['\r'] = t[' '] = kSpace;
  // _is_punctuation treats every non-alphanumeric printable ASCII as punctuation, even the
  // symbols ($ + < = > ^ ` | ~) that Unicode does not put in P*.
  for (int c = 33; c <= 47; ++c) t[c] = kPunct;
  for (int c = 58; c <= 64; ++c) t[c] = kPunct;
  for (int c = 91; c <= 96; ++c) t[c] = kPunct;
  for (int c = 123; c <= 126; ++c) t[c] = kPunct;
  return t;
}
constexpr auto kAsciiClass = make_ascii_class();

// transformers' _is_chinese_char: the CJK Unified Ideographs blocks and their compatibility
// blocks. Hiragana, Katakana and Hangul are deliberately not included.
bool is_cjk(int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_punct_category(int cat) {
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

bool is_cased_letter_category(int cat) {
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

// Cased / Case_Ignorable as used by Python's str.lower() for the Final_Sigma rule. utf8proc has
// neither property, so they are derived from what it has; checked against CPython over every code
// point (Unicode 14), the only misses being listed explicitly.
bool is_cased(int32_t c) {
  const int cat = utf8proc_category(c);
  if (is_cased_letter_category(cat) || utf8proc_tolower(c) != c || utf8proc_toupper(c) != c)
    return true;
  if (cat == UTF8PROC_CATEGORY_LO || cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_SO) {
    // Other_Lowercase/Other_Uppercase symbols such as ª º or squared letters are compatibility
    // forms of a single cased letter.
    int32_t buf[4];
    int boundclass = 0;
    const auto n = utf8proc_decompose_char(
        c, buf, 4, static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT),
        &boundclass);
    if (n == 1 && buf[0] != c && is_cased_letter_category(utf8proc_category(buf[0]))) return true;
  }
  // Other_Uppercase without any decomposition: circled italic and negative circled/squared
  // Latin capitals.
  return (c >= 0x1F12B && c <= 0x1F12C) || (c >= 0x1F150 && c <= 0x1F169) ||
         (c >= 0x1F170 && c <= 0x1F189);
}
bool is_case_ignorable(int32_t c) {
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
      return true;
    default:
      break;
  }
  // Word_Break MidLetter / MidNumLet / Single_Quote, which utf8proc does not expose.
  constexpr int32_t kWordBreakMid[] = {0x27,   0x2E,   0x3A,   0xB7,   0x387,  0x55F,
                                       0x5F4,  0x2018, 0x2019, 0x2024, 0x2027, 0xFE13,
                                       0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
  return std::find(std::begin(kWordBreakMid), std::end(kWordBreakMid), c) !=
         std::end(kWordBreakMid);
}

// Python lowers a capital sigma to final sigma when a cased letter precedes it and none follows
// (skipping case-ignorables both ways); a test with "ΟΔΟΣ" would otherwise give ##σ, not ##ς.
int32_t lower_sigma(const int32_t* s, size_t n, size_t i) {
  size_t j = i;
  while (j > 0 && is_case_ignorable(s[j - 1])) --j;
  if (j == 0 || !is_cased(s[j - 1])) return 0x3C3;
  size_t k = i + 1;
  while (k < n && is_case_ignorable(s[k])) ++k;
  return (k == n || !is_cased(s[k])) ? 0x3C2 : 0x3C3;
}

// One non-ASCII char at text[i] (utf8proc_iterate is strict: it rejects overlong forms,
// surrogates and values past U+10FFFF, as Python's bytes.decode("utf-8") does). Returns the code
// point and advances i; throws the same error as TextNormalizer on invalid UTF-8.
int32_t decode_utf8(std::string_view text, size_t& i) {
  utf8proc_int32_t cp;
  const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i),
                                  static_cast<utf8proc_ssize_t>(text.size() - i), &cp);
  if (n < 0)
    throw Error("invalid UTF-8 at byte offset " + std::to_string(i) + ": " + utf8proc_errmsg(n),
                Errc::invalid_utf8);
  i += static_cast<size_t>(n);
  return cp;
}

void append_utf8(std::string& out, int32_t cp) {
  uint8_t buf[4];
  const auto n = utf8proc_encode_char(cp, buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

// The head/hash below rely on little-endian loads (x86-64, aarch64).
static_assert(std::endian::native == std::endian::little);

// First min(n, 8) bytes of p as a little-endian word, zero-padded, without reading past p + n:
// short keys use overlapping loads whose shared bytes agree, so OR-ing them is exact.
uint64_t load_head(const char* p, size_t n) {
  if (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  if (n >= 4) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    return uint64_t{lo} | (uint64_t{hi} << (8 * (n - 4)));
  }
  if (n == 0) return 0;
  const auto b = [&](size_t i) { return uint64_t{static_cast<unsigned char>(p[i])}; };
  return b(0) | (b(n / 2) << (8 * (n / 2))) | (b(n - 1) << (8 * (n - 1)));
}

uint64_t hash_key(const char* p, size_t n, uint64_t head) {
  uint64_t h = (head ^ (n * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
  for (size_t i = 8; i < n; i += 8) {
    h ^= h >> 31;
    h = (h ^ load_head(p + i, std::min<size_t>(8, n - i))) * 0x94D049BB133111EBull;
  }
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

size_t count_chars(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

}  // namespace

// Per-thread buffers, reused across words and calls so the steady state allocates nothing.
struct WordPieceTokenizer::Scratch {
  std::string word;  // cleaned bytes of the current whitespace-delimited word
  std::string norm;  // the word after lower/NFD/strip-accents
  std::vector<int32_t> nfc, lower, nfd;
  std::vector<uint32_t> offsets;  // byte offset of each char of `norm`, plus the end
  std::vector<uint8_t> punct;     // per char of `norm`: is it punctuation
};

WordPieceTokenizer WordPieceTokenizer::from_file(const std::filesystem::path& vocab_txt) {
  std::ifstream in(vocab_txt, std::ios::binary);
  if (!in) throw Error("cannot open vocab file " + vocab_txt.string());
  std::vector<std::string> vocab;
  std::string line;
  // Like transformers' load_vocab: every line is a token (even an empty one), id = line number.
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // tolerate CRLF files
    vocab.push_back(std::move(line));
  }
  if (in.bad()) throw Error("cannot read vocab file " + vocab_txt.string());
  if (vocab.empty()) throw Error("vocab file " + vocab_txt.string() + " is empty");
  try {
    return WordPieceTokenizer(std::move(vocab));
  } catch (const Error& e) {
    throw Error("vocab file " + vocab_txt.string() + ": " + e.what());
  }
}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab) : vocab_(std::move(vocab)) {
  if (vocab_.size() >= (size_t{1} << 31)) throw Error("vocab too large");
  auto is_continuation = [](const std::string& t) {
    return t.size() > 2 && t[0] == '#' && t[1] == '#';
  };
  const auto n_cont =
      static_cast<size_t>(std::count_if(vocab_.begin(), vocab_.end(), is_continuation));
  auto init = [](Index& index, size_t keys, size_t skip) {
    size_t cap = 16;
    while (cap < 2 * keys) cap <<= 1;  // load factor <= 0.5 keeps probe chains short
    index.slots.assign(cap, Slot{});
    index.mask = cap - 1;
    index.skip = skip;
  };
  init(whole_, vocab_.size(), 0);
  init(continuation_, n_cont, 2);
  for (size_t id = 0; id < vocab_.size(); ++id) {
    insert(whole_, static_cast<int64_t>(id));
    if (is_continuation(vocab_[id])) insert(continuation_, static_cast<int64_t>(id));
  }
  std::string missing;
  auto special = [&](const char* name) {
    const int64_t id = find(whole_, name);
    if (id < 0) missing += std::string(missing.empty() ? "" : " ") + name;
    return id;
  };
  pad_id_ = special("[PAD]");
  unk_id_ = special("[UNK]");
  cls_id_ = special("[CLS]");
  sep_id_ = special("[SEP]");
  if (!missing.empty()) throw Error("vocab lacks special token(s): " + missing);
}

void WordPieceTokenizer::insert(Index& index, int64_t id) {
  std::string_view key = vocab_[static_cast<size_t>(id)];
  key.remove_prefix(index.skip);
  if (key.size() > UINT16_MAX) throw Error("vocab token longer than 65535 bytes");
  // A duplicate line overrides the earlier one, as in Python's dict-based vocab.
  const int64_t old = find(index, key);
  const uint64_t head = load_head(key.data(), key.size());
  const uint64_t h = hash_key(key.data(), key.size(), head);
  for (uint64_t i = h & index.mask;; i = (i + 1) & index.mask) {
    Slot& slot = index.slots[i];
    if (slot.id1 == 0 || static_cast<int64_t>(slot.id1) - 1 == old) {
      slot = Slot{head, static_cast<uint32_t>(id + 1), static_cast<uint16_t>(key.size()),
                  static_cast<uint16_t>(h >> 48)};
      break;
    }
  }
  index.max_chars = std::max(index.max_chars, count_chars(key));
}

int64_t WordPieceTokenizer::find(const Index& index, std::string_view key) const {
  const size_t n = key.size();
  const uint64_t head = load_head(key.data(), n);
  const uint64_t h = hash_key(key.data(), n, head);
  const auto tag = static_cast<uint16_t>(h >> 48);
  for (uint64_t i = h & index.mask;; i = (i + 1) & index.mask) {
    const Slot& slot = index.slots[i];
    if (slot.id1 == 0) return -1;
    if (slot.tag == tag && slot.len == n && slot.head == head) {
      const size_t id = slot.id1 - 1;
      if (n <= 8 || std::memcmp(vocab_[id].data() + index.skip + 8, key.data() + 8, n - 8) == 0)
        return static_cast<int64_t>(id);
    }
  }
}

// Greedy longest-match-first over one punctuation-free piece. For Ascii, char i is byte i and
// `offsets` is unused; otherwise offsets[i] is the byte where char i starts (n_chars + 1 entries).
template <bool Ascii>
void WordPieceTokenizer::wordpiece(const char* base, const uint32_t* offsets, size_t n_chars,
                                   std::vector<int64_t>& out) const {
  if (n_chars == 0) return;
  if (n_chars > kMaxCharsPerWord) {
    out.push_back(unk_id_);
    return;
  }
  auto at = [&](size_t c) -> size_t { return Ascii ? c : offsets[c]; };
  const size_t first = out.size();
  size_t start = 0;
  while (start < n_chars) {
    const Index& index = start == 0 ? whole_ : continuation_;
    size_t end = std::min(n_chars, start + index.max_chars);
    int64_t id = -1;
    for (; end > start; --end) {
      id = find(index, std::string_view(base + at(start), at(end) - at(start)));
      if (id >= 0) break;
    }
    if (id < 0) {  // no full segmentation: the whole word becomes [UNK]
      out.resize(first);
      out.push_back(unk_id_);
      return;
    }
    out.push_back(id);
    start = end;
  }
}

// One whitespace-delimited word (already cleaned of controls): lower, strip accents, split
// punctuation, WordPiece.
void WordPieceTokenizer::basic_word(std::string_view word, bool ascii, std::vector<int64_t>& out,
                                    Scratch& s) const {
  if (ascii) {
    std::string& w = s.norm;
    w.assign(word);
    size_t run = 0;  // start of the current punctuation-free run
    for (size_t i = 0; i < w.size(); ++i) {
      char& c = w[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      if (kAsciiClass[static_cast<unsigned char>(c)] == kPunct) {
        wordpiece<true>(w.data() + run, nullptr, i - run, out);
        wordpiece<true>(w.data() + i, nullptr, 1, out);
        run = i + 1;
      }
    }
    wordpiece<true>(w.data() + run, nullptr, w.size() - run, out);
    return;
  }

  // NFC first (BasicTokenizer normalises the whole text before splitting): composition with
  // exclusions respected, i.e. the same flags as utf8proc_NFC.
  constexpr auto kNfc = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(word.data());
  const auto len = static_cast<utf8proc_ssize_t>(word.size());
  if (s.nfc.size() < word.size() + 8) s.nfc.resize(word.size() * 2 + 8);
  auto n = utf8proc_decompose_custom(bytes, len, s.nfc.data(),
                                     static_cast<utf8proc_ssize_t>(s.nfc.size()), kNfc, nullptr,
                                     nullptr);
  if (n > static_cast<utf8proc_ssize_t>(s.nfc.size())) {
    s.nfc.resize(static_cast<size_t>(n));
    n = utf8proc_decompose_custom(bytes, len, s.nfc.data(), n, kNfc, nullptr, nullptr);
  }
  if (n < 0) throw Error(std::string("unicode normalisation failed: ") + utf8proc_errmsg(n));
  n = utf8proc_normalize_utf32(s.nfc.data(), n, kNfc);
  if (n < 0) throw Error(std::string("unicode normalisation failed: ") + utf8proc_errmsg(n));
  const auto count = static_cast<size_t>(n);

  // str.lower(): the simple mapping is enough except for capital sigma (context-dependent) and
  // U+0130, whose full mapping "i" + U+0307 loses its mark below anyway.
  s.lower.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const int32_t c = s.nfc[i];
    s.lower[i] = c == 0x3A3 ? lower_sigma(s.nfc.data(), count, i) : utf8proc_tolower(c);
  }

  // NFD: canonical decomposition of each char, then canonical ordering of combining marks.
  s.nfd.clear();
  for (size_t i = 0; i < count; ++i) {
    int32_t buf[8];
    int boundclass = 0;
    const auto k = utf8proc_decompose_char(s.lower[i], buf, 8, UTF8PROC_DECOMPOSE, &boundclass);
    if (k < 0 || k > 8) throw Error("unicode decomposition failed");
    s.nfd.insert(s.nfd.end(), buf, buf + k);
  }
  for (size_t i = 0; i + 1 < s.nfd.size();) {
    const int cc1 = utf8proc_get_property(s.nfd[i])->combining_class;
    const int cc2 = utf8proc_get_property(s.nfd[i + 1])->combining_class;
    if (cc2 > 0 && cc1 > cc2) {
      std::swap(s.nfd[i], s.nfd[i + 1]);
      if (i > 0) --i;
    } else {
      ++i;
    }
  }

  // Drop nonspacing marks (the accents) and note where punctuation splits the word.
  s.norm.clear();
  s.offsets.clear();
  s.punct.clear();
  for (const int32_t c : s.nfd) {
    const int cat = utf8proc_category(c);
    if (cat == UTF8PROC_CATEGORY_MN) continue;
    s.offsets.push_back(static_cast<uint32_t>(s.norm.size()));
    s.punct.push_back(c < 128 ? kAsciiClass[static_cast<size_t>(c)] == kPunct
                              : is_punct_category(cat));
    append_utf8(s.norm, c);
  }
  s.offsets.push_back(static_cast<uint32_t>(s.norm.size()));

  const size_t chars = s.punct.size();
  size_t run = 0;
  for (size_t i = 0; i < chars; ++i) {
    if (!s.punct[i]) continue;
    wordpiece<false>(s.norm.data(), s.offsets.data() + run, i - run, out);
    wordpiece<false>(s.norm.data(), s.offsets.data() + i, 1, out);
    run = i + 1;
  }
  wordpiece<false>(s.norm.data(), s.offsets.data() + run, chars - run, out);
}

void WordPieceTokenizer::encode_into(std::string_view text, std::vector<int64_t>& out,
                                     Scratch& s) const {
  std::string& word = s.word;
  word.clear();
  bool ascii = true;
  auto flush = [&] {
    if (!word.empty()) basic_word(word, ascii, out, s);
    word.clear();
    ascii = true;
  };
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      const uint8_t cls = kAsciiClass[b];
      if (cls == kSpace) {
        flush();
        ++i;
      } else if (cls == kDrop) {
        ++i;
      } else {  // copy the whole printable-ASCII run at once
        size_t j = i + 1;
        while (j < n) {
          const auto c = static_cast<unsigned char>(text[j]);
          if (c >= 0x80 || kAsciiClass[c] >= kSpace) break;
          ++j;
        }
        word.append(text.data() + i, j - i);
        i = j;
      }
      continue;
    }
    const size_t start = i;
    const int32_t cp = decode_utf8(text, i);
    if (cp == 0xFFFD) continue;
    const utf8proc_property_t* prop = utf8proc_get_property(cp);
    const int cat = prop->category;
    // _clean_text drops unassigned, control, format, surrogate and private-use chars ...
    if (cat == UTF8PROC_CATEGORY_CN || cat >= UTF8PROC_CATEGORY_CC) continue;
    // ... and str.split() then breaks on Zs and on bidi whitespace (U+2028, U+2029 survive
    // cleaning as Zl/Zp but still split).
    if (cat == UTF8PROC_CATEGORY_ZS || prop->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
        prop->bidi_class == UTF8PROC_BIDI_CLASS_B || prop->bidi_class == UTF8PROC_BIDI_CLASS_S) {
      flush();
      continue;
    }
    if (is_cjk(cp)) {  // an ideograph is a word of its own
      flush();
      word.assign(text.substr(start, i - start));
      ascii = false;
      flush();
      continue;
    }
    word.append(text.substr(start, i - start));
    ascii = false;
  }
  flush();
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  thread_local Scratch scratch;
  std::vector<int64_t> ids;
  encode_into(text, ids, scratch);
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int64_t id : ids) tokens.push_back(vocab_[static_cast<size_t>(id)]);
  return tokens;
}

std::vector<int64_t> WordPieceTokenizer::encode(std::string_view text, size_t max_length) const {
  if (max_length == 1) throw Error("max_length must be 0 (no limit) or at least 2");
  thread_local Scratch scratch;
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 4);
  ids.push_back(cls_id_);
  encode_into(text, ids, scratch);
  // HF truncation=True on a single sequence drops tokens from the end, then adds the specials.
  if (max_length > 0 && ids.size() + 1 > max_length) ids.resize(max_length - 1);
  ids.push_back(sep_id_);
  return ids;
}

BatchEncoding WordPieceTokenizer::encode_batch(const std::vector<std::string>& texts,
                                               size_t max_length) const {
  std::vector<std::vector<int64_t>> rows;
  rows.reserve(texts.size());
  for (const auto& t : texts) rows.push_back(encode(t, max_length));
  std::vector<const std::vector<int64_t>*> refs;
  for (const auto& r : rows) refs.push_back(&r);
  return pad(refs);
}

BatchEncoding WordPieceTokenizer::pad(const std::vector<const std::vector<int64_t>*>& rows) const {
  size_t cols = 0;
  for (const auto* r : rows) cols = std::max(cols, r->size());
  BatchEncoding batch;
  batch.rows = static_cast<int64_t>(rows.size());
  batch.cols = static_cast<int64_t>(cols);
  batch.ids.assign(rows.size() * cols, pad_id_);
  batch.mask.assign(rows.size() * cols, 0);
  for (size_t r = 0; r < rows.size(); ++r) {
    std::copy(rows[r]->begin(), rows[r]->end(), batch.ids.begin() + static_cast<ptrdiff_t>(r * cols));
    std::fill_n(batch.mask.begin() + static_cast<ptrdiff_t>(r * cols), rows[r]->size(), 1);
  }
  return batch;
}

int64_t WordPieceTokenizer::token_to_id(std::string_view token) const {
  const int64_t id = find(whole_, token);
  return id < 0 ? unk_id_ : id;
}

const std::string& WordPieceTokenizer::id_to_token(int64_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.size())
    throw Error("token id " + std::to_string(id) + " is outside the vocab (size " +
                std::to_string(vocab_.size()) + ")");
  return vocab_[static_cast<size_t>(id)];
}

}  // namespace emopost::text
