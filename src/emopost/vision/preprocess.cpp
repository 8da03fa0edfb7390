#include "emopost/vision/preprocess.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "emopost/core/error.h"

namespace emopost::vision {
namespace {

using Bytes = std::string_view;

uint32_t be16(Bytes b, size_t i) { return uint32_t(uint8_t(b[i])) << 8 | uint8_t(b[i + 1]); }
uint32_t be32(Bytes b, size_t i) { return be16(b, i) << 16 | be16(b, i + 2); }
uint32_t le16(Bytes b, size_t i) { return uint32_t(uint8_t(b[i + 1])) << 8 | uint8_t(b[i]); }
uint32_t le32(Bytes b, size_t i) { return le16(b, i + 2) << 16 | le16(b, i); }
uint32_t u16(Bytes b, size_t i, bool big) { return big ? be16(b, i) : le16(b, i); }
uint32_t u32(Bytes b, size_t i, bool big) { return big ? be32(b, i) : le32(b, i); }

enum class Format { Jpeg, Png, WebP, Bmp };

struct Header {
  Format format;
  const char* name;
  int64_t width = 0, height = 0;
  int orientation = 1;  // EXIF orientation (JPEG only), 1 = as stored
};

[[noreturn]] void truncated(const char* name) {
  throw Error(fmt::format("image is truncated: the {} data ends before the image does", name));
}

// The pixel limit is enforced on header dimensions, before any pixel memory is allocated, so a
// tiny file that declares a huge canvas (a decompression bomb) fails fast.
void check_dimensions(const Header& h, const DecodeLimits& limits) {
  if (h.width <= 0 || h.height <= 0)
    throw Error(fmt::format("{} image declares an empty size {}x{}", h.name, h.width, h.height));
  // Checked: PNG's two 32-bit fields multiply past int64 and would wrap to a small or negative count.
  int64_t pixels = 0;
  if (__builtin_mul_overflow(h.width, h.height, &pixels))
    throw Error(fmt::format("image is {}x{} = {:.3g} pixels, over the limit of {} pixels", h.width, h.height,
                            double(h.width) * double(h.height), limits.max_pixels),
                Errc::image_too_large);
  if (pixels > limits.max_pixels)
    throw Error(fmt::format("image is {}x{} = {} pixels ({:.3g}), over the limit of {} pixels",
                            h.width, h.height, pixels, double(pixels), limits.max_pixels),
                Errc::image_too_large);
}

// EXIF orientation from an APP1 payload; malformed EXIF is ignored rather than fatal because
// cameras and editors write plenty of it and the pixels are still fine.
int exif_orientation(Bytes seg) {
  if (seg.size() < 14 || seg.substr(0, 6) != Bytes("Exif\0\0", 6)) return 1;
  const Bytes tiff = seg.substr(6);
  const bool big = tiff.substr(0, 2) == "MM";
  if (!big && tiff.substr(0, 2) != "II") return 1;
  const uint64_t ifd = u32(tiff, 4, big);
  if (ifd + 2 > tiff.size()) return 1;
  const uint32_t n = u16(tiff, ifd, big);
  for (uint32_t k = 0; k < n; ++k) {
    const uint64_t e = ifd + 2 + 12ull * k;
    if (e + 12 > tiff.size()) break;
    if (u16(tiff, e, big) == 0x0112 && u16(tiff, e + 2, big) == 3) {
      const uint32_t v = u16(tiff, e + 8, big);
      return v >= 1 && v <= 8 ? int(v) : 1;
    }
  }
  return 1;
}

// Walks the marker segments and the entropy-coded scans up to EOI. OpenCV (libjpeg) pads a cut
// file with grey and returns success, so a missing EOI is the only reliable truncation signal.
void parse_jpeg(Bytes b, Header& h, const DecodeLimits& limits) {
  size_t i = 2;
  bool have_frame = false;
  while (true) {
    if (i >= b.size()) truncated(h.name);
    if (uint8_t(b[i]) != 0xFF) throw Error("JPEG is corrupt: expected a marker");
    while (i < b.size() && uint8_t(b[i]) == 0xFF) ++i;  // fill bytes
    if (i >= b.size()) truncated(h.name);
    const uint8_t m = uint8_t(b[i++]);
    if (m == 0xD9) break;                                   // EOI
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;   // markers without a length
    if (i + 2 > b.size()) truncated(h.name);
    const size_t len = be16(b, i);
    if (len < 2) throw Error("JPEG is corrupt: bad segment length");
    if (i + len > b.size()) truncated(h.name);
    const Bytes seg = b.substr(i + 2, len - 2);
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof && !have_frame) {
      if (seg.size() < 5) throw Error("JPEG is corrupt: short frame header");
      h.height = be16(seg, 1);
      h.width = be16(seg, 3);
      check_dimensions(h, limits);
      have_frame = true;
    } else if (m == 0xE1 && h.orientation == 1) {
      h.orientation = exif_orientation(seg);
    }
    i += len;
    if (m != 0xDA) continue;
    if (!have_frame) throw Error("JPEG is corrupt: scan before the frame header");
    // Entropy-coded data: FF00 is a stuffed byte and FFD0..FFD7 restart markers; any other
    // FFxx ends the scan (DHT/SOS of the next progressive scan, or EOI).
    while (true) {
      const size_t ff = b.find('\xFF', i);
      if (ff == Bytes::npos || ff + 1 >= b.size()) truncated(h.name);
      const uint8_t next = uint8_t(b[ff + 1]);
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
        i = ff + 2;
      } else if (next == 0xFF) {
        i = ff + 1;
      } else {
        i = ff;
        break;
      }
    }
  }
  if (!have_frame) throw Error("JPEG is corrupt: no frame header");
}

// PNG: IHDR carries the size; the chunk chain must reach IEND inside the buffer.
void parse_png(Bytes b, Header& h, const DecodeLimits& limits) {
  if (b.size() < 33) truncated(h.name);
  if (be32(b, 8) != 13 || b.substr(12, 4) != "IHDR") throw Error("PNG is corrupt: no IHDR chunk");
  h.width = be32(b, 16);
  h.height = be32(b, 20);
  check_dimensions(h, limits);
  for (size_t i = 8;;) {
    if (i + 12 > b.size()) truncated(h.name);
    const uint64_t len = be32(b, i);
    if (i + 12 + len > b.size()) truncated(h.name);
    if (b.substr(i + 4, 4) == "IEND") return;
    i += 12 + len;
  }
}

void parse_webp(Bytes b, Header& h, const DecodeLimits& limits) {
  if (b.size() < 20 || uint64_t(le32(b, 4)) + 8 > b.size()) truncated(h.name);
  const Bytes chunk = b.substr(12, 4);
  if (b.size() < (chunk == "VP8L" ? 25u : 31u)) truncated(h.name);
  if (chunk == "VP8 ") {  // lossy: 14-bit sizes after the 3-byte frame tag and start code
    h.width = le16(b, 26) & 0x3FFF;
    h.height = le16(b, 28) & 0x3FFF;
  } else if (chunk == "VP8L") {  // lossless: signature byte, then 14-bit (size - 1) fields
    const uint32_t bits = le32(b, 21);
    h.width = (bits & 0x3FFF) + 1;
    h.height = ((bits >> 14) & 0x3FFF) + 1;
  } else if (chunk == "VP8X") {  // extended: 24-bit (canvas size - 1)
    h.width = (le32(b, 24) & 0xFFFFFF) + 1;
    h.height = (le32(b, 27) & 0xFFFFFF) + 1;
  } else {
    throw Error("WebP is corrupt: unknown first chunk");
  }
  check_dimensions(h, limits);
}

void parse_bmp(Bytes b, Header& h, const DecodeLimits& limits) {
  if (b.size() < 26) truncated(h.name);
  const uint32_t dib = le32(b, 14);
  uint32_t bpp = 0, compression = 0;
  if (dib == 12) {  // OS/2 core header: 16-bit sizes
    h.width = le16(b, 18);
    h.height = le16(b, 20);
    bpp = le16(b, 24);
  } else if (dib >= 40) {
    if (b.size() < 34) truncated(h.name);
    h.width = int32_t(le32(b, 18));
    h.height = std::abs(int64_t(int32_t(le32(b, 22))));  // negative = stored top-down
    bpp = le16(b, 28);
    compression = le32(b, 30);
  } else {
    throw Error("BMP is corrupt: unknown header");
  }
  check_dimensions(h, limits);
  // Uncompressed rows have a known size; RLE data is left to the decoder.
  if ((compression == 0 || compression == 3) && bpp > 0 && bpp <= 32) {
    const uint64_t stride = (uint64_t(h.width) * bpp + 31) / 32 * 4;
    if (uint64_t(le32(b, 10)) + stride * uint64_t(h.height) > b.size()) truncated(h.name);
  }
}

Header read_header(Bytes b, const DecodeLimits& limits) {
  if (b.empty()) throw Error("image is empty (0 bytes)");
  Header h{};
  if (b.size() >= 3 && b.substr(0, 3) == "\xFF\xD8\xFF") {
    h = {Format::Jpeg, "JPEG"};
    parse_jpeg(b, h, limits);
  } else if (b.size() >= 8 && b.substr(0, 8) == "\x89PNG\r\n\x1A\n") {
    h = {Format::Png, "PNG"};
    parse_png(b, h, limits);
  } else if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") {
    h = {Format::WebP, "WebP"};
    parse_webp(b, h, limits);
  } else if (b.size() >= 2 && b.substr(0, 2) == "BM") {
    h = {Format::Bmp, "BMP"};
    parse_bmp(b, h, limits);
  } else {
    // No size or content in the message: a batch's paths may name files that are not the user's.
    throw Error("not a recognised image format (expected JPEG, PNG, WebP or BMP)");
  }
  return h;
}

cv::Mat apply_orientation(cv::Mat m, int orientation) {
  cv::Mat out;
  switch (orientation) {
    case 2: cv::flip(m, out, 1); return out;
    case 3: cv::rotate(m, out, cv::ROTATE_180); return out;
    case 4: cv::flip(m, out, 0); return out;
    case 5: cv::transpose(m, out); return out;
    case 6: cv::rotate(m, out, cv::ROTATE_90_CLOCKWISE); return out;
    case 7: cv::flip(m, out, -1); cv::transpose(out, m); return m;
    case 8: cv::rotate(m, out, cv::ROTATE_90_COUNTERCLOCKWISE); return out;
    default: return m;
  }
}

// Taps for one axis with PIL's BILINEAR geometry: a triangle filter whose support widens with
// the downscale factor (antialiasing, which OpenCV's INTER_LINEAR lacks). Fixed-point weights as
// in torch's uint8 antialiased resize (what transformers 5's ViTImageProcessor runs through
// torchvision): int16 weights at the highest precision that still fits the largest weight.
// PIL's 22-bit weights round differently by 1 level on ~2% of pixels when upscaling.
struct Taps {
  int ksize = 0, precision = 0;
  std::vector<int> first, count;
  std::vector<int32_t> w;  // ksize per output pixel, scaled by 2^precision
};

Taps bilinear_taps(int in, int out) {
  const double scale = double(in) / out, fscale = std::max(scale, 1.0), support = fscale;
  Taps t;
  t.ksize = int(std::ceil(support)) * 2 + 1;
  t.first.resize(out);
  t.count.resize(out);
  std::vector<double> k(size_t(out) * t.ksize, 0.0);
  double kmax = 0;
  for (int o = 0; o < out; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = std::max(int(center - support + 0.5), 0);
    const int n = std::min(int(center + support + 0.5), in) - lo;
    double* ko = &k[size_t(o) * t.ksize];
    double sum = 0;
    for (int j = 0; j < n; ++j) {
      ko[j] = std::max(0.0, 1.0 - std::abs((j + lo - center + 0.5) / fscale));
      sum += ko[j];
    }
    for (int j = 0; j < n; ++j) {
      ko[j] = sum != 0 ? ko[j] / sum : 0;
      kmax = std::max(kmax, ko[j]);
    }
    t.first[o] = lo;
    t.count[o] = n;
  }
  while (t.precision < 22 && int(0.5 + kmax * (1 << (t.precision + 1))) < (1 << 15)) ++t.precision;
  t.w.resize(k.size());
  for (size_t i = 0; i < k.size(); ++i) t.w[i] = int32_t(k[i] * (1 << t.precision) + 0.5);
  return t;
}

// One separable pass along x (horizontal) or y; rounds to uint8 between passes like PIL/torch.
cv::Mat resample_axis(const cv::Mat& src, int out, bool horizontal) {
  const int ch = src.channels();
  const Taps t = bilinear_taps(horizontal ? src.cols : src.rows, out);
  const int32_t half = t.precision > 0 ? 1 << (t.precision - 1) : 0;
  cv::Mat dst(horizontal ? src.rows : out, horizontal ? out : src.cols, src.type());
  for (int y = 0; y < dst.rows; ++y) {
    uint8_t* d = dst.ptr<uint8_t>(y);
    for (int x = 0; x < dst.cols; ++x) {
      const int o = horizontal ? x : y;
      const int32_t* w = &t.w[size_t(o) * t.ksize];
      for (int c = 0; c < ch; ++c) {
        int32_t acc = half;
        if (horizontal) {
          const uint8_t* s = src.ptr<uint8_t>(y) + t.first[o] * ch + c;
          for (int j = 0; j < t.count[o]; ++j) acc += s[j * ch] * w[j];
        } else {
          for (int j = 0; j < t.count[o]; ++j) acc += src.ptr<uint8_t>(t.first[o] + j)[x * ch + c] * w[j];
        }
        d[x * ch + c] = uint8_t(std::clamp(acc >> t.precision, 0, 255));
      }
    }
  }
  return dst;
}

std::vector<double> per_channel(const std::vector<double>& v, int channels, const char* what) {
  if (int(v.size()) == channels) return v;
  if (v.size() == 1) return std::vector<double>(channels, v[0]);
  // Grey models may keep the 3-entry defaults; accept them only when they cannot disagree.
  if (channels == 1 && !v.empty() && std::all_of(v.begin(), v.end(), [&](double x) { return x == v[0]; }))
    return {v[0]};
  throw Error(fmt::format("preprocess: image_{} has {} entries for {} channels", what, v.size(), channels));
}

cv::Mat imdecode_checked(std::string_view bytes, const Header& h, int flags, int reduce) {
  cv::Mat raw;
  try {
    const cv::Mat buf(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    raw = cv::imdecode(buf, flags);
  } catch (const cv::Exception& e) {
    throw Error(fmt::format("{} could not be decoded: {}", h.name, e.what()));
  }
  if (raw.empty()) throw Error(fmt::format("{} data is corrupt: the decoder rejected it", h.name));
  // libjpeg's DCT scaling rounds sizes up.
  const int64_t w = (h.width + reduce - 1) / reduce, hh = (h.height + reduce - 1) / reduce;
  if (raw.cols != w || raw.rows != hh)
    throw Error(fmt::format("{} decoded to {}x{} but its header says {}x{}", h.name, raw.cols,
                            raw.rows, h.width, h.height));
  return raw;
}

cv::Mat decode_rgb_unchecked(std::string_view bytes, const DecodeLimits& limits) {
  const Header h = read_header(bytes, limits);
  // UNCHANGED keeps depth and alpha so that the conversions below are ours, not OpenCV's
  // defaults, and it skips OpenCV's EXIF rotation (applied explicitly below).
  cv::Mat raw = imdecode_checked(bytes, h, cv::IMREAD_UNCHANGED, 1);
  if (raw.depth() == CV_16U) {
    // PIL reads 16-bit colour PNGs by keeping the high byte; truncate (not round) to match.
    cv::Mat m8(raw.size(), CV_MAKETYPE(CV_8U, raw.channels()));
    for (int y = 0; y < raw.rows; ++y) {
      const uint16_t* s = raw.ptr<uint16_t>(y);
      uint8_t* d = m8.ptr<uint8_t>(y);
      for (int i = 0; i < raw.cols * raw.channels(); ++i) d[i] = uint8_t(s[i] >> 8);
    }
    raw = m8;
  } else if (raw.depth() != CV_8U) {
    throw Error(fmt::format("{} has an unsupported sample type", h.name));
  }
  cv::Mat rgb;
  switch (raw.channels()) {
    case 1: cv::cvtColor(raw, rgb, cv::COLOR_GRAY2RGB); break;
    case 2: {  // grey + alpha
      cv::Mat grey;
      cv::extractChannel(raw, grey, 0);
      cv::cvtColor(grey, rgb, cv::COLOR_GRAY2RGB);
      break;
    }
    case 3: cv::cvtColor(raw, rgb, cv::COLOR_BGR2RGB); break;
    // PIL's convert("RGB") discards alpha without compositing onto a background.
    case 4: cv::cvtColor(raw, rgb, cv::COLOR_BGRA2RGB); break;
    default: throw Error(fmt::format("{} has {} channels", h.name, raw.channels()));
  }
  return apply_orientation(rgb, h.orientation);
}

ScaledImage decode_for_faces_unchecked(std::string_view bytes, const DecodeLimits& limits, int min_side,
                                       bool grey) {
  const Header h = read_header(bytes, limits);
  const bool turned = h.orientation >= 5;  // EXIF 5-8 swap width and height
  const cv::Size full(int(turned ? h.height : h.width), int(turned ? h.width : h.height));
  int reduce = 1;
  if (h.format == Format::Jpeg)
    while (reduce < 8 && (std::max(h.width, h.height) + 2 * reduce - 1) / (2 * reduce) >= min_side) reduce *= 2;
  if (h.format != Format::Jpeg || (reduce == 1 && !grey)) {
    cv::Mat rgb = decode_rgb_unchecked(bytes, limits);
    return {grey ? rgb_to_luma(rgb) : rgb, 1.0, full};
  }
  static const std::map<int, std::pair<int, int>> kFlags{
      {1, {cv::IMREAD_GRAYSCALE, cv::IMREAD_COLOR}},
      {2, {cv::IMREAD_REDUCED_GRAYSCALE_2, cv::IMREAD_REDUCED_COLOR_2}},
      {4, {cv::IMREAD_REDUCED_GRAYSCALE_4, cv::IMREAD_REDUCED_COLOR_4}},
      {8, {cv::IMREAD_REDUCED_GRAYSCALE_8, cv::IMREAD_REDUCED_COLOR_8}}};
  const auto [grey_flag, colour_flag] = kFlags.at(reduce);
  // libjpeg's grey output is the stored luma plane (no chroma upsampling or colour conversion).
  cv::Mat m = imdecode_checked(bytes, h, (grey ? grey_flag : colour_flag) | cv::IMREAD_IGNORE_ORIENTATION, reduce);
  if (!grey) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  return {apply_orientation(m, h.orientation), 1.0 / reduce, full};
}

// Every decoding failure is the image's fault; only the size limit has a code of its own.
template <typename F>
auto with_image_codes(F&& decode) {
  try {
    return decode();
  } catch (const Error& e) {
    throw Error(e.what(), e.errc() == Errc::invalid_input ? Errc::bad_image : e.errc());
  }
}

}  // namespace

cv::Mat decode_rgb(std::string_view bytes, const DecodeLimits& limits) {
  return with_image_codes([&] { return decode_rgb_unchecked(bytes, limits); });
}

ScaledImage decode_for_faces(std::string_view bytes, const DecodeLimits& limits, int min_side, bool grey) {
  return with_image_codes([&] { return decode_for_faces_unchecked(bytes, limits, min_side, grey); });
}

cv::Mat read_rgb(const std::filesystem::path& path, const DecodeLimits& limits) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open image {}", path.string()), Errc::bad_image);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return decode_rgb(bytes, limits);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", path.string(), e.what()), e.errc());
  }
}

cv::Mat resize_bilinear_antialias(const cv::Mat& img, int height, int width) {
  if (img.depth() != CV_8U || img.empty()) throw Error("resize: expected a non-empty 8-bit image");
  if (height <= 0 || width <= 0) throw Error(fmt::format("resize: bad size {}x{}", width, height));
  cv::Mat m = img;
  if (m.cols != width) m = resample_axis(m, width, true);
  if (m.rows != height) m = resample_axis(m, height, false);
  return m.data == img.data ? img.clone() : m;
}

cv::Mat rgb_to_luma(const cv::Mat& rgb) {
  if (rgb.type() != CV_8UC3) throw Error("rgb_to_luma: expected an 8-bit RGB image");
  cv::Mat grey(rgb.size(), CV_8UC1);
  for (int y = 0; y < rgb.rows; ++y) {
    const uint8_t* s = rgb.ptr<uint8_t>(y);
    uint8_t* d = grey.ptr<uint8_t>(y);
    // PIL's fixed-point form of L = 0.299 R + 0.587 G + 0.114 B, rounded.
    for (int x = 0; x < rgb.cols; ++x, s += 3)
      d[x] = uint8_t((s[0] * 19595u + s[1] * 38470u + s[2] * 7471u + 0x8000u) >> 16);
  }
  return grey;
}

PreprocessOptions from_processor_config(const io::ImageProcessorConfig& p, int channels) {
  PreprocessOptions o;
  o.height = p.height, o.width = p.width, o.channels = channels;
  o.do_resize = p.do_resize, o.do_rescale = p.do_rescale, o.do_normalize = p.do_normalize;
  o.rescale_factor = p.rescale_factor;
  // preprocess() matches mean/std to the channel count (and names a mismatch), so pass them as saved.
  o.mean = p.image_mean, o.std = p.image_std;
  return o;
}

io::ImageProcessorConfig to_processor_config(const PreprocessOptions& o) {
  io::ImageProcessorConfig p;
  p.height = o.height, p.width = o.width;
  p.do_resize = o.do_resize, p.do_rescale = o.do_rescale, p.do_normalize = o.do_normalize;
  p.rescale_factor = o.rescale_factor;
  p.image_mean = o.mean, p.image_std = o.std;
  return p;
}

std::vector<float> preprocess(const cv::Mat& rgb, const PreprocessOptions& o) {
  if (o.channels != 1 && o.channels != 3)
    throw Error(fmt::format("preprocess: channels must be 1 or 3, not {}", o.channels));
  // Grey input is taken as is when the model wants grey (training keeps faces grey in memory), and
  // replicated to R = G = B when it wants colour (FER2013's grey faces for a colour model, as PIL's
  // convert("RGB") does); colour input for a grey model is read as its luma.
  const bool grey_in = rgb.type() == CV_8UC1;
  if (rgb.empty() || (rgb.type() != CV_8UC3 && !grey_in))
    throw Error("preprocess: expected a non-empty 8-bit RGB (CV_8UC3) or grey (CV_8UC1) image");
  cv::Mat img = rgb;
  if (o.channels == 1 && !grey_in) img = rgb_to_luma(rgb);
  if (o.channels == 3 && grey_in) cv::cvtColor(rgb, img, cv::COLOR_GRAY2RGB);
  if (o.do_resize) img = resize_bilinear_antialias(img, o.height, o.width);
  const float r = o.do_rescale ? float(o.rescale_factor) : 1.0f;
  std::vector<double> mean(o.channels, 0.0), stdv(o.channels, 1.0);
  if (o.do_normalize) {
    mean = per_channel(o.mean, o.channels, "mean");
    stdv = per_channel(o.std, o.channels, "std");
    for (double s : stdv)
      if (s == 0) throw Error("preprocess: image_std contains 0");
  }
  const int hw = img.rows * img.cols;
  std::vector<float> out(size_t(o.channels) * hw);
  for (int c = 0; c < o.channels; ++c) {
    const float m = float(mean[c]), s = float(stdv[c]);
    float* d = out.data() + size_t(c) * hw;
    for (int y = 0; y < img.rows; ++y) {
      const uint8_t* p = img.ptr<uint8_t>(y);
      // Same float32 order of operations as transformers: x * rescale, then (x - mean) / std.
      for (int x = 0; x < img.cols; ++x) d[y * img.cols + x] = (float(p[x * o.channels + c]) * r - m) / s;
    }
  }
  return out;
}

}  // namespace emopost::vision
