#include "server/http_server.h"

#include <httplib.h>

#include "core/error.h"
#include "server/openai_schema.h"

namespace infera::server {

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Walk the expected key's length whatever is presented; fold the length difference in.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < b.size(); ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ static_cast<unsigned char>(b[i]));
  }
  return diff == 0;
}

bool authorized(const std::string& authorization, const std::string& api_key) {
  static const std::string kBearer = "Bearer ";
  if (authorization.size() < kBearer.size() ||
      authorization.compare(0, kBearer.size(), kBearer) != 0)
    return false;
  return constant_time_equal(authorization.substr(kBearer.size()), api_key);
}

HttpServer::HttpServer(HttpOptions options, ServerState& state)
    : options_(std::move(options)), state_(state), server_(std::make_unique<httplib::Server>()) {
  httplib::Server& svr = *server_;
  const int threads = options_.threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_payload_max_length(options_.max_body_bytes);
  svr.set_keep_alive_timeout(2);

  const std::string key = options_.api_key;
  svr.set_pre_routing_handler([key](const httplib::Request& req, httplib::Response& res) {
    if (key.empty() || req.path == "/health" || req.path == "/metrics")
      return httplib::Server::HandlerResponse::Unhandled;
    if (authorized(req.get_header_value("Authorization"), key))
      return httplib::Server::HandlerResponse::Unhandled;
    ApiError e;
    e.status = 401;
    e.message = "Incorrect API key provided.";  // never echo what was sent
    e.code = "invalid_api_key";
    res.status = 401;
    res.set_content(error_body(e), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  });

  // Errors httplib answers by itself (unknown path, body too large, ...) get OpenAI's shape too.
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    ApiError e;
    e.status = res.status;
    e.message = res.status == 404   ? "no such route"
                : res.status == 413 ? "the request body is too large"
                                    : "HTTP error " + std::to_string(res.status);
    e.type = res.status >= 500 ? "server_error" : "invalid_request_error";
    res.set_content(error_body(e), "application/json");
  });
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        ApiError e;
        e.status = 500;
        e.type = "server_error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& ex) {
          e.message = ex.what();
        } catch (...) {
          e.message = "internal error";
        }
        res.status = 500;
        res.set_content(error_body(e), "application/json");
      });

  register_routes(svr, state_);
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::bind() {
  if (options_.port == 0) {
    const int port = server_->bind_to_any_port(options_.host);
    if (port > 0) return port;
  } else if (server_->bind_to_port(options_.host, options_.port)) {
    return options_.port;
  }
  throw Error(ErrorKind::kIo, "cannot listen on " + options_.host + ":" +
                                  std::to_string(options_.port) +
                                  " (address in use or not available)");
}

void HttpServer::start() {
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

void HttpServer::stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace infera::server
