#pragma once
// httplib's server with one change: each request must arrive by a deadline, not only each read
// within the socket timeout. httplib 0.11 bounds single reads, so a client that trickles its
// headers or body a byte at a time (slowloris) could hold an HTTP thread for as long as it liked.
#include <chrono>
#include <string>
#include <string_view>

#include <httplib.h>

namespace emopost::serve {

class HttpServer : public httplib::Server {
 public:
  using Clock = std::chrono::steady_clock;
  // From a request's first byte to the end of its headers.
  std::chrono::milliseconds header_timeout{10'000};

  // For the request being served on this thread (call from a handler): reads fail from `t` on.
  static void set_read_deadline(Clock::time_point t);
  // Whether this thread's last read failed because the deadline had passed.
  static bool deadline_passed();
  // For the request being served on this thread: its connection ends with this answer, which says
  // so ("Connection: close"). httplib 0.11 reads on after such an answer unless told here, taking
  // the rest of a refused body for the next request.
  static void close_after_answer(httplib::Response& res);

  // Serves one request given as raw bytes, without a socket, and returns the raw answer ("" when
  // httplib answered nothing). For the request fuzzer.
  std::string answer(std::string_view request);

 private:
  // Replaces httplib's keep-alive loop to read through a stream that keeps the deadline.
  bool process_and_close_socket(socket_t sock) override;
};

}  // namespace emopost::serve
