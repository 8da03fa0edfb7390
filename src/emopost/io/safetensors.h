#pragma once
// safetensors reader (memory-mapped, bounds-checked) and writer, without torch.
// Format: 8-byte little-endian header length N, N bytes of JSON, then the tensor bytes;
// data_offsets count from the end of the header.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace emopost::io {

enum class DType { F32, F16, BF16, I64, I32, U8 };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);        // "F32", ...
DType dtype_from_name(std::string_view name);  // throws emopost::Error on unknown names

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;  // valid while the owning file/buffer lives
  size_t nbytes = 0;
};

// An opened file. Validation happens in open(): a header past the end of the file, bad JSON,
// offsets out of range or overlapping, a shape that disagrees with the byte count, or an
// unknown dtype throws emopost::Error naming the file and the tensor.
class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::filesystem::path& path);
  // The same checks on bytes already in memory (the buffer is copied).
  static SafetensorsFile from_bytes(std::string bytes, std::string origin = "<memory>");

  const std::vector<TensorView>& tensors() const { return tensors_; }  // in file order
  const TensorView* find(std::string_view name) const;  // nullptr when absent
  const TensorView& at(std::string_view name) const;    // throws emopost::Error when absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& origin() const { return origin_; }

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

 private:
  SafetensorsFile() = default;
  void parse();  // validates storage_ and fills tensors_, index_, metadata_
  struct Storage;
  std::unique_ptr<Storage> storage_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
  std::string origin_;
};

// Writes tensors contiguously in the reference writer's order (element size descending, then
// name, so every tensor is aligned to its element size) after a header padded to 8 bytes.
// Metadata defaults to {"format": "pt"} so that transformers accepts the file.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                       std::map<std::string, std::string> metadata = {{"format", "pt"}});
std::string to_safetensors_bytes(const std::vector<TensorView>& tensors,
                                 std::map<std::string, std::string> metadata = {{"format", "pt"}});

}  // namespace emopost::io
