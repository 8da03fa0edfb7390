#pragma once
// Image decoding and ViTImageProcessor-equivalent preprocessing with OpenCV. No torch here:
// output is a float CHW buffer that the models part wraps as a tensor.
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "emopost/io/hf_config.h"

namespace emopost::vision {

struct DecodeLimits {
  int64_t max_pixels = 40'000'000;  // larger images are rejected before full decoding
};

// Decodes JPEG/PNG (8/16-bit, grey, alpha)/WebP/BMP from memory into 8-bit RGB (CV_8UC3).
// Like PIL's convert("RGB"): alpha is dropped without compositing, 16-bit samples keep their high
// byte. JPEG EXIF orientation is applied (by us, not by OpenCV's imdecode default).
// Throws emopost::Error for empty, truncated or non-image data and for images over the limit
// (checked on the header's dimensions before any pixel is decoded).
cv::Mat decode_rgb(std::string_view bytes, const DecodeLimits& limits = {});
cv::Mat read_rgb(const std::filesystem::path& path, const DecodeLimits& limits = {});

// A picture decoded for face reading, which needs neither colour (for grey face models) nor every
// pixel of a big photo. A JPEG is decoded by libjpeg's DCT scaling at 1/2, 1/4 or 1/8 of its size,
// as long as its longer side stays at least `min_side`, and grey straight from its luma plane:
// several times cheaper than a full RGB decode. Other formats are decoded in full.
struct ScaledImage {
  cv::Mat pixels;     // 8-bit grey (grey = true) or RGB, EXIF orientation applied
  double scale = 1;   // decoded size / full size
  cv::Size full;      // the full size, orientation applied
};
ScaledImage decode_for_faces(std::string_view bytes, const DecodeLimits& limits, int min_side, bool grey);

struct PreprocessOptions {
  int height = 224, width = 224;
  int channels = 3;  // 3 = RGB; 1 = grey (luma of the RGB, for face models trained on grey)
  bool do_resize = true, do_rescale = true, do_normalize = true;
  double rescale_factor = 1.0 / 255.0;
  std::vector<double> mean{0.5, 0.5, 0.5};
  std::vector<double> std{0.5, 0.5, 0.5};
};

// A checkpoint's preprocessor_config.json as options, and back.
PreprocessOptions from_processor_config(const io::ImageProcessorConfig& p, int channels);
io::ImageProcessorConfig to_processor_config(const PreprocessOptions& o);

// RGB or grey 8-bit image -> float CHW [channels, height, width]: antialiased bilinear resize (see
// resize_bilinear_antialias), x rescale_factor, (x - mean) / std. channels=1 takes the luma of an
// RGB image first; channels=3 replicates a grey image to R = G = B.
std::vector<float> preprocess(const cv::Mat& rgb, const PreprocessOptions& options);

// The building blocks of preprocess(), exposed for tests and benchmarks.
// 8-bit resize (any channel count) as transformers 5's ViTImageProcessor does it: PIL's BILINEAR
// geometry (triangle filter whose support widens when downscaling), torch's int16 fixed-point
// weights, separable passes (x then y) each rounded to uint8. Bit-exact with the HF fixtures.
cv::Mat resize_bilinear_antialias(const cv::Mat& img, int height, int width);
// RGB -> grey like PIL's convert("L"): (R*19595 + G*38470 + B*7471 + 2^15) >> 16, i.e. ITU-R
// 601-2 luma 0.299/0.587/0.114 rounded to nearest.
cv::Mat rgb_to_luma(const cv::Mat& rgb);

}  // namespace emopost::vision
