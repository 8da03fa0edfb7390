#pragma once
// What the bot says: the verdict on a post, the commands' texts, apologies, and the post's photo
// with each face boxed and labelled. Pure functions, so each text is tested as the user reads it.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "emopost/fusion/fusion.h"
#include "emopost/predict/post.h"

namespace emopost::bot {

std::string label_emoji(int label);

// The reply to a read post: the emoji and label with the confidence, a line per modality (text,
// faces, fused), the notes on what abstained, and with `explain` the words behind the text verdict.
std::string verdict_text(const predict::Prediction& p, bool explain, bool edited = false);

// An album read as one post: the caption's reading (if any) and each picture's, its faces pooled
// together as one picture's would be, then fused. `parts` hold the caption's outcome first when
// `with_text`. A failed part is left out with a note; all failed gives the first error.
predict::Outcome merge_album(const std::vector<predict::Outcome>& parts, bool with_text, const fusion::FusionModel& fusion);

// "Sorry, ..." naming what went wrong.
std::string apology(const std::string& problem);
// The line for a message the bot cannot read (a sticker, a voice note, ...).
std::string unsupported_text(const std::string& kind);
std::string help_text();
std::string privacy_text();
// The models' names and test figures, read from their cards in PostReader::info().
std::string about_text(const nlohmann::json& info);

// The picture with each face boxed and labelled, scaled to at most `max_side`, as JPEG. Throws
// emopost::Error (bad_image) when the bytes do not decode.
std::string draw_faces(const std::string& image, const std::vector<predict::Face>& faces, int max_side = 1280);

}  // namespace emopost::bot
