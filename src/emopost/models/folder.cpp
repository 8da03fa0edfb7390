#include "emopost/models/folder.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "emopost/core/error.h"
#include "emopost/core/labels.h"
#include "emopost/io/hf_config.h"

namespace emopost::models {

namespace fs = std::filesystem;

namespace {

std::string read_card(const fs::path& dir) {
  std::ifstream in(dir / "README.md");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A folder that fails to load is the installation's problem, not the request's.
template <typename F>
auto load_folder(const fs::path& dir, const char* what, F&& load) {
  if (!fs::is_directory(dir))
    throw Error(fmt::format("no {} model at {} (expected config.json and model.safetensors)", what, dir.string()),
                Errc::bad_model);
  try {
    return load();
  } catch (const Error& e) {
    throw Error(fmt::format("{} model {}: {}", what, dir.string(), e.what()), Errc::bad_model);
  }
}

// ensemble.json's members: sub-folders of the model folder, each a face checkpoint of its own.
std::vector<std::string> ensemble_members(const fs::path& dir) {
  const auto file = dir / kFaceEnsemble;
  if (!fs::exists(file)) return {};
  std::vector<std::string> names;
  try {
    names = read_json_file(file).at("members").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: expected {{\"members\": [\"sub-folder\", ...]}} ({})", file.string(), e.what()));
  }
  for (const auto& n : names) {
    const fs::path p(n);
    if (n.empty() || p.is_absolute() || p.has_parent_path() || n == "." || n == "..")
      throw Error(fmt::format("{}: member \"{}\" must be the name of a sub-folder", file.string(), n));
  }
  return names;
}

}  // namespace

void check_labels(const std::vector<std::string>& labels) {
  const std::vector<std::string> ours(kLabels.begin(), kLabels.end());
  if (labels == ours) return;
  std::string got;
  for (size_t i = 0; i < labels.size(); ++i) got += (i ? ", " : "") + labels[i];
  throw Error(fmt::format("id2label is [{}] ({} labels); emopost needs its {} labels in this order: {}", got,
                          labels.size(), kNumLabels, fmt::join(kLabels, ", ")),
              Errc::bad_model);
}

bool test_time_mirror(const nlohmann::json& config) {
  if (!config.is_object() || !config.contains(kTestTimeMirror)) return false;
  const auto& v = config[kTestTimeMirror];
  if (!v.is_boolean())
    throw Error(fmt::format("config.json: {} must be true or false, not {}", kTestTimeMirror, v.dump()), Errc::bad_model);
  return v.get<bool>();
}

size_t read_model_max_length(const fs::path& dir, int max_position_embeddings) {
  const auto file = dir / "tokenizer_config.json";
  const auto j = read_json_file(file);
  if (!j.is_object()) throw Error(file.string() + ": expected a JSON object", Errc::bad_model);
  if (!j.contains("model_max_length")) return size_t(max_position_embeddings);
  const auto& v = j["model_max_length"];
  // transformers writes 1e30 (VERY_LARGE_INTEGER) when a tokenizer has no limit of its own.
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() != std::floor(v.get<double>()) ||
      v.get<double>() < 4 || v.get<double>() > max_position_embeddings)
    throw Error(fmt::format("{}: model_max_length {} must be a whole number from 4 to the model's "
                            "max_position_embeddings ({})",
                            file.string(), v.dump(), max_position_embeddings),
                Errc::bad_model);
  return size_t(v.get<double>());
}

void save_tokenizer(const fs::path& dir, const fs::path& vocab_txt, size_t max_length) {
  fs::copy_file(vocab_txt, dir / "vocab.txt", fs::copy_options::overwrite_existing);
  write_json_file(dir / "tokenizer_config.json", {{"do_lower_case", true},
                                                      {"model_max_length", max_length},
                                                      {"tokenizer_class", "BertTokenizer"}});
}

TextModelFolder load_text_folder(const fs::path& dir, const fs::path& cldr_dir) {
  return load_folder(dir, "text", [&] {
    // Labels first: a head of another size would otherwise fail later, as a shape mismatch.
    auto config = read_json_file(dir / "config.json");
    check_labels(io::DistilBertConfig::from_json(config).id2label);
    auto model = load_distilbert(dir);
    const auto max_length = read_model_max_length(dir, model->config().max_position_embeddings);
    auto reader = text::TextReader::from_vocab(dir / "vocab.txt", max_length, cldr_dir);
    // An id past the embedding table would be read out of bounds.
    if (reader.tokenizer().vocab_size() > size_t(model->config().vocab_size))
      throw Error(fmt::format("vocab.txt has {} tokens, more than the model's vocab_size {}", reader.tokenizer().vocab_size(),
                              model->config().vocab_size),
                  Errc::bad_model);
    std::optional<NgramExpert> expert;
    if (fs::exists(dir / kNgramFolder)) expert.emplace(NgramExpert::load(dir / kNgramFolder));
    return TextModelFolder{dir, model, std::move(reader), std::move(config), read_card(dir), std::move(expert)};
  });
}

FaceModelFolder load_face_folder(const fs::path& dir) {
  return load_folder(dir, "face", [&] {
    const auto config = read_json_file(dir / "config.json");
    // Labels first, as for text.
    check_labels(ImageClassifier::labels_of(config));
    auto model = ImageClassifier::load(dir);
    const auto processor = read_processor_config(dir, model);
    auto pre = vision::from_processor_config(processor, model.num_channels());
    for (const auto& name : ensemble_members(dir)) {
      auto member = ImageClassifier::load(dir / name);
      // Members see the very pixels the first model sees, so they must want them alike.
      if (read_processor_config(dir / name, member).to_json() != processor.to_json())
        throw Error(fmt::format("ensemble member {}: its preprocessor_config.json differs from the folder's", name));
      model.add_member(std::move(member));
    }
    const bool mirror = test_time_mirror(config);
    return FaceModelFolder{dir, std::move(model), pre, config, read_card(dir), mirror};
  });
}

}  // namespace emopost::models
