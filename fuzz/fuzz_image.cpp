// libFuzzer target: image decoding (headers, EXIF, every format) and preprocessing on arbitrary
// bytes, under a small pixel limit so that the fuzzer explores structure rather than size.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <opencv2/core.hpp>

#include "emopost/core/error.h"
#include "emopost/vision/faces.h"
#include "emopost/vision/preprocess.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace emopost;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const vision::DecodeLimits limits{.max_pixels = 4'000'000};
  try {
    auto rgb = vision::decode_rgb(bytes, limits);
    vision::PreprocessOptions pre;
    pre.height = pre.width = 32;
    (void)vision::preprocess(rgb, pre);
    (void)vision::crop_with_margin(rgb, cv::Rect(rgb.cols / 4, rgb.rows / 4, rgb.cols / 2 + 1, rgb.rows / 2 + 1), 0.2);
  } catch (const Error&) {
  } catch (const cv::Exception& e) {
    if (e.code == cv::Error::StsNoMem) __builtin_trap();  // a picture under the limit must not exhaust memory
  }
  try {
    (void)vision::decode_for_faces(bytes, limits, 64, true);
  } catch (const Error&) {
  } catch (const cv::Exception& e) {
    if (e.code == cv::Error::StsNoMem) __builtin_trap();
  }
  return 0;
}
