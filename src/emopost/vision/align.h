#pragma once
// Aligned face crops: the face turned so that its eyes are level, scaled and placed where the
// eyes of the face model's training faces sit. Training and prediction then see faces alike; a
// detector box alone frames a face differently from FER2013's crops. No torch here.
#include <array>
#include <filesystem>

#include <opencv2/core.hpp>

namespace emopost::vision {

// Where the eyes sit in the frame, as fractions of its width and height; measured on FER2013's
// training faces by `emopost study-faces --framing` (models/landmarks/framing.json).
struct FaceFraming {
  cv::Point2d left_eye{0.32, 0.38}, right_eye{0.68, 0.38};  // the eyes on the frame's left and right
  static FaceFraming load(const std::filesystem::path& file);  // throws emopost::Error (bad_model)
};

// The two eye centres (the picture's left one first) from 68 iBUG landmarks.
std::array<cv::Point2d, 2> eye_centres(const std::array<cv::Point2d, 68>& landmarks);

// A side x side crop of `image` in which the eyes land on the framing's; pixels from outside the
// picture replicate its border.
cv::Mat align_face(const cv::Mat& image, const std::array<cv::Point2d, 2>& eyes, const FaceFraming& framing, int side);

}  // namespace emopost::vision
