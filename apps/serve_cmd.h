#pragma once
// The `serve` subcommand: the HTTP API and web page, stopped cleanly by SIGTERM or Ctrl-C.
#include <CLI/CLI.hpp>

#include "emopost/serve/server.h"

namespace emopost {

struct ServeCommand {
  serve::ServeOptions options;
  int max_wait_us = 5000;
  int timeout_s = 30;
  double max_megapixels = 40;
};

CLI::App* add_serve_command(CLI::App& app, ServeCommand& cmd);
int run_serve(ServeCommand& cmd);

}  // namespace emopost
