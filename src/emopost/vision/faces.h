#pragma once
// Finding faces in a photo and cutting them out with the margin an expression model needs. The
// detectors share one interface: an OpenCV cascade from Debian's opencv-data, here, and the CNN
// detector (models/face_detector.h, `--detector cnn`). No torch here.
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/objdetect.hpp>

#include "emopost/vision/preprocess.h"

namespace emopost::vision {

// OpenCV's LBP frontal-face cascade: on this project's photos it found as many faces as the Haar
// cascades (haarcascade_frontalface_alt2) in a third of the time (bench/RESULTS.md).
inline const std::filesystem::path kDefaultCascade =
    "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface.xml";

struct DetectorOptions {
  // "cnn": models::CnnDetector, the default since it finds turned, tilted and close-up faces the
  // cascade misses (samples/photos/README.md); "lbp": the cascade below, kept for comparison.
  std::string kind = "cnn";
  // Detection runs on a copy whose longer side is at most this: the cascade's cost grows with the pixel
  // count, and faces that matter in a post are rarely under an eighth of the picture's shorter side.
  int detect_side = 480;
  double scale_factor = 1.1;
  int min_neighbors = 4;
  // Of the shorter side of the detection copy. 0.12 found the same faces in samples/photos as 1/12
  // did, in two thirds of the time: the smallest scales hold most of the windows.
  double min_face_fraction = 0.12;
  int min_face_pixels = 20;
  // An image no larger than this whose sides are within 4:3 is taken as a face crop when the
  // detector finds nothing: cascades miss faces that fill the frame, and users do upload crops.
  int crop_max_side = 160;
  // The CNN detector's score threshold (0 = its config.json's, face-api's 0.5) and input side (0 =
  // config.json's 416). 0.3 was chosen on the real-photo set (samples/photos/README.md): it finds
  // downcast and small faces that 0.5 misses, and 0.25 starts adding false boxes.
  double min_score = 0.3;
  int cnn_input = 0;
};

struct FaceBox {
  cv::Rect box;             // in the input image's pixels
  int neighbors = 0;        // how many raw detections agreed (the cascade's confidence)
  bool whole_image = false;  // the image was taken as a face crop
  double score = 0;          // the CNN detector's confidence
};

// What finds faces.
class FaceDetector {
 public:
  virtual ~FaceDetector() = default;
  // Faces in an 8-bit RGB (or grey) image, largest first, in its pixels. With `crop_fallback`, a
  // small square-ish image with no detection is returned as one face.
  virtual std::vector<FaceBox> detect(const cv::Mat& image, bool crop_fallback = true) const = 0;
  virtual const DetectorOptions& options() const = 0;
  // Whether it wants pictures in colour: a grey face model's pictures are otherwise decoded grey.
  virtual bool reads_colour() const { return false; }
  // A found face cut out for the face model: by default its box grown by `margin` (crop_with_margin).
  virtual cv::Mat cut(const cv::Mat& image, const FaceBox& face, double margin) const;
};

// Whether a picture with no face found is taken whole as a face crop: detectors miss faces that
// fill the frame, and users do upload crops.
bool taken_as_crop(const cv::Mat& image, const DetectorOptions& options);

// OpenCV's cascade (LBP by default).
class CascadeDetector : public FaceDetector {
 public:
  // Throws emopost::Error when the cascade file is missing or unreadable.
  explicit CascadeDetector(const std::filesystem::path& cascade = kDefaultCascade, DetectorOptions options = {});
  // Of overlapping boxes the better supported one is kept.
  std::vector<FaceBox> detect(const cv::Mat& image, bool crop_fallback = true) const override;
  const DetectorOptions& options() const override { return options_; }

 private:
  mutable std::mutex mutex_;  // CascadeClassifier is not safe to share between threads
  mutable cv::CascadeClassifier cascade_;
  DetectorOptions options_;
};

// The box grown by `margin` of its size on every side (then made square around its centre), cut
// from the image; parts outside the image are filled by replicating the border.
cv::Mat crop_with_margin(const cv::Mat& image, const cv::Rect& box, double margin);

// The faces of a picture decoded for faces (decode_for_faces), each cut with `margin`, with boxes
// in the picture's own pixels rather than the reduced copy's.
struct FacesInPicture {
  cv::Size size;                // the picture's own size
  std::vector<FaceBox> boxes;   // in the picture's own pixels
  std::vector<cv::Mat> crops;   // one per box, from the decoded copy
};
FacesInPicture find_faces(const ScaledImage& picture, const FaceDetector& detector, double margin);

// The one face a face crop (a training or evaluation image) shows, read as `predict` reads a picture:
// the largest face found, cut by the detector; the image as it is when none is found.
cv::Mat read_face(const cv::Mat& image, const FaceDetector& detector, double margin);

}  // namespace emopost::vision
