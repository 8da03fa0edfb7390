#include "emopost/serve/server.h"

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "emopost/core/error.h"
#include "emopost/core/json.h"
#include "emopost/serve/http_server.h"
#include "emopost/serve/prometheus.h"
#include "emopost/serve/web_assets.h"

namespace emopost::serve {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// `status` overrides the table's only where httplib has already chosen one (its own 4xx answers).
void send_error(httplib::Response& res, Errc code, const std::string& message, int status = 0) {
  res.status = status ? status : error_kind(code).http_status;
  // The rest of a refused, late or garbled request is never read: where it ends is unknown, so the
  // connection cannot carry another request.
  if (code == Errc::payload_too_large || code == Errc::slow_request || code == Errc::bad_request)
    HttpServer::close_after_answer(res);
  if (res.status == 503) res.set_header("Retry-After", "1");
  res.set_content(dump_json({{"error", {{"code", error_kind(code).name}, {"message", message}}}}), "application/json");
}

void send_json(httplib::Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_content(dump_json(j), "application/json");
}

// Per-request bookkeeping lives with the worker thread that serves the request (httplib runs a
// request's routing, handler and logger on one thread).
thread_local Clock::time_point t_request_start;
thread_local bool t_counted = false;
thread_local size_t t_bytes_in = 0;  // body bytes read (after decoding) by read_body

// What the client sent, fit for one log line: control bytes (a decoded %0A would forge a line),
// quotes, backslashes and non-ASCII bytes are written as \xNN.
std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') out += fmt::format("\\x{:02x}", c);
    else out += char(c);
  }
  return out;
}

}  // namespace

struct Server::Impl {
  ServeOptions opt;
  ModelLoader load;
  HttpServer http;
  Metrics metrics;
  std::unique_ptr<predict::PostReader> predictor;
  std::unique_ptr<MicroBatcher> batcher;
  std::atomic<bool> ready{false};
  std::atomic<bool> stop_requested{false};
  // Written by the loader thread, read by /readyz and run(): behind a lock.
  mutable std::mutex load_mutex;
  std::string load_error_text;
  std::string load_error() const {
    std::lock_guard lock(load_mutex);
    return load_error_text;
  }
  std::thread loader;
  int port = 0;

  std::vector<predict::Outcome> run_posts(std::vector<predict::Post> posts, bool explain) {
    if (!ready) throw Error("the models are still loading", Errc::not_ready);
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    auto future = batcher->submit(std::move(posts), explain, cancelled);
    if (future.wait_for(opt.request_timeout) != std::future_status::ready) {
      *cancelled = true;  // not read at all if the models have not started on it
      throw Error(fmt::format("no answer within {} s", opt.request_timeout.count()), Errc::timeout);
    }
    return future.get();
  }

  // Runs `body`, turning any exception into a JSON error response.
  void guarded(httplib::Response& res, const std::function<void()>& body) {
    try {
      body();
    } catch (const Error& e) {
      send_error(res, e.errc(), e.what());
    } catch (const json::exception& e) {
      // A JSON type or range error here comes from reading the client's document.
      send_error(res, Errc::invalid_field, fmt::format("a field of the request has the wrong type: {}", e.what()));
    } catch (const std::exception& e) {
      spdlog::error("internal error: {}", e.what());
      send_error(res, Errc::internal, "internal error; see the server log");
    }
  }

  // The body, read here rather than by httplib so that the cap holds for every transfer and content
  // encoding: the bytes counted are those after dechunking and decompression, and reading stops at
  // the cap, so a body over it is never held.
  struct Body {
    std::string bytes;                          // a plain body
    std::map<std::string, std::string> parts;  // multipart: name -> content
  };
  Body read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    Body body;
    size_t total = 0;
    bool over = false, slow = false;
    const auto deadline = t_request_start + opt.body_timeout;
    auto take = [&](std::string& into, const char* data, size_t n) {
      total += n;
      if (total > opt.max_body_bytes) return !(over = true);
      if (Clock::now() > deadline) return !(slow = true);
      into.append(data, n);
      return true;
    };
    bool read = true;
    if (req.is_multipart_form_data()) {
      std::string* current = nullptr;
      read = reader(
          [&](const httplib::MultipartFormData& part) {
            if (body.parts.count(part.name))
              throw Error(fmt::format("the form has two \"{}\" parts", part.name), Errc::invalid_field);
            current = &body.parts[part.name];
            return true;
          },
          [&](const char* data, size_t n) { return current && take(*current, data, n); });
    } else {
      read = reader([&](const char* data, size_t n) { return take(body.bytes, data, n); });
    }
    t_bytes_in = total;
    if (over || (!read && res.status == 413))  // 413: httplib saw a Content-Length over the cap
      throw Error(fmt::format("the request body is over the limit of {} bytes", opt.max_body_bytes),
                  Errc::payload_too_large);
    if (slow || (!read && HttpServer::deadline_passed()))
      throw Error(fmt::format("the request body did not arrive within {} ms", opt.body_timeout.count()),
                  Errc::slow_request);
    if (!read)
      throw Error(req.is_multipart_form_data()
                      ? "the multipart form could not be read (no boundary, or cut short)"
                      : "the request body could not be read (cut short, or badly chunked or compressed)",
                  Errc::bad_request);
    return body;
  }

  void predict_one(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    guarded(res, [&] {
      auto body = read_body(req, res, reader);
      predict::Post post;
      bool explain = req.has_param("explain") && req.get_param_value("explain") != "0";
      if (req.is_multipart_form_data()) {
        if (body.parts.count("text")) post.text = std::move(body.parts["text"]);
        if (body.parts.count("image")) post.image = std::move(body.parts["image"]);
      } else if (req.get_header_value("Content-Type").find("application/json") == 0 || !body.bytes.empty()) {
        auto j = parse_json(body.bytes, "the body");
        post = predict::post_from_json(j);
        if (j.is_object() && j.contains("explain")) {
          if (!j["explain"].is_boolean()) throw Error("field \"explain\" must be true or false", Errc::invalid_field);
          explain = explain || j["explain"].get<bool>();
        }
      } else {
        throw Error("send multipart/form-data (image, text) or a JSON body", Errc::empty_post);
      }
      auto out = run_posts({std::move(post)}, explain).front();
      if (!out.prediction) throw Error(out.error_message, out.error_code);
      send_json(res, out.prediction->to_json());
    });
  }

  void predict_posts(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    guarded(res, [&] {
      auto j = parse_json(read_body(req, res, reader).bytes, "the body");
      if (j.is_object() && j.contains("posts")) j = j["posts"];
      if (!j.is_array()) throw Error("the body must be a JSON array of posts (or {\"posts\": [...]})", Errc::invalid_json);
      if (j.empty()) throw Error("the batch is empty", Errc::empty_post);
      if (j.size() > opt.max_batch_items)
        throw Error(fmt::format("the batch has {} posts, over the limit of {}", j.size(), opt.max_batch_items),
                    Errc::batch_too_large);
      // A bad item gets its error in place; the others still run.
      std::vector<predict::Post> posts;
      std::vector<std::optional<predict::Outcome>> results(j.size());
      std::vector<size_t> index;
      for (size_t i = 0; i < j.size(); ++i) {
        try {
          posts.push_back(predict::post_from_json(j[i]));
          index.push_back(i);
        } catch (const Error& e) {
          std::string id;
          try {
            id = predict::post_id(j[i]);
          } catch (const Error&) {  // the id itself is what is wrong: not echoed
          }
          results[i] = predict::Outcome::failed(id, e);
        }
      }
      if (!posts.empty()) {
        auto out = run_posts(std::move(posts), false);
        for (size_t k = 0; k < out.size(); ++k) results[index[k]] = std::move(out[k]);
      }
      json arr = json::array();
      for (auto& r : results) arr.push_back(r->to_json());
      send_json(res, {{"results", arr}});
    });
  }

  void routes() {
    http.set_pre_routing_handler([this](const httplib::Request&, httplib::Response&) {
      t_request_start = Clock::now();
      t_counted = true;
      t_bytes_in = 0;
      HttpServer::set_read_deadline(t_request_start + opt.body_timeout);  // the headers are in
      ++metrics.in_flight;
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      // Requests httplib refused before routing (a garbled request line) never started the clock.
      double seconds = t_counted ? std::chrono::duration<double>(Clock::now() - t_request_start).count() : 0;
      const size_t bytes_in = std::max(t_counted ? t_bytes_in : 0, req.body.size());
      if (t_counted) --metrics.in_flight;
      t_counted = false;
      // Known paths only, so that scanners cannot blow up the label set.
      static const std::set<std::string> known{"/", "/app.js", "/style.css", "/healthz", "/readyz", "/metrics",
                                               "/v1/models", "/v1/predict", "/v1/predict/batch"};
      metrics.request_done(known.count(req.path) ? req.path : "other", res.status, seconds);
      spdlog::info("access method={} path=\"{}\" status={} bytes_in={} bytes_out={} ms={:.1f} remote={}",
                   printable(req.method), printable(req.path), res.status, bytes_in,
                   res.body.size(), seconds * 1e3, req.remote_addr);
    });
    // httplib answers some errors itself (unknown path, body too large): give them JSON bodies.
    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 400 && HttpServer::deadline_passed())
        send_error(res, Errc::slow_request, "the request line and headers did not arrive in time", 408);
      else if (res.status == 404) send_error(res, Errc::not_found, "no such endpoint");
      else if (res.status == 413) send_error(res, Errc::payload_too_large, "the request body is over the size limit");
      else send_error(res, Errc::bad_request, fmt::format("HTTP {}", res.status), res.status);
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      spdlog::error("unhandled exception: {}", what);
      send_error(res, Errc::internal, "internal error; see the server log");
    });

    for (const auto& asset : web_assets())
      http.Get(asset.path, [&asset](const httplib::Request&, httplib::Response& res) {
        res.set_content(std::string(asset.content), asset.content_type);
      });
    // The report's files, read as they are (httplib refuses paths that climb out of the folder).
    if (!opt.report_dir.empty() && !http.set_mount_point("/report", opt.report_dir.string()))
      throw Error("--report " + opt.report_dir.string() + " is not a folder", Errc::invalid_input);
    http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { send_json(res, {{"status", "ok"}}); });
    http.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      if (ready) send_json(res, {{"status", "ready"}});
      else if (auto error = load_error(); !error.empty()) send_error(res, Errc::not_ready, error);
      else send_error(res, Errc::not_ready, "the models are still loading");
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.render(), "text/plain; version=0.0.4");
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      guarded(res, [&] {
        if (!ready) throw Error("the models are still loading", Errc::not_ready);
        auto info = predictor->info();
        info["version"] = "emopost 0.1.0";
        if (!opt.report_dir.empty()) info["report"] = "/report/index.html";
        send_json(res, info);
      });
    });
    http.Post("/v1/predict", [this](const httplib::Request& q, httplib::Response& r, const httplib::ContentReader& c) {
      predict_one(q, r, c);
    });
    http.Post("/v1/predict/batch",
              [this](const httplib::Request& q, httplib::Response& r, const httplib::ContentReader& c) {
                predict_posts(q, r, c);
              });

    // The wrong method on a known path is 405 with Allow, not 404.
    auto not_allowed = [](const char* allow) {
      return [allow](const httplib::Request& req, httplib::Response& res) {
        res.set_header("Allow", allow);
        send_error(res, Errc::method_not_allowed, fmt::format("{} is not allowed here; use {}", req.method, allow));
      };
    };
    for (const char* p : {"/v1/predict", "/v1/predict/batch"}) {
      http.Get(p, not_allowed("POST"));
      http.Put(p, not_allowed("POST"));
      http.Delete(p, not_allowed("POST"));
      http.Patch(p, not_allowed("POST"));
    }
    for (const char* p : {"/healthz", "/readyz", "/metrics", "/v1/models"}) {
      http.Post(p, not_allowed("GET"));
      http.Put(p, not_allowed("GET"));
      http.Delete(p, not_allowed("GET"));
    }
  }
};

Server::Server(ServeOptions options, ModelLoader load) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.opt = std::move(options);
  m.load = std::move(load);
  m.http.header_timeout = m.opt.header_timeout;
  // spdlog's registry is a function-local static in its shared library: built here, before the
  // server's threads, it is never first built by two of them at once.
  spdlog::default_logger_raw();
  m.http.set_payload_max_length(m.opt.max_body_bytes);
  // Socket timeouts follow the request timeout, but never drop to 0: httplib would then fail to
  // read even a small body that is already on its way.
  const auto io_timeout = std::max(m.opt.request_timeout, std::chrono::seconds(1));
  m.http.set_read_timeout(io_timeout);
  m.http.set_write_timeout(io_timeout);
  const int threads = m.opt.http_threads;
  m.http.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  m.routes();
}

Server::~Server() {
  stop();
  if (impl_->loader.joinable()) impl_->loader.join();
}

int Server::bind() {
  auto& m = *impl_;
  m.port = m.opt.port == 0 ? m.http.bind_to_any_port(m.opt.host) : (m.http.bind_to_port(m.opt.host, m.opt.port) ? m.opt.port : -1);
  if (m.port < 0) throw Error(fmt::format("cannot listen on {}:{}", m.opt.host, m.opt.port));
  m.loader = std::thread([&m, this] {
    try {
      auto t = Clock::now();
      m.predictor = m.load();
      m.batcher = std::make_unique<MicroBatcher>(
          *m.predictor, m.opt.batcher, [&m](size_t n) { m.metrics.batch_done(n); },
          [&m](size_t n) { m.metrics.posts_cancelled += n; });
      m.ready = true;
      spdlog::info("models loaded in {:.1f} s; ready", std::chrono::duration<double>(Clock::now() - t).count());
    } catch (const std::exception& e) {
      auto error = fmt::format("the models failed to load: {}", e.what());
      spdlog::error("{}", error);
      {
        std::lock_guard lock(m.load_mutex);
        m.load_error_text = error;
      }
      stop();
    }
  });
  return m.port;
}

void Server::run() {
  auto& m = *impl_;
  if (m.port <= 0) bind();
  spdlog::info("serving http://{}:{}/ (batch up to {} posts, wait {} us)", m.opt.host, m.port,
               m.opt.batcher.max_batch, m.opt.batcher.max_wait.count());
  // httplib's stop() does nothing before listening has begun, so a stop() that races the start
  // (models failing to load at once, an early SIGTERM) is repeated until listening has ended.
  std::atomic<bool> listening_done{false};
  std::thread stopper([&] {
    while (!listening_done) {
      if (m.stop_requested) m.http.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  if (!m.stop_requested) m.http.listen_after_bind();  // returns after stop(), once the workers finished
  listening_done = true;
  stopper.join();
  if (m.loader.joinable()) m.loader.join();
  m.batcher.reset();  // answers what is still queued
  if (auto error = m.load_error(); !error.empty()) throw Error(error, Errc::bad_model);
  spdlog::info("stopped");
}

void Server::stop() {
  impl_->stop_requested = true;
  impl_->http.stop();
}

bool Server::ready() const { return impl_->ready; }

std::string Server::answer_raw(std::string_view request) { return impl_->http.answer(request); }

}  // namespace emopost::serve
