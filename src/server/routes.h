#pragma once
// The HTTP routes: each handler parses its body into a native struct at once (openai_schema.h),
// turns it into a GenerationRequest, hands it to the queue and relays the job's events back as
// JSON or server-sent events. No model code runs here but tokenization and chat templates.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "chat/chat_template.h"
#include "model/model.h"
#include "server/metrics.h"
#include "server/request_queue.h"
#include "tokenizer/tokenizer.h"

namespace httplib {
class Server;
}

namespace infera::server {

// What the routes read. The model fields are set once before `ready` turns true; until then every
// /v1 route and /health answer 503.
struct ServerState {
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};
  const Model* model = nullptr;
  const Tokenizer* tokenizer = nullptr;
  std::optional<ChatTemplate> chat_template;
  std::string model_name;
  int64_t created = 0;
  int64_t seq_ctx = 0;
  size_t max_body_bytes = 16u << 20;
  RequestQueue* queue = nullptr;
  MetricsRegistry* metrics = nullptr;
};

void register_routes(httplib::Server& server, ServerState& state);

}  // namespace infera::server
