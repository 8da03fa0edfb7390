#include "emopost/bot/reply.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "emopost/core/error.h"
#include "emopost/core/labels.h"

namespace emopost::bot {

namespace {

constexpr std::array<const char*, kNumLabels> kEmoji = {"😠", "🤢", "😨", "😊", "😐", "😢", "😮"};

std::string top(const fusion::Scores& s) {
  const int l = fusion::argmax(s);
  return fmt::format("{} {:.0f}%", kLabels[size_t(l)], 100 * s[size_t(l)]);
}

}  // namespace

std::string label_emoji(int label) { return label >= 0 && label < kNumLabels ? kEmoji[size_t(label)] : "❔"; }

std::string verdict_text(const predict::Prediction& p, bool explain, bool edited) {
  std::string out = edited ? "✏️ Edited post: " : "";
  out += fmt::format("{} {} ({:.0f}% sure)\n", label_emoji(p.label), kLabels[size_t(p.label)], 100 * p.confidence);
  out += p.text ? fmt::format("text: {}\n", top(*p.text)) : "text: (none)\n";
  if (p.image) out += fmt::format("faces: {} ({} found)\n", top(*p.image), p.faces.size());
  else out += "faces: (none found)\n";
  out += fmt::format("fused: {}", top(p.fused));
  for (const auto& n : p.notes) out += "\n" + n;
  if (explain) {
    auto words = p.attribution;
    std::stable_sort(words.begin(), words.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
    std::string list;
    for (const auto& w : words) {
      if (w.score <= 0 || list.size() > 200) break;
      list += fmt::format("{}{} (+{:.2f})", list.empty() ? "" : ", ", w.word, w.score);
    }
    out += p.text ? "\nWords that pushed the text verdict: " + (list.empty() ? std::string("none stood out") : list)
                  : "\nThere is no text to explain.";
  }
  return out;
}

predict::Outcome merge_album(const std::vector<predict::Outcome>& parts, bool with_text, const fusion::FusionModel& fusion) {
  predict::Prediction merged;
  std::vector<predict::Face> faces;
  const predict::Outcome* first_error = nullptr;
  int pictures = 0, unread = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& o = parts[i];
    const bool is_text = with_text && i == 0;
    if (!o.prediction) {
      if (!first_error) first_error = &o;
      if (!is_text) ++unread;
      continue;
    }
    const auto& p = *o.prediction;
    if (is_text) {
      merged.text = p.text;
      merged.normalized_text = p.normalized_text;
      merged.attribution = p.attribution;
      if (!p.text) merged.notes.push_back("The caption had no words the text model can read, so the text abstained.");
    } else {
      ++pictures;
      faces.insert(faces.end(), p.faces.begin(), p.faces.end());
    }
  }
  if (!with_text) merged.notes.push_back("There is no caption, so the text abstained.");
  if (unread) merged.notes.push_back(fmt::format("{} of the album's pictures could not be read: {}", unread,
                                                 first_error ? first_error->error_message : ""));
  merged.faces = faces;
  merged.image = predict::pool_faces(merged.faces);
  if (!merged.image && pictures) merged.notes.push_back("No face was found in the album's pictures, so the image abstained.");
  if (!merged.text && !merged.image) {
    if (first_error) return *first_error;
    return predict::Outcome::failed("", Error("neither the caption nor a face could be read", Errc::no_signal));
  }
  predict::settle_verdict(merged, fusion);
  predict::Outcome out;
  out.prediction = std::move(merged);
  return out;
}

std::string apology(const std::string& problem) { return "Sorry, I could not read this post: " + problem; }

std::string unsupported_text(const std::string& kind) {
  return fmt::format("I can't read {} yet. Send me a photo with a caption, a photo, an image file or some text, "
                     "and I'll tell you its emotion.",
                     kind == "file" ? "this kind of file" : kind == "other" ? "this kind of message" : "a " + kind);
}

std::string help_text() {
  return "Send me a post: a photo with a caption, a photo alone, an image file or some text. I answer with its "
         "emotion (anger, disgust, fear, joy, neutral, sadness, surprise): one line for the text, one for the faces "
         "and the fused verdict, then the photo with each face boxed.\n"
         "An album is read as one post. End a caption with /explain to see the words behind the text verdict.\n"
         "In groups I answer only messages that mention me, reply to me, or are commands.\n"
         "/help: this text  /privacy: what I keep  /about: the models and their test scores";
}

std::string privacy_text() {
  return "What I keep: the ids of the updates I received, their kind (photo, text...), and whether and when I "
         "answered. I keep no message text and no photos: they are read in memory and dropped once the reply is "
         "sent.";
}

std::string about_text(const nlohmann::json& info) {
  std::string out = "emopost reads posts with two models and fuses their verdicts, trusting the text more.";
  for (const char* part : {"text", "face"}) {
    if (!info.contains(part) || !info[part].is_object()) continue;
    const std::string card = info[part].value("card", "");
    std::istringstream in(card);
    std::string line, title, figures;
    while (std::getline(in, line)) {
      if (title.empty() && line.rfind("# ", 0) == 0) title = line.substr(2);
      // The test table's bold rows: | **data** | n | **acc** | **f1** |
      if (line.rfind("| **", 0) == 0 && figures.size() < 300) {
        std::vector<std::string> cells;
        std::istringstream row(line);
        for (std::string cell; std::getline(row, cell, '|');) {
          cell.erase(std::remove(cell.begin(), cell.end(), '*'), cell.end());
          cell.erase(0, cell.find_first_not_of(' '));
          cell.erase(cell.find_last_not_of(' ') + 1);
          if (!cell.empty()) cells.push_back(cell);
        }
        if (cells.size() >= 4)
          figures += fmt::format("\n  {} ({} examples): accuracy {}, macro-F1 {}", cells[0], cells[1], cells[2], cells[3]);
      }
    }
    out += fmt::format("\n\n{}: {}", part == std::string("text") ? "Text" : "Faces", title.empty() ? "(no model card)" : title);
    out += figures.empty() ? "\n  (the card gives no test scores)" : "\n  Test scores:" + figures;
  }
  return out;
}

std::string draw_faces(const std::string& image, const std::vector<predict::Face>& faces, int max_side) {
  cv::Mat raw(1, int(image.size()), CV_8UC1, const_cast<char*>(image.data()));
  cv::Mat picture = cv::imdecode(raw, cv::IMREAD_COLOR);
  if (picture.empty()) throw Error("the picture cannot be decoded", Errc::bad_image);
  const double scale = std::min(1.0, double(max_side) / std::max(picture.cols, picture.rows));
  if (scale < 1) cv::resize(picture, picture, {}, scale, scale, cv::INTER_AREA);
  const int thickness = std::max(2, int(std::lround(std::max(picture.cols, picture.rows) / 400.0)));
  for (const auto& f : faces) {
    const cv::Rect box(int(f.box.x * scale), int(f.box.y * scale), int(f.box.width * scale), int(f.box.height * scale));
    const int l = fusion::argmax(f.probabilities);
    cv::rectangle(picture, box, {60, 200, 60}, thickness);
    const std::string label = fmt::format("{} {:.0f}%", kLabels[size_t(l)], 100 * f.probabilities[size_t(l)]);
    const double font = std::max(0.5, box.width / 160.0);
    int base = 0;
    const auto size = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, font, thickness, &base);
    const cv::Point at(box.x, std::max(size.height + 4, box.y - 4));
    cv::rectangle(picture, {at.x, at.y - size.height - 4, size.width + 4, size.height + base + 4}, {60, 200, 60}, cv::FILLED);
    cv::putText(picture, label, {at.x + 2, at.y}, cv::FONT_HERSHEY_SIMPLEX, font, {0, 0, 0}, thickness);
  }
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", picture, jpeg, {cv::IMWRITE_JPEG_QUALITY, 85});
  return {jpeg.begin(), jpeg.end()};
}

}  // namespace emopost::bot
