#pragma once
// The transport: a cpp-httplib server on its own thread with the request body limit, API-key
// check and JSON error bodies for the errors httplib produces itself (404, 413, ...).
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "server/routes.h"

namespace infera::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;  // empty: no authentication
  size_t max_body_bytes = 16u << 20;
  int threads = 16;  // connections served at once (a streaming client holds one)
};

// Constant-time comparison of a presented credential with the expected one: the time taken
// depends only on the lengths, never on where the first difference is.
bool constant_time_equal(const std::string& a, const std::string& b);

// True when `authorization` (the Authorization header) carries `api_key` as a Bearer token.
bool authorized(const std::string& authorization, const std::string& api_key);

class HttpServer {
 public:
  HttpServer(HttpOptions options, ServerState& state);
  ~HttpServer();
  // Binds the socket; throws infera::Error when the address cannot be bound. Returns the port.
  int bind();
  // Serves on a background thread until stop().
  void start();
  // Stops accepting connections and waits for the requests in progress.
  void stop();

 private:
  HttpOptions options_;
  ServerState& state_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace infera::server
