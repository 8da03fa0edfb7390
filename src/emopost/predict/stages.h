#pragma once
// The predictor's stages, in the order a post goes through them. Each does one thing to the
// posts' PostWork records and can be run, and tested, alone; a post that fails a stage keeps its
// first error and is skipped by the stages after. The two model stages take the model as a
// function, so this header stays free of torch.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "emopost/fusion/fusion.h"
#include "emopost/predict/post.h"
#include "emopost/text/reading.h"
#include "emopost/vision/faces.h"
#include "emopost/vision/preprocess.h"

namespace emopost::predict {

// What the stages know of one post.
struct PostWork {
  std::optional<Error> error;                    // the first failure: the post's outcome
  text::TextInput text;                          // no windows: the text abstains
  std::optional<Scores> text_logits;             // mean over the windows
  std::optional<vision::FacesInPicture> faces;   // the picture's faces, once found
  std::vector<Scores> face_logits;               // one per face

  bool ok() const { return !error; }
  void fail(const Error& e) {
    if (!error) error = e;
  }
};

// Mean logits over each input's windows; inputs have at least one window.
using TextModel = std::function<std::vector<Scores>(const std::vector<const text::TextInput*>&)>;
// Logits of face crops (8-bit grey or RGB).
using FaceModel = std::function<std::vector<Scores>(const std::vector<cv::Mat>&)>;

// 1. Each caption read into windows (text::TextReader); a caption over `max_text_bytes` is refused.
void prepare_texts(const std::vector<Post>& posts, const text::TextReader& reader, size_t max_text_bytes,
                   std::vector<PostWork>& work);
// 2. The text model over every post with words to read. Reading touches no PostWork, so it may
// run beside the picture stages; the logits are handed back afterwards.
struct TextBatch {
  std::vector<const text::TextInput*> inputs;
  std::vector<size_t> posts;  // the post of each input
  std::vector<Scores> logits;
};
TextBatch texts_to_read(const std::vector<PostWork>& work);
void read_texts(TextBatch& batch, const TextModel& model);
void hand_back(const TextBatch& batch, std::vector<PostWork>& work);
// 3. Each picture decoded as face reading needs it (vision::decode_for_faces), its faces found and
// cut with boxes in the picture's own pixels (vision::find_faces), then its pixels let go before
// the next picture is decoded, so a request holds one decoded picture at a time. The pictures of
// one call share a budget of decoded pixels; a picture past it is refused (image_too_large).
// `before_detecting` runs once, before the first detection (the predictor waits there for the
// text model, which would fight the detector for the cores).
struct PictureReading {
  vision::DecodeLimits limits;
  int min_side = 960;
  bool grey = true;  // for a grey face model
  double face_margin = 0.1;
  int64_t max_total_pixels = 400'000'000;  // decoded pixels per call, all pictures together
};
struct PictureTimes {
  double decode_ms = 0, detect_ms = 0;
};
PictureTimes read_pictures(const std::vector<Post>& posts, const PictureReading& how,
                           const vision::FaceDetector& detector, std::vector<PostWork>& work,
                           const std::function<void()>& before_detecting = {});
// 4. The face model over every face of every post, in one pass.
void read_faces(std::vector<PostWork>& work, const FaceModel& model);
// 5. A picture's faces pooled into its verdict: pool_faces (post.h).
// 6. The post's verdict from what the stages found, or the error that stopped it.
Outcome fuse(const Post& post, const PostWork& work, const fusion::FusionModel& fusion);
// 7. Occlusion: how much the text verdict's probability falls when each word is left out.
std::vector<WordAttribution> explain(const std::string& normalized, const Scores& text_probabilities,
                                     const text::TextReader& reader, const TextModel& model,
                                     const fusion::FusionModel& fusion);

}  // namespace emopost::predict
