#include "stop_signals.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <thread>

#include <spdlog/spdlog.h>

#include "emopost/core/error.h"

namespace emopost::app {

namespace {

// The handler only writes the signal to a pipe, and a thread reads it. Blocking the signals would
// not do: threads that libraries start before main() leave them unblocked, and the default kills.
int g_stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int sig) {
  const char c = char(sig);
  [[maybe_unused]] auto n = ::write(g_stop_pipe[1], &c, 1);  // async-signal-safe
}

}  // namespace

void catch_stop_signals() {
  if (::pipe2(g_stop_pipe, O_CLOEXEC) != 0) throw Error("cannot create the signal pipe", Errc::internal);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

void run_until_stop_signal(const std::function<void()>& body, const std::function<void()>& on_stop,
                           const char* in_flight) {
  std::thread watcher([&] {
    char sig = 0;
    while (::read(g_stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig == 0) return;  // woken to be joined, not a signal
    spdlog::info("signal {}: finishing {} in flight, then stopping", int(sig), in_flight);
    on_stop();
  });
  auto join_watcher = [&] {
    const char wake = 0;
    [[maybe_unused]] auto n = ::write(g_stop_pipe[1], &wake, 1);
    watcher.join();
  };
  try {
    body();
  } catch (...) {
    join_watcher();
    throw;
  }
  join_watcher();
}

}  // namespace emopost::app
