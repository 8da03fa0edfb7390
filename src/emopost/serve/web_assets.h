#pragma once
// The web page's files (web/), compiled into the binary so that the server needs no files and no
// network. cmake/EmbedWebAssets.cmake generates the definition.
#include <string_view>
#include <vector>

namespace emopost::serve {

struct WebAsset {
  const char* path;  // URL path: "/", "/app.js", ...
  std::string_view content;
  const char* content_type;
};

const std::vector<WebAsset>& web_assets();

}  // namespace emopost::serve
