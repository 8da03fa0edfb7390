#pragma once
// SIGTERM and SIGINT for the long-running commands (serve, telegram): caught from the command's
// first moment, they stop the work cleanly instead of killing the process.
#include <functional>

namespace emopost::app {

// Installs the handlers. Call it in the command's setup, before any thread starts.
void catch_stop_signals();

// Runs `body`; a SIGTERM or SIGINT while it runs logs "signal N: finishing <in_flight> in flight,
// then stopping" and calls `on_stop` (on a watcher thread), which should make `body` wind down.
void run_until_stop_signal(const std::function<void()>& body, const std::function<void()>& on_stop,
                           const char* in_flight);

}  // namespace emopost::app
