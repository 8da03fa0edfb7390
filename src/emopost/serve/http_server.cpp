#include "emopost/serve/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace emopost::serve {

namespace {

using Clock = HttpServer::Clock;
using std::chrono::milliseconds;

// The deadline lives with the thread because httplib serves a connection, and runs its handlers,
// on one thread: the handlers move it once the headers are in.
thread_local Clock::time_point t_deadline = Clock::time_point::max();
thread_local bool t_deadline_passed = false;
thread_local bool t_close_after_answer = false;

// Waits for `events` on `fd` for up to `timeout`, and for reads never past the thread's deadline
// (the answer, a 408 among others, is still written after it).
bool wait_for(int fd, short events, milliseconds timeout) {
  for (;;) {
    const auto now = Clock::now();
    auto wait = timeout;
    if (events == POLLIN && t_deadline != Clock::time_point::max()) {
      const auto left = std::chrono::duration_cast<milliseconds>(t_deadline - now);
      if (left.count() <= 0) {
        t_deadline_passed = true;
        return false;
      }
      wait = std::min(wait, left + milliseconds(1));
    }
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, int(wait.count()));
    if (n > 0) return true;
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && events == POLLIN && Clock::now() >= t_deadline) t_deadline_passed = true;
    return false;
  }
}

std::string address(const sockaddr_storage& a, int& port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
  } else if (a.ss_family == AF_INET6) {
    auto* in = reinterpret_cast<const sockaddr_in6*>(&a);
    ::inet_ntop(AF_INET6, &in->sin6_addr, text, sizeof text);
    port = ntohs(in->sin6_port);
  }
  return text;
}

// A buffered socket stream whose reads and writes end at the thread's deadline.
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(int fd, milliseconds read_timeout, milliseconds write_timeout)
      : fd_(fd), read_timeout_(read_timeout), write_timeout_(write_timeout) {}

  bool is_readable() const override { return begin_ < end_ || wait_for(fd_, POLLIN, read_timeout_); }
  bool is_writable() const override { return wait_for(fd_, POLLOUT, write_timeout_); }

  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == end_) {
      if (!is_readable()) return -1;
      const auto n = ::recv(fd_, buffer_, sizeof buffer_, 0);
      if (n <= 0) return n < 0 && errno == EINTR ? read(ptr, size) : n;
      begin_ = 0, end_ = size_t(n);
    }
    const size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, buffer_ + begin_, n);
    begin_ += n;
    return ssize_t(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    return ::send(fd_, ptr, size, MSG_NOSIGNAL);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) ip = address(a, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) ip = address(a, port);
  }
  socket_t socket() const override { return fd_; }

  // Whether a request starts within `idle` (keep-alive); gives up early once the server stops.
  template <typename Running>
  bool wait_for_request(milliseconds idle, Running running) {
    if (begin_ < end_) return true;  // pipelined
    for (auto waited = milliseconds(0); waited < idle && running(); waited += milliseconds(100))
      if (wait_for(fd_, POLLIN, std::min(idle - waited, milliseconds(100)))) return true;
    return false;
  }

 private:
  int fd_;
  milliseconds read_timeout_, write_timeout_;
  char buffer_[4096];
  size_t begin_ = 0, end_ = 0;
};

milliseconds span(time_t sec, time_t usec) { return milliseconds(sec * 1000 + usec / 1000); }

// Closing a socket with unread input makes the kernel answer with RST, and a client still sending
// its body (one refused at the size cap, say) then loses the answer already sent to it. So after
// a request the server gave up on, send FIN and drop what still arrives, for a bounded time, before
// closing (Apache's "lingering close"): until the client closes, goes quiet for 500 ms, or 2 s pass.
void lingering_close(int fd) {
  ::shutdown(fd, SHUT_WR);
  const auto until = Clock::now() + std::chrono::seconds(2);
  char sink[16384];
  for (auto now = Clock::now(); now < until; now = Clock::now()) {
    pollfd p{fd, POLLIN, 0};
    const auto wait = std::min(milliseconds(500), std::chrono::duration_cast<milliseconds>(until - now));
    const int ready = ::poll(&p, 1, int(wait.count()) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    const auto n = ::recv(fd, sink, sizeof sink, 0);
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
}

}  // namespace

void HttpServer::set_read_deadline(Clock::time_point t) { t_deadline = t; }
bool HttpServer::deadline_passed() { return t_deadline_passed; }
void HttpServer::close_after_answer(httplib::Response& res) {
  res.set_header("Connection", "close");
  t_close_after_answer = true;
}

std::string HttpServer::answer(std::string_view request) {
  // BufferStream reads what was written into it, then appends the answer after it.
  httplib::detail::BufferStream stream;
  stream.write(request.data(), request.size());
  t_deadline = Clock::now() + header_timeout;
  t_deadline_passed = false;
  bool closed = false;
  process_request(stream, true, closed, nullptr);
  t_deadline = Clock::time_point::max();
  return stream.get_buffer().substr(request.size());
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  DeadlineStream stream(sock, span(read_timeout_sec_, read_timeout_usec_), span(write_timeout_sec_, write_timeout_usec_));
  bool ok = false, ended_by_answer = false;
  for (size_t left = keep_alive_max_count_; left > 0; --left) {
    t_deadline = Clock::time_point::max();  // idle between requests: the keep-alive timeout bounds it
    t_deadline_passed = false;
    t_close_after_answer = false;
    if (!stream.wait_for_request(milliseconds(keep_alive_timeout_sec_ * 1000),
                                 [this] { return svr_sock_ != INVALID_SOCKET; }))
      break;
    t_deadline = Clock::now() + header_timeout;
    bool closed = false;
    ok = process_request(stream, left == 1, closed, nullptr);
    if (!ok || closed || t_close_after_answer) {
      ended_by_answer = ok;
      break;
    }
  }
  t_deadline = Clock::time_point::max();
  // An answer that closed the connection may have come before the whole request was read; an
  // idle keep-alive connection, or one whose answer could not be written, has nothing to wait for.
  if (ended_by_answer) lingering_close(sock);
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace emopost::serve
