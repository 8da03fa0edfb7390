#include "emopost/io/tfjs.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/core/files.h"
#include "emopost/core/json.h"
#include "emopost/io/base64.h"

namespace emopost::io {

namespace {

namespace fs = std::filesystem;

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) bits = sign | 0x7f800000 | (mantissa << 13);  // inf, nan
  else if (exponent) bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  else if (!mantissa) bits = sign;
  else {  // subnormal: normalise
    int e = -1;
    uint32_t m = mantissa;
    do ++e, m <<= 1;
    while (!(m & 0x400));
    bits = sign | (uint32_t(112 - e) << 23) | ((m & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <typename T>
T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// A part of the model that cannot be read is a broken model; the message says which part.
std::string read_part(const fs::path& path, const std::string& what) {
  try {
    return read_file(path, Errc::bad_model);
  } catch (const Error& e) {
    throw Error(fmt::format("{} ({})", e.what(), what), Errc::bad_model);
  }
}

nlohmann::json read_model_json(const fs::path& file, const std::string& what) {
  try {
    return parse_json(read_part(file, what), file.string());
  } catch (const Error& e) {  // a broken manifest is a broken model
    throw Error(e.what(), Errc::bad_model);
  }
}

}  // namespace

std::vector<TfjsTensor> read_tfjs_weights(const fs::path& manifest) {
  const auto where = manifest.string();
  auto doc = read_model_json(manifest, "the weights manifest");
  // A graph model's model.json carries its manifest, whose shard paths are relative to model.json too.
  if (doc.is_object() && doc.contains("weightsManifest")) doc = std::move(doc["weightsManifest"]);
  if (!doc.is_array()) throw Error(fmt::format("{}: a weights manifest is a JSON array of groups", where), Errc::bad_model);
  std::vector<TfjsTensor> out;
  for (const auto& group : doc) {
    if (!group.is_object() || !group.contains("paths") || !group.contains("weights") || !group["paths"].is_array() ||
        !group["weights"].is_array())
      throw Error(fmt::format("{}: each group needs \"paths\" and \"weights\" arrays", where), Errc::bad_model);
    std::string bytes;  // a group's weights run across the concatenation of its shards
    for (const auto& shard : group["paths"]) {
      if (!shard.is_string()) throw Error(fmt::format("{}: a shard path is not a string", where), Errc::bad_model);
      const fs::path name = shard.get<std::string>();
      if (name.is_absolute() || name.filename() != name)
        throw Error(fmt::format("{}: shard {} must be a file beside the manifest", where, name.string()), Errc::bad_model);
      bytes += read_part(manifest.parent_path() / name, "a weights shard");
    }
    size_t offset = 0;
    for (const auto& w : group["weights"]) {
      const auto name = w.value("name", std::string());
      auto fail = [&](const std::string& why) {
        return Error(fmt::format("{}: weight \"{}\": {}", where, name, why), Errc::bad_model);
      };
      if (!w.contains("shape") || !w["shape"].is_array()) throw fail("no shape");
      TfjsTensor t{name, {}, {}};
      uint64_t count = 1;
      for (const auto& d : w["shape"]) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > (int64_t(1) << 31))
          throw fail("a bad dimension");
        t.shape.push_back(d.get<int64_t>());
        count *= uint64_t(t.shape.back());
        if (count > (uint64_t(1) << 31)) throw fail("too many elements");
      }
      const auto dtype = w.value("dtype", std::string());
      std::string stored = dtype;  // how the bytes are written
      double scale = 1, min = 0;
      if (w.contains("quantization")) {
        const auto& q = w["quantization"];
        stored = q.value("dtype", std::string());
        if (stored != "float16") {
          if (!q.contains("scale") || !q.contains("min") || !q["scale"].is_number() || !q["min"].is_number())
            throw fail("quantization without scale and min");
          scale = q["scale"].get<double>(), min = q["min"].get<double>();
        }
      }
      size_t width;
      if (stored == "float32" || stored == "int32") width = 4;
      else if (stored == "uint16" || stored == "float16") width = 2;
      else if (stored == "uint8") width = 1;
      else throw fail(fmt::format("unsupported dtype \"{}\"", stored));
      if (dtype != "float32" && dtype != "int32") throw fail(fmt::format("unsupported dtype \"{}\"", dtype));
      const size_t nbytes = size_t(count) * width;
      if (bytes.size() - offset < nbytes)
        throw fail(fmt::format("the shards end early ({} bytes needed at offset {}, {} there)", nbytes, offset,
                               bytes.size() - offset));
      const char* p = bytes.data() + offset;
      t.values.resize(size_t(count));
      for (size_t i = 0; i < count; ++i) {
        double v;
        if (stored == "float32") v = load<float>(p + 4 * i);
        else if (stored == "int32") v = load<int32_t>(p + 4 * i);
        else if (stored == "float16") v = half_to_float(load<uint16_t>(p + 2 * i));
        else if (stored == "uint16") v = load<uint16_t>(p + 2 * i) * scale + min;
        else v = uint8_t(p[i]) * scale + min;
        t.values[i] = float(dtype == "int32" && stored != dtype ? double(std::llround(v)) : v);
      }
      offset += nbytes;
      out.push_back(std::move(t));
    }
    if (offset != bytes.size())
      throw Error(fmt::format("{}: {} bytes in the shards are not named by any weight", where, bytes.size() - offset),
                  Errc::bad_model);
  }
  return out;
}

namespace {

// A node attribute's list of integers ({"list": {"i": ["1", "2", "2", "1"]}}), or {} when absent.
std::vector<int64_t> int_list(const nlohmann::json& attr, const char* key) {
  std::vector<int64_t> out;
  if (!attr.contains(key)) return out;
  for (const auto& v : attr[key].value("list", nlohmann::json::object()).value("i", nlohmann::json::array()))
    out.push_back(v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>());
  return out;
}

// A string attribute ({"s": base64}) decoded, or "" when absent.
std::string text(const nlohmann::json& attr, const char* key) {
  return attr.contains(key) ? base64_decode(attr[key].value("s", std::string())) : std::string();
}

}  // namespace

std::vector<TfjsNode> read_tfjs_graph(const fs::path& model_json) {
  const auto where = model_json.string();
  const auto doc = read_model_json(model_json, "the graph model");
  if (!doc.is_object() || !doc.contains("modelTopology") || !doc["modelTopology"].is_object() ||
      !doc["modelTopology"].contains("node") || !doc["modelTopology"]["node"].is_array())
    throw Error(fmt::format("{}: not a tfjs graph model (no modelTopology.node)", where), Errc::bad_model);
  std::vector<TfjsNode> nodes;
  for (const auto& n : doc["modelTopology"]["node"]) {
    TfjsNode node;
    try {
      node.name = n.at("name").get<std::string>();
      node.op = n.at("op").get<std::string>();
      for (const auto& i : n.value("input", nlohmann::json::array())) node.inputs.push_back(i.get<std::string>());
      const auto attr = n.value("attr", nlohmann::json::object());
      node.strides = int_list(attr, "strides"), node.dilations = int_list(attr, "dilations");
      node.padding = text(attr, "padding"), node.data_format = text(attr, "data_format");
      if (attr.contains("fused_ops"))
        for (const auto& s : attr["fused_ops"].value("list", nlohmann::json::object()).value("s", nlohmann::json::array()))
          node.fused_ops.push_back(base64_decode(s.get<std::string>()));
    } catch (const std::exception& e) {  // a JSON type error, a bad number or bad base64
      throw Error(fmt::format("{}: node \"{}\" is malformed: {}", where, node.name, e.what()), Errc::bad_model);
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

}  // namespace emopost::io
