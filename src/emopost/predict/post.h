#pragma once
// A post as emopost reads it, how it is read from JSON, and what emopost makes of it. No torch
// here: the server, the fuzz targets and the sanitizer builds use it without libtorch.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "emopost/core/error.h"
#include "emopost/fusion/fusion.h"

namespace emopost::predict {

using fusion::Scores;

struct Post {
  std::string id;
  std::optional<std::string> text;
  std::optional<std::string> image;  // encoded bytes (JPEG, PNG, WebP, BMP)
};

struct Face {
  cv::Rect box;              // in the picture's own pixels
  bool whole_image = false;  // the picture was read as a face crop
  Scores probabilities{};
  double weight = 0;         // share of this face in the image verdict
};

struct WordAttribution {
  std::string word;
  double score = 0;  // drop in the text verdict's probability when the word is left out
};

struct Prediction {
  std::string id;
  std::optional<Scores> text, image;  // calibrated probabilities; absent when a modality abstained
  Scores fused{};
  int label = 0;
  double confidence = 0;
  std::vector<std::string> modalities;  // "text", "image"
  std::vector<std::string> notes;       // why a modality abstained, in plain words
  std::string normalized_text;          // what the text model read
  int text_windows = 0;
  int image_width = 0, image_height = 0;
  std::vector<Face> faces;
  std::vector<WordAttribution> attribution;  // filled when asked to explain
  std::vector<std::pair<std::string, double>> timings_ms;

  nlohmann::json to_json() const;
};

// One result per input post: a prediction, or the error that stopped it.
struct Outcome {
  std::optional<Prediction> prediction;
  std::string id;
  Errc error_code = Errc::internal;  // meaningful only without a prediction
  std::string error_message;

  static Outcome failed(std::string id, const Error& e) { return {std::nullopt, std::move(id), e.errc(), e.what()}; }
  nlohmann::json to_json() const;
};

// Faces pooled into the picture's verdict, bigger and more confident faces louder; sets each face's
// weight. Nothing when there is no face. (An album's faces are pooled the same way, all together.)
std::optional<Scores> pool_faces(std::vector<Face>& faces);

// The verdict of a post from the modalities it has (text and image, at least one): its modalities,
// the fused probabilities, the label and its confidence. A single post and an album settle alike.
void settle_verdict(Prediction& p, const fusion::FusionModel& fusion);

// What reads posts: the Predictor, or a stand-in in the server's tests.
class PostReader {
 public:
  virtual ~PostReader() = default;
  // One outcome per post, in order; a bad post gets its error and the others go on.
  virtual std::vector<Outcome> predict_many(const std::vector<Post>& posts, bool explain = false) const = 0;
  virtual nlohmann::json info() const = 0;  // what /v1/models shows
};

// Where a JSONL file's "image" paths may lead: relative ones are taken from `base_dir`; with `root`,
// every path must resolve (symbolic links followed) to a file inside it. Only regular files are
// read, and only up to `max_bytes`: a FIFO or /dev/zero is refused, not waited on or read forever.
struct ImageFiles {
  std::filesystem::path base_dir;
  std::filesystem::path root;  // empty: anywhere
  size_t max_bytes = 50u << 20;
};

// The bytes of an image file under those rules; throws emopost::Error (bad_image, image_too_large,
// invalid_field for a path outside the root).
std::string read_image_file(const std::string& path, const ImageFiles& files);

// A post from JSON {"id", "text", "image", "image_base64"}. With `files`, "image" is a file path;
// without, "image" is base64 data, as in the HTTP API. Throws emopost::Error naming the problem.
Post post_from_json(const nlohmann::json& j, const ImageFiles* files = nullptr);

// A post's "id": a string, or a number written as JSON writes it; "" when absent. Anything else
// throws emopost::Error (invalid_field): ids are echoed back, and an echoed array could be deep.
std::string post_id(const nlohmann::json& j);

// One line of a JSONL file of posts, its image paths read under `files`' rules.
Post parse_post_line(const std::string& line, const ImageFiles& files);

}  // namespace emopost::predict
