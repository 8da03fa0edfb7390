#include "emopost/train/config.h"

#include <set>

#include <fmt/format.h>

#include "emopost/core/error.h"
#include "emopost/io/hf_config.h"

namespace emopost::train {

namespace {

template <typename T>
void take(const nlohmann::json& j, const char* key, T& field, std::set<std::string>& seen,
          const std::filesystem::path& origin) {
  seen.insert(key);
  if (!j.contains(key)) return;
  try {
    field = j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(fmt::format("{}: key \"{}\" has the wrong type ({})", origin.string(), key,
                            j.at(key).type_name()));
  }
}

}  // namespace

TrainConfig TrainConfig::from_json(const nlohmann::json& j, const std::filesystem::path& origin) {
  if (!j.is_object()) throw Error(origin.string() + ": a training config must be a JSON object");
  TrainConfig c;
  std::set<std::string> seen;
  std::string output_dir, data_root, init_from, vocab, detector_model, landmarks_model, face_cache, wordnet;
  take(j, "task", c.task, seen, origin);
  take(j, "output_dir", output_dir, seen, origin);
  take(j, "data_root", data_root, seen, origin);
  take(j, "recipe", c.recipe, seen, origin);
  take(j, "init_from", init_from, seen, origin);
  take(j, "model_config", c.model_config, seen, origin);
  take(j, "vocab", vocab, seen, origin);
  take(j, "max_length", c.max_length, seen, origin);
  take(j, "drop_words", c.drop_words, seen, origin);
  take(j, "text_augment", c.text_augment, seen, origin);
  take(j, "word_dropout", c.word_dropout, seen, origin);
  take(j, "mask_probability", c.mask_probability, seen, origin);
  take(j, "mlm_wordnet", wordnet, seen, origin);
  take(j, "image_channels", c.image_channels, seen, origin);
  take(j, "image_size", c.image_size, seen, origin);
  take(j, "image_mean", c.image_mean, seen, origin);
  take(j, "image_std", c.image_std, seen, origin);
  take(j, "augment", c.augment, seen, origin);
  take(j, "photo_augment", c.photo_augment, seen, origin);
  take(j, "mixup", c.mixup, seen, origin);
  take(j, "face_detector", c.face_detector, seen, origin);
  take(j, "detector_model", detector_model, seen, origin);
  take(j, "landmarks_model", landmarks_model, seen, origin);
  take(j, "face_cache", face_cache, seen, origin);
  take(j, "face_labels", c.face_labels, seen, origin);
  std::string teacher;
  take(j, "teacher", teacher, seen, origin);
  take(j, "teacher_weight", c.teacher_weight, seen, origin);
  take(j, "epochs", c.epochs, seen, origin);
  take(j, "batch_size", c.batch_size, seen, origin);
  take(j, "eval_batch_size", c.eval_batch_size, seen, origin);
  take(j, "learning_rate", c.learning_rate, seen, origin);
  take(j, "weight_decay", c.weight_decay, seen, origin);
  take(j, "warmup_ratio", c.warmup_ratio, seen, origin);
  take(j, "max_grad_norm", c.max_grad_norm, seen, origin);
  take(j, "label_smoothing", c.label_smoothing, seen, origin);
  take(j, "class_weights", c.class_weights, seen, origin);
  take(j, "early_stopping_patience", c.early_stopping_patience, seen, origin);
  take(j, "seed", c.seed, seen, origin);
  take(j, "bf16", c.bf16, seen, origin);
  take(j, "threads", c.threads, seen, origin);
  take(j, "max_steps", c.max_steps, seen, origin);
  take(j, "limit_examples", c.limit_examples, seen, origin);
  take(j, "save_dtype", c.save_dtype, seen, origin);
  seen.insert("description");  // free text for people
  for (const auto& [key, value] : j.items())
    if (!seen.count(key)) throw Error(fmt::format("{}: unknown key \"{}\"", origin.string(), key));
  c.output_dir = output_dir;
  if (!data_root.empty()) c.data_root = data_root;
  c.init_from = init_from;
  c.mlm_wordnet = wordnet;
  c.teacher = teacher;
  if (!vocab.empty()) c.vocab = vocab;
  if (!detector_model.empty()) c.detector_model = detector_model;
  if (!landmarks_model.empty()) c.landmarks_model = landmarks_model;
  if (!face_cache.empty()) c.face_cache = face_cache;

  auto fail = [&](const std::string& what) { throw Error(origin.string() + ": " + what); };
  if (c.task != "text" && c.task != "image" && c.task != "mlm")
    fail("\"task\" must be \"text\", \"image\" or \"mlm\" (text pre-training)");
  if (c.mask_probability <= 0 || c.mask_probability >= 1) fail("\"mask_probability\" must be between 0 and 1");
  if (c.task != "mlm" && !c.mlm_wordnet.empty()) fail("\"mlm_wordnet\" is for \"mlm\" pre-training only");
  if (c.output_dir.empty()) fail("\"output_dir\" is required");
  if (c.init_from.empty() && c.model_config.is_null())
    fail("give \"init_from\" (a checkpoint folder) or \"model_config\" (config.json keys)");
  if (c.epochs <= 0 || c.batch_size <= 0 || c.eval_batch_size <= 0) fail("epochs and batch sizes must be positive");
  if (c.learning_rate <= 0) fail("\"learning_rate\" must be positive");
  if (c.class_weights != "none" && c.class_weights != "inverse" && c.class_weights != "sqrt_inverse")
    fail("\"class_weights\" must be \"none\", \"inverse\" or \"sqrt_inverse\"");
  if (c.save_dtype != "float32" && c.save_dtype != "float16") fail("\"save_dtype\" must be \"float32\" or \"float16\"");
  if (!c.face_detector.empty() && c.face_detector != "cnn" && c.face_detector != "lbp")
    fail("\"face_detector\" must be \"\" (faces as they are), \"cnn\" or \"lbp\"");
  if (c.face_labels != "fer2013" && c.face_labels != "ferplus" && c.face_labels != "ferplus-votes")
    fail("\"face_labels\" must be \"fer2013\", \"ferplus\" or \"ferplus-votes\"");
  if (c.teacher_weight < 0 || c.teacher_weight > 1) fail("\"teacher_weight\" must be a share between 0 and 1");
  if (!c.teacher.empty() && c.task != "image") fail("\"teacher\" distils face models only");
  if (c.mixup < 0) fail("\"mixup\" must be 0 (off) or positive");
  if (c.text_augment < 0 || c.text_augment > 1) fail("\"text_augment\" must be a share between 0 and 1");
  if (c.word_dropout < 0 || c.word_dropout >= 1) fail("\"word_dropout\" must be a share from 0 up to (not) 1");
  if (c.image_channels != 1 && c.image_channels != 3) fail("\"image_channels\" must be 1 or 3");
  if (c.image_size != 0 && c.image_size < 32) fail("\"image_size\" must be 0 (the model's) or at least 32");
  if (c.image_mean.size() != static_cast<size_t>(c.image_channels) ||
      c.image_std.size() != static_cast<size_t>(c.image_channels))
    fail("\"image_mean\" and \"image_std\" need one value per channel");
  return c;
}

TrainConfig TrainConfig::load(const std::filesystem::path& file) {
  return from_json(read_json_file(file), file);
}

nlohmann::json TrainConfig::to_json() const {
  return {{"task", task},
          {"output_dir", output_dir.string()},
          {"data_root", data_root.string()},
          {"recipe", recipe},
          {"init_from", init_from.string()},
          {"model_config", model_config},
          {"vocab", vocab.string()},
          {"max_length", max_length},
          {"drop_words", drop_words},
          {"text_augment", text_augment},
          {"word_dropout", word_dropout},
          {"mask_probability", mask_probability},
          {"mlm_wordnet", mlm_wordnet.string()},
          {"image_channels", image_channels},
          {"image_size", image_size},
          {"image_mean", image_mean},
          {"image_std", image_std},
          {"augment", augment},
          {"photo_augment", photo_augment},
          {"mixup", mixup},
          {"face_detector", face_detector},
          {"detector_model", detector_model.string()},
          {"landmarks_model", landmarks_model.string()},
          {"face_cache", face_cache.string()},
          {"face_labels", face_labels},
          {"teacher", teacher.string()},
          {"teacher_weight", teacher_weight},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"eval_batch_size", eval_batch_size},
          {"learning_rate", learning_rate},
          {"weight_decay", weight_decay},
          {"warmup_ratio", warmup_ratio},
          {"max_grad_norm", max_grad_norm},
          {"label_smoothing", label_smoothing},
          {"class_weights", class_weights},
          {"early_stopping_patience", early_stopping_patience},
          {"seed", seed},
          {"bf16", bf16},
          {"threads", threads},
          {"max_steps", max_steps},
          {"limit_examples", limit_examples},
          {"save_dtype", save_dtype}};
}

}  // namespace emopost::train
