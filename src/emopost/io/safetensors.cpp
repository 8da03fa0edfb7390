#include "emopost/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "emopost/core/error.h"

namespace emopost::io {

// The format is little-endian; byte-swapping is not worth supporting for the hosts we target.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little-endian");

namespace {

// The Rust reference implementation refuses headers above 100 MB; so do we, before allocating.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
  throw Error(fmt::format("safetensors {}: {}", origin, what));
}
[[noreturn]] void fail_tensor(const std::string& origin, const std::string& name,
                              const std::string& what) {
  throw Error(fmt::format("safetensors {}: tensor '{}': {}", origin, name, what));
}

std::optional<DType> parse_dtype(std::string_view name) {
  if (name == "F32") return DType::F32;
  if (name == "F16") return DType::F16;
  if (name == "BF16") return DType::BF16;
  if (name == "I64") return DType::I64;
  if (name == "I32") return DType::I32;
  if (name == "U8") return DType::U8;
  return std::nullopt;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Element count with overflow detection; nullopt on overflow or a negative dimension.
std::optional<uint64_t> checked_numel(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return std::nullopt;
  }
  return n;
}

// nlohmann stores non-negative integers as unsigned and negative ones as signed; floats
// ("3.0") are rejected because a shape or offset written as a float means a broken writer.
std::optional<uint64_t> as_unsigned(const nlohmann::ordered_json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  return std::nullopt;
}

using Json = nlohmann::ordered_json;

// Parses the header text; duplicate top-level keys are an error because JSON parsers disagree on
// which one wins, so two readers could see different tensors in the same file.
Json parse_header(std::string_view text, const std::string& origin) {
  std::set<std::string> seen;
  std::string duplicate;
  auto cb = [&](int depth, Json::parse_event_t ev, Json& parsed) {
    if (ev == Json::parse_event_t::key && depth == 1 && duplicate.empty() &&
        !seen.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  // nlohmann treats a NUL byte as end of input and would accept "{}\0garbage"; no valid JSON
  // text contains a raw NUL, so reject it here like the reference implementation does.
  if (text.find('\0') != std::string_view::npos)
    fail(origin, fmt::format("header ({} bytes) is not valid JSON: it contains a NUL byte",
                             text.size()));
  Json header;
  try {
    header = Json::parse(text.begin(), text.end(), cb);
  } catch (const nlohmann::json::exception& e) {
    fail(origin, fmt::format("header ({} bytes) is not valid JSON: {}", text.size(), e.what()));
  }
  if (!header.is_object()) fail(origin, "header is not a JSON object");
  if (!duplicate.empty()) fail_tensor(origin, duplicate, "appears twice in the header");
  return header;
}

TensorView parse_entry(const std::string& origin, const std::string& name, const Json& v,
                       const std::byte* data, uint64_t data_size, uint64_t& begin) {
  auto bad = [&](const std::string& what) { fail_tensor(origin, name, what); };
  if (!v.is_object()) bad("header entry is not a JSON object");
  TensorView t;
  t.name = name;

  auto dt = v.find("dtype");
  if (dt == v.end()) bad("missing 'dtype'");
  if (!dt->is_string()) bad("'dtype' is not a string");
  auto parsed = parse_dtype(dt->get_ref<const std::string&>());
  if (!parsed) bad(fmt::format("unknown dtype '{}'", dt->get_ref<const std::string&>()));
  t.dtype = *parsed;

  auto sh = v.find("shape");
  if (sh == v.end()) bad("missing 'shape'");
  if (!sh->is_array()) bad("'shape' is not an array");
  for (size_t i = 0; i < sh->size(); ++i) {
    const Json& d = (*sh)[i];
    if (d.is_number_integer() && !d.is_number_unsigned())
      bad(fmt::format("negative dimension shape[{}] = {}", i, d.get<int64_t>()));
    auto u = as_unsigned(d);
    if (!u) bad(fmt::format("shape[{}] is not an integer", i));
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      bad(fmt::format("dimension shape[{}] = {} is too large", i, *u));
    t.shape.push_back(static_cast<int64_t>(*u));
  }

  auto off = v.find("data_offsets");
  if (off == v.end()) bad("missing 'data_offsets'");
  if (!off->is_array() || off->size() != 2) bad("'data_offsets' is not an array of two integers");
  auto b = as_unsigned((*off)[0]), e = as_unsigned((*off)[1]);
  if (!b || !e) bad("'data_offsets' must hold two non-negative integers");
  if (*b > *e) bad(fmt::format("data_offsets [{}, {}] begin after end", *b, *e));
  if (*e > data_size)
    bad(fmt::format("data_offsets [{}, {}] run past the data section of {} bytes", *b, *e,
                    data_size));

  auto numel = checked_numel(t.shape);
  uint64_t need = 0;
  if (!numel || __builtin_mul_overflow(*numel, dtype_size(t.dtype), &need))
    bad(fmt::format("shape {} overflows the element count", shape_str(t.shape)));
  if (*e - *b != need)
    bad(fmt::format("data_offsets [{}, {}] hold {} bytes but shape {} of {} needs {}", *b, *e,
                    *e - *b, shape_str(t.shape), dtype_name(t.dtype), need));

  begin = *b;
  t.data = data + *b;
  t.nbytes = static_cast<size_t>(need);
  return t;
}

}  // namespace

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I64: return 8;
    case DType::I32: return 4;
    case DType::U8: return 1;
  }
  throw Error("dtype_size: invalid DType value");
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::U8: return "U8";
  }
  throw Error("dtype_name: invalid DType value");
}

DType dtype_from_name(std::string_view name) {
  if (auto t = parse_dtype(name)) return *t;
  throw Error(fmt::format("unknown safetensors dtype '{}'", name));
}

// Owns the bytes the TensorViews point into: either an mmap of the file or a copied buffer.
// It lives on the heap so that moving a SafetensorsFile keeps every view's pointer valid.
struct SafetensorsFile::Storage {
  std::string owned;
  void* map = nullptr;
  size_t map_len = 0;
  const std::byte* bytes = nullptr;
  size_t size = 0;
  ~Storage() {
    if (map) ::munmap(map, map_len);
  }
};

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

// Validates the whole layout before any view is handed out; all size arithmetic is done in
// uint64 with explicit overflow checks so a hostile header cannot point outside the buffer.
void SafetensorsFile::parse() {
  const std::byte* base = storage_->bytes;
  const uint64_t size = storage_->size;
  if (size < 8)
    fail(origin_, fmt::format("file is {} bytes, too short for the 8-byte header length", size));
  uint64_t n = 0;
  std::memcpy(&n, base, 8);
  if (n > kMaxHeaderBytes)
    fail(origin_, fmt::format("header length {} is absurd (limit {} bytes)", n, kMaxHeaderBytes));
  if (n > size - 8)
    fail(origin_, fmt::format("header length {} runs past the end of the file ({} bytes)", n, size));

  Json header = parse_header({reinterpret_cast<const char*>(base + 8), n}, origin_);
  const std::byte* data = base + 8 + n;
  const uint64_t data_size = size - 8 - n;

  std::vector<std::pair<uint64_t, TensorView>> found;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) fail(origin_, "__metadata__ is not a JSON object");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          fail(origin_, fmt::format("__metadata__ value for '{}' is not a string", mk));
        metadata_[mk] = mv.get<std::string>();
      }
      continue;
    }
    uint64_t begin = 0;
    TensorView t = parse_entry(origin_, key, value, data, data_size, begin);
    found.emplace_back(begin, std::move(t));
  }

  // File order = order of the bytes; stable so empty tensors sharing an offset keep header order.
  std::stable_sort(found.begin(), found.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  uint64_t reach = 0;  // furthest end seen so far among non-empty tensors
  const std::string* reach_owner = nullptr;
  for (const auto& [begin, t] : found) {
    if (t.nbytes == 0) continue;  // an empty range cannot overlap anything
    if (reach_owner && begin < reach)
      fail_tensor(origin_, t.name, fmt::format("bytes [{}, {}) overlap tensor '{}'", begin,
                                               begin + t.nbytes, *reach_owner));
    reach = begin + t.nbytes;
    reach_owner = &t.name;
  }

  tensors_.reserve(found.size());
  for (auto& [begin, t] : found) {
    index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  SafetensorsFile f;
  f.origin_ = path.string();
  f.storage_ = std::make_unique<Storage>();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(f.origin_, fmt::format("cannot open: {}", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    fail(f.origin_, fmt::format("cannot stat: {}", std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(f.origin_, "not a regular file");
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  // mmap of length 0 fails, and a tiny file has nothing worth mapping: report it as too short.
  if (size < 8) {
    ::close(fd);
    fail(f.origin_, fmt::format("file is {} bytes, too short for the 8-byte header length", size));
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (map == MAP_FAILED) fail(f.origin_, fmt::format("mmap failed: {}", std::strerror(err)));
  f.storage_->map = map;
  f.storage_->map_len = size;
  f.storage_->bytes = static_cast<const std::byte*>(map);
  f.storage_->size = size;
  f.parse();
  return f;
}

SafetensorsFile SafetensorsFile::from_bytes(std::string bytes, std::string origin) {
  SafetensorsFile f;
  f.origin_ = std::move(origin);
  f.storage_ = std::make_unique<Storage>();
  f.storage_->owned = std::move(bytes);
  f.storage_->bytes = reinterpret_cast<const std::byte*>(f.storage_->owned.data());
  f.storage_->size = f.storage_->owned.size();
  f.parse();
  return f;
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& SafetensorsFile::at(std::string_view name) const {
  if (const TensorView* t = find(name)) return *t;
  fail(origin_, fmt::format("no tensor named '{}' ({} tensors in file)", name, tensors_.size()));
}

namespace {

struct WritePlan {
  std::string header;  // JSON padded with spaces to a multiple of 8
  std::vector<const TensorView*> order;
};

// Contiguous from offset 0 (the Rust reader rejects gaps and trailing bytes), ordered like the
// reference writer: element size descending, then name. Pure name order would let an odd-sized
// U8/F16 tensor push the next F32 off its alignment, and torch refuses to view a byte storage
// at an offset that is not a multiple of the element size.
WritePlan plan_write(const std::vector<TensorView>& tensors,
                     const std::map<std::string, std::string>& metadata) {
  WritePlan plan;
  for (const TensorView& t : tensors) plan.order.push_back(&t);
  std::sort(plan.order.begin(), plan.order.end(), [](const TensorView* a, const TensorView* b) {
    size_t sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });

  std::set<std::string_view> names;
  nlohmann::json h = nlohmann::json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i = 0; i < plan.order.size(); ++i) {
    const TensorView& t = *plan.order[i];
    auto bad = [&](const std::string& what) {
      throw Error(fmt::format("write_safetensors: tensor '{}': {}", t.name, what));
    };
    if (t.name == "__metadata__") bad("the name is reserved for metadata");
    if (!names.insert(t.name).second) bad("appears twice");

    auto numel = checked_numel(t.shape);
    uint64_t need = 0;
    if (!numel || __builtin_mul_overflow(*numel, dtype_size(t.dtype), &need))
      bad(fmt::format("invalid shape {}", shape_str(t.shape)));
    if (need != t.nbytes)
      bad(fmt::format("nbytes {} but shape {} of {} needs {}", t.nbytes, shape_str(t.shape),
                      dtype_name(t.dtype), need));
    if (t.nbytes > 0 && t.data == nullptr) bad("data is null");
    h[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                 {"shape", t.shape},
                 {"data_offsets", nlohmann::json::array({offset, offset + t.nbytes})}};
    offset += t.nbytes;
  }
  try {
    plan.header = h.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("write_safetensors: a name or metadata string is not UTF-8: {}",
                            e.what()));
  }
  // Padding keeps the data section 8-byte aligned, so an mmap reader can use it in place.
  plan.header.append((8 - plan.header.size() % 8) % 8, ' ');
  return plan;
}

std::string length_prefix(const std::string& header) {
  uint64_t n = header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out;
}

}  // namespace

std::string to_safetensors_bytes(const std::vector<TensorView>& tensors,
                                 std::map<std::string, std::string> metadata) {
  WritePlan plan = plan_write(tensors, metadata);
  std::string out = length_prefix(plan.header) + plan.header;
  for (const TensorView* t : plan.order)
    out.append(reinterpret_cast<const char*>(t->data), t->nbytes);
  return out;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                       std::map<std::string, std::string> metadata) {
  WritePlan plan = plan_write(tensors, metadata);
  // Write a sibling file and rename it over the target: the target may be mmapped by a live
  // SafetensorsFile (a checkpoint being overwritten), and truncating it would SIGBUS that reader.
  std::filesystem::path tmp = path;
  tmp += fmt::format(".tmp{}", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(fmt::format("write_safetensors {}: cannot create {}", path.string(),
                                      tmp.string()));
    std::string prefix = length_prefix(plan.header);
    out.write(prefix.data(), 8);
    out.write(plan.header.data(), static_cast<std::streamsize>(plan.header.size()));
    for (const TensorView* t : plan.order)
      out.write(reinterpret_cast<const char*>(t->data), static_cast<std::streamsize>(t->nbytes));
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw Error(fmt::format("write_safetensors {}: write failed", path.string()));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::string why = ec.message();
    std::filesystem::remove(tmp, ec);
    throw Error(fmt::format("write_safetensors {}: cannot rename from {}: {}", path.string(),
                            tmp.string(), why));
  }
}

}  // namespace emopost::io
