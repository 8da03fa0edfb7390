#pragma once
// WordPiece tokenizer that reproduces transformers' BertTokenizer (do_lower_case=True,
// strip accents, tokenize_chinese_chars) token for token. No torch here.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace emopost::text {

// Ids of a batch, row-major [rows x cols], padded with pad_id; mask is 1 for real tokens.
struct BatchEncoding {
  std::vector<int64_t> ids;
  std::vector<int64_t> mask;
  int64_t rows = 0;
  int64_t cols = 0;
};

class WordPieceTokenizer {
 public:
  // vocab.txt: one token per line, id = line number. Throws emopost::Error if unreadable or
  // if [PAD] [UNK] [CLS] [SEP] are missing.
  static WordPieceTokenizer from_file(const std::filesystem::path& vocab_txt);
  explicit WordPieceTokenizer(std::vector<std::string> vocab);

  // Basic + WordPiece tokens, no specials. Throws emopost::Error on invalid UTF-8.
  std::vector<std::string> tokenize(std::string_view text) const;

  // [CLS] tokens [SEP]; when max_length > 0 the result is truncated to max_length (specials kept).
  std::vector<int64_t> encode(std::string_view text, size_t max_length = 0) const;

  // Encodes each text, truncating to max_length (0 = no limit) and padding to the longest row.
  BatchEncoding encode_batch(const std::vector<std::string>& texts, size_t max_length = 0) const;
  // Pads sequences of ids (encode()'s output) into one batch: the only padding code in emopost.
  BatchEncoding pad(const std::vector<const std::vector<int64_t>*>& rows) const;

  int64_t token_to_id(std::string_view token) const;  // unk_id() when absent
  const std::string& id_to_token(int64_t id) const;
  size_t vocab_size() const { return vocab_.size(); }
  const std::vector<std::string>& tokens() const { return vocab_; }  // by id
  int64_t pad_id() const { return pad_id_; }
  int64_t unk_id() const { return unk_id_; }
  int64_t cls_id() const { return cls_id_; }
  int64_t sep_id() const { return sep_id_; }

 private:
  // Open-addressing index from token text to id, looked up with a string_view (no std::string is
  // built). A slot keeps the key's first 8 bytes, so most tokens compare without touching vocab_;
  // longer keys compare their tail against vocab_[id] from offset `skip`.
  struct Slot {
    uint64_t head = 0;  // first min(len, 8) key bytes, zero-padded
    uint32_t id1 = 0;   // id + 1; 0 marks an empty slot
    uint16_t len = 0;
    uint16_t tag = 0;  // top hash bits, to reject most mismatches early
  };
  struct Index {
    std::vector<Slot> slots;
    uint64_t mask = 0;
    size_t skip = 0;       // 2 for the continuation index (keys are tokens minus "##")
    size_t max_chars = 0;  // longest key in code points: longer candidates cannot match
  };
  struct Scratch;

  int64_t find(const Index& index, std::string_view key) const;
  void insert(Index& index, int64_t id);
  void encode_into(std::string_view text, std::vector<int64_t>& out, Scratch& scratch) const;
  void basic_word(std::string_view word, bool ascii, std::vector<int64_t>& out,
                  Scratch& scratch) const;
  template <bool Ascii>
  void wordpiece(const char* base, const uint32_t* offsets, size_t n_chars,
                 std::vector<int64_t>& out) const;

  std::vector<std::string> vocab_;
  Index whole_;         // every token, for word-initial pieces and token_to_id
  Index continuation_;  // "##x" tokens keyed on x, so continuations need no "##" + x string
  int64_t pad_id_ = 0, unk_id_ = 0, cls_id_ = 0, sep_id_ = 0;
};

}  // namespace emopost::text
