#include "emopost/io/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "emopost/core/error.h"

namespace fs = std::filesystem;
using emopost::Error;
using namespace emopost::io;

namespace {

// A fresh directory per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("emopost_st_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write_raw(const std::string& name, const std::string& bytes) {
    fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }

  // Expects both open() and from_bytes() to reject `bytes` with a message naming the file
  // and containing `needle` (a tensor name, or a word about the header).
  void expect_rejected(const std::string& bytes, const std::string& needle) {
    const std::string file = "bad_" + std::to_string(counter_++) + ".safetensors";
    fs::path p = write_raw(file, bytes);
    for (int via_file = 0; via_file < 2; ++via_file) {
      try {
        if (via_file)
          SafetensorsFile::open(p);
        else
          SafetensorsFile::from_bytes(bytes, file);
        ADD_FAILURE() << "accepted a malformed file (needle " << needle << ")";
      } catch (const Error& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find(file), std::string::npos) << msg;
        EXPECT_NE(msg.find(needle), std::string::npos) << msg;
      }
    }
  }

  fs::path dir_;
  int counter_ = 0;
};

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &n, 8);
  return s;
}

// A file with the given header text and data section.
std::string file_bytes(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

template <typename T>
TensorView view_of(const std::string& name, DType dt, std::vector<int64_t> shape,
                   const std::vector<T>& v) {
  return TensorView{name, dt, std::move(shape), reinterpret_cast<const std::byte*>(v.data()),
                    v.size() * sizeof(T)};
}

void expect_same(const TensorView& a, const TensorView& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.dtype, b.dtype) << a.name;
  EXPECT_EQ(a.shape, b.shape) << a.name;
  ASSERT_EQ(a.nbytes, b.nbytes) << a.name;
  if (a.nbytes) EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << a.name;
}

}  // namespace

TEST(SafetensorsDType, NamesAndSizes) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::U8})
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::I64), 8u);
  EXPECT_THROW(dtype_from_name("F64"), Error);
}

TEST_F(SafetensorsTest, RoundTripEveryDtypeBitExact) {
  const float inf = std::numeric_limits<float>::infinity();
  uint32_t nan_bits = 0x7fc12345;  // a NaN with a payload must survive untouched
  float nan;
  std::memcpy(&nan, &nan_bits, 4);
  std::vector<float> f32{0.f, -0.f, 1.5f, -3.25e-40f, inf, -inf, nan, 1e30f};
  std::vector<uint16_t> f16{0x0000, 0x8000, 0x3c00, 0x7c00, 0xfc00, 0x7e01, 0x0001};
  std::vector<uint16_t> bf16{0x3f80, 0xbf80, 0x7f80, 0x7fc1, 0x0001, 0x4049};
  std::vector<int64_t> i64{std::numeric_limits<int64_t>::min(), -1, 0, 1,
                           std::numeric_limits<int64_t>::max(), 42};
  std::vector<int32_t> i32{std::numeric_limits<int32_t>::min(), -7, 0, 7,
                           std::numeric_limits<int32_t>::max(), 3};
  std::vector<uint8_t> u8(256);
  for (int i = 0; i < 256; ++i) u8[i] = static_cast<uint8_t>(255 - i);

  // Names chosen so that name order differs from argument order.
  std::vector<TensorView> in{
      view_of("z.f32", DType::F32, {2, 4}, f32),     view_of("b.f16", DType::F16, {7}, f16),
      view_of("a.bf16", DType::BF16, {2, 3}, bf16),  view_of("m.i64", DType::I64, {3, 1, 2}, i64),
      view_of("c.i32", DType::I32, {6}, i32),        view_of("u8", DType::U8, {16, 16}, u8),
  };
  std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "h\xc3\xa9llo \"q\""}};

  fs::path p = dir_ / "all.safetensors";
  write_safetensors(p, in, meta);
  std::string bytes = to_safetensors_bytes(in, meta);
  ASSERT_EQ(fs::file_size(p), bytes.size());

  // Header padded to 8 bytes and data contiguous after it.
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  size_t total = 0;
  for (const auto& t : in) total += t.nbytes;
  EXPECT_EQ(bytes.size(), 8 + n + total);

  for (int via_file = 0; via_file < 2; ++via_file) {
    SafetensorsFile f = via_file ? SafetensorsFile::open(p) : SafetensorsFile::from_bytes(bytes);
    ASSERT_EQ(f.tensors().size(), in.size());
    EXPECT_EQ(f.metadata(), meta);
    for (const auto& t : in) {
      const TensorView* got = f.find(t.name);
      ASSERT_NE(got, nullptr) << t.name;
      expect_same(*got, t);
    }
    // Layout of the reference writer: element size descending, then name; so every tensor
    // starts at a multiple of its element size even after the odd-sized F16 one.
    std::vector<std::string> names;
    for (const auto& t : f.tensors()) names.push_back(t.name);
    EXPECT_EQ(names, (std::vector<std::string>{"m.i64", "c.i32", "z.f32", "a.bf16", "b.f16", "u8"}));
    for (const auto& t : f.tensors()) {
      const auto offset = static_cast<size_t>(t.data - f.tensors().front().data);
      EXPECT_EQ(offset % dtype_size(t.dtype), 0u) << t.name;
    }
    EXPECT_EQ(f.find("missing"), nullptr);
    EXPECT_THROW(f.at("missing"), Error);
  }
}

TEST_F(SafetensorsTest, ScalarAndZeroSizeTensors) {
  std::vector<float> scalar{3.5f};
  std::vector<int64_t> none;
  std::vector<TensorView> in{view_of("scalar", DType::F32, {}, scalar),
                             view_of("empty", DType::I64, {0, 3}, none),
                             view_of("empty2", DType::U8, {2, 0}, none)};
  fs::path p = dir_ / "s.safetensors";
  write_safetensors(p, in, {});
  SafetensorsFile f = SafetensorsFile::open(p);
  EXPECT_TRUE(f.metadata().empty());
  for (const auto& t : in) expect_same(f.at(t.name), t);
  EXPECT_TRUE(f.at("scalar").shape.empty());
  EXPECT_EQ(f.at("empty").nbytes, 0u);

  // A file with only empty tensors has an empty data section.
  SafetensorsFile g = SafetensorsFile::from_bytes(to_safetensors_bytes({in[1]}));
  EXPECT_EQ(g.at("empty").shape, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(g.metadata().at("format"), "pt");
}

TEST_F(SafetensorsTest, MovedFileKeepsViewsValid) {
  std::vector<int32_t> v{1, 2, 3};
  std::string bytes = to_safetensors_bytes({view_of("t", DType::I32, {3}, v)});
  SafetensorsFile a = SafetensorsFile::from_bytes(bytes);
  const std::byte* before = a.at("t").data;
  SafetensorsFile b = std::move(a);
  EXPECT_EQ(b.at("t").data, before);
  EXPECT_EQ(std::memcmp(b.at("t").data, v.data(), 12), 0);
}

TEST_F(SafetensorsTest, ReadsDistilbertFixture) {
  auto f = SafetensorsFile::open(EMOPOST_TEST_DATA "/hf/distilbert/tiny/model.safetensors");
  EXPECT_EQ(f.tensors().size(), 40u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const auto& we = f.at("distilbert.embeddings.word_embeddings.weight");
  EXPECT_EQ(we.dtype, DType::F32);
  EXPECT_EQ(we.shape, (std::vector<int64_t>{30522, 32}));
  EXPECT_EQ(we.nbytes, 30522u * 32 * 4);
  EXPECT_EQ(f.at("classifier.weight").shape, (std::vector<int64_t>{7, 32}));
  EXPECT_EQ(f.at("pre_classifier.bias").shape, (std::vector<int64_t>{32}));
  EXPECT_EQ(f.at("distilbert.transformer.layer.1.ffn.lin1.weight").shape,
            (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(f.at("distilbert.embeddings.position_embeddings.weight").shape,
            (std::vector<int64_t>{128, 32}));
  // The data section is 8-byte aligned in the file, so a float pointer can be used in place.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(we.data) % 4, 0u);
  const float* w = reinterpret_cast<const float*>(we.data);
  for (size_t i = 0; i < 64; ++i) EXPECT_TRUE(std::isfinite(w[i]));

  // Rewriting the checkpoint reproduces every tensor byte for byte.
  fs::path p = dir_ / "copy.safetensors";
  write_safetensors(p, f.tensors());
  auto g = SafetensorsFile::open(p);
  ASSERT_EQ(g.tensors().size(), f.tensors().size());
  for (const auto& t : f.tensors()) expect_same(g.at(t.name), t);
}

TEST_F(SafetensorsTest, ReadsVitExpectedFixture) {
  auto f = SafetensorsFile::open(EMOPOST_TEST_DATA "/hf/vit/expected.safetensors");
  EXPECT_TRUE(f.metadata().empty());
  const auto& labels = f.at("train_labels");
  EXPECT_EQ(labels.dtype, DType::I64);
  EXPECT_EQ(labels.shape, (std::vector<int64_t>{2}));
  for (int i = 0; i < 2; ++i) {
    int64_t l;
    std::memcpy(&l, labels.data + 8 * i, 8);
    EXPECT_GE(l, 0);
    EXPECT_LT(l, 7);
  }
  EXPECT_EQ(f.at("pixel_values").shape, (std::vector<int64_t>{2, 3, 32, 32}));
  EXPECT_EQ(f.at("hidden_state_2").shape, (std::vector<int64_t>{2, 17, 32}));
  EXPECT_EQ(f.at("logits").dtype, DType::F32);
  EXPECT_EQ(f.at("logits").shape, (std::vector<int64_t>{2, 7}));
  float loss;
  std::memcpy(&loss, f.at("train_loss_before_step").data, 4);
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_GT(loss, 0.f);
  // tensors() follows the byte order of the file: the I64 labels come first there.
  EXPECT_EQ(f.tensors().front().name, "train_labels");
}

// ---- malformed files: header level (message names the file) ----

TEST_F(SafetensorsTest, RejectsEmptyFile) { expect_rejected("", "too short"); }
TEST_F(SafetensorsTest, RejectsTinyFile) { expect_rejected(std::string("\x05\0\0", 3), "too short"); }

TEST_F(SafetensorsTest, RejectsHeaderLengthPastEnd) {
  expect_rejected(le64(100) + "{}", "past the end");
}

TEST_F(SafetensorsTest, RejectsAbsurdHeaderLength) {
  expect_rejected(le64(200'000'000) + "{}", "absurd");
  expect_rejected(le64(~uint64_t{0}) + "{}", "absurd");  // 8 + N would wrap around
}

TEST_F(SafetensorsTest, RejectsInvalidJson) {
  expect_rejected(file_bytes("{\"a\": {\"dtype\": "), "not valid JSON");
  expect_rejected(file_bytes(std::string("{}\0\0", 4)), "not valid JSON");
}

TEST_F(SafetensorsTest, RejectsNonObjectHeader) {
  expect_rejected(file_bytes("[1, 2, 3]"), "not a JSON object");
}

TEST_F(SafetensorsTest, RejectsDuplicateTensor) {
  expect_rejected(file_bytes(R"({"dup": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},)"
                             R"( "dup": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
                             "ab"),
                  "dup");
}

TEST_F(SafetensorsTest, RejectsBadMetadata) {
  expect_rejected(file_bytes(R"({"__metadata__": ["pt"]})"), "__metadata__");
  expect_rejected(file_bytes(R"({"__metadata__": {"format": "pt", "epoch": 3}})"), "epoch");
}

// ---- malformed tensor entries (message names the file and the tensor) ----

TEST_F(SafetensorsTest, RejectsEntryNotObject) {
  expect_rejected(file_bytes(R"({"w.weight": 3})"), "w.weight");
}

TEST_F(SafetensorsTest, RejectsMissingDtype) {
  expect_rejected(file_bytes(R"({"nodtype": {"shape": [1], "data_offsets": [0, 4]}})", "abcd"),
                  "nodtype");
}

TEST_F(SafetensorsTest, RejectsMissingShape) {
  expect_rejected(file_bytes(R"({"noshape": {"dtype": "F32", "data_offsets": [0, 4]}})", "abcd"),
                  "noshape");
}

TEST_F(SafetensorsTest, RejectsMissingOffsets) {
  expect_rejected(file_bytes(R"({"nooffs": {"dtype": "F32", "shape": [1]}})", "abcd"), "nooffs");
}

TEST_F(SafetensorsTest, RejectsWrongJsonTypes) {
  const std::string d = "abcd";
  expect_rejected(file_bytes(R"({"t1": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}})", d),
                  "t1");
  expect_rejected(file_bytes(R"({"t2": {"dtype": "F32", "shape": "1", "data_offsets": [0, 4]}})", d),
                  "t2");
  expect_rejected(file_bytes(R"({"t3": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}})", d),
                  "t3");
  expect_rejected(file_bytes(R"({"t4": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", d),
                  "t4");
  expect_rejected(file_bytes(R"({"t5": {"dtype": "F32", "shape": [1], "data_offsets": "0,4"}})", d),
                  "t5");
  expect_rejected(file_bytes(R"({"t6": {"dtype": "F32", "shape": [1], "data_offsets": [0, "4"]}})", d),
                  "t6");
  expect_rejected(file_bytes(R"({"t7": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})", d),
                  "t7");
}

TEST_F(SafetensorsTest, RejectsUnknownDtype) {
  std::string bytes =
      file_bytes(R"({"double_t": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})",
                 "01234567");
  expect_rejected(bytes, "double_t");
  expect_rejected(bytes, "F64");
}

TEST_F(SafetensorsTest, RejectsNegativeDim) {
  expect_rejected(file_bytes(R"({"neg": {"dtype": "U8", "shape": [-1, 4], "data_offsets": [0, 4]}})",
                             "abcd"),
                  "neg");
}

TEST_F(SafetensorsTest, RejectsShapeOverflow) {
  // 2^32 * 2^32 wraps to 0 in 64 bits, which would "match" an empty range without the check.
  expect_rejected(
      file_bytes(R"({"huge": {"dtype": "U8", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})"),
      "huge");
  // The element count fits but the byte count (x4) does not.
  expect_rejected(
      file_bytes(R"({"huge4": {"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 0]}})"),
      "huge4");
  expect_rejected(
      file_bytes(R"({"huge8": {"dtype": "U8", "shape": [18446744073709551615], "data_offsets": [0, 0]}})"),
      "huge8");
}

TEST_F(SafetensorsTest, RejectsBeginAfterEnd) {
  expect_rejected(file_bytes(R"({"rev": {"dtype": "U8", "shape": [0], "data_offsets": [4, 0]}})",
                             "abcd"),
                  "rev");
}

TEST_F(SafetensorsTest, RejectsEndPastData) {
  expect_rejected(file_bytes(R"({"past": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
                             "abcd"),
                  "past");
  expect_rejected(
      file_bytes(R"({"wrap": {"dtype": "U8", "shape": [1], "data_offsets": [18446744073709551615, 0]}})",
                 "abcd"),
      "wrap");
}

TEST_F(SafetensorsTest, RejectsByteSizeMismatch) {
  expect_rejected(file_bytes(R"({"mismatch": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})",
                             "abcdefgh"),
                  "mismatch");
}

TEST_F(SafetensorsTest, RejectsOverlap) {
  // Listed out of order in the header so that only sorting by offset finds the overlap.
  std::string h =
      R"({"later": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]},)"
      R"( "first": {"dtype": "U8", "shape": [6], "data_offsets": [0, 6]}})";
  expect_rejected(file_bytes(h, "0123456789"), "later");
  expect_rejected(file_bytes(h, "0123456789"), "first");
}

TEST_F(SafetensorsTest, AcceptsEmptyTensorInsideAnother) {
  std::string h =
      R"({"a": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]},)"
      R"( "e": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]}})";
  auto f = SafetensorsFile::from_bytes(file_bytes(h, "01234567"));
  EXPECT_EQ(f.tensors().size(), 2u);
}

TEST_F(SafetensorsTest, RejectsMissingFile) {
  try {
    SafetensorsFile::open(dir_ / "nope.safetensors");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.safetensors"), std::string::npos);
  }
  EXPECT_THROW(SafetensorsFile::open(dir_), Error);  // a directory
}

TEST_F(SafetensorsTest, WriterRejectsInconsistentViews) {
  std::vector<float> v{1, 2, 3};
  EXPECT_THROW(to_safetensors_bytes({view_of("bad", DType::F32, {4}, v)}), Error);
  EXPECT_THROW(to_safetensors_bytes({view_of("x", DType::F32, {3}, v), view_of("x", DType::F32, {3}, v)}),
               Error);
  EXPECT_THROW(to_safetensors_bytes({view_of("__metadata__", DType::F32, {3}, v)}), Error);
  try {
    to_safetensors_bytes({view_of("neg", DType::F32, {-3}, v)});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("neg"), std::string::npos);
  }
}

TEST_F(SafetensorsTest, OverwritesAFileThatIsStillMapped) {
  std::vector<int32_t> a{1, 2, 3}, b{9, 8};
  fs::path p = dir_ / "ckpt.safetensors";
  write_safetensors(p, {view_of("t", DType::I32, {3}, a)});
  auto old = SafetensorsFile::open(p);
  write_safetensors(p, {view_of("t", DType::I32, {2}, b)});
  EXPECT_EQ(std::memcmp(old.at("t").data, a.data(), 12), 0);  // old mapping intact
  EXPECT_EQ(SafetensorsFile::open(p).at("t").shape, (std::vector<int64_t>{2}));
  for (const auto& e : fs::directory_iterator(dir_))  // no temporary left behind
    EXPECT_EQ(e.path().filename(), "ckpt.safetensors");
}
