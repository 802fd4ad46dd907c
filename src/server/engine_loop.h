#pragma once
// The engine loop: one thread that owns the model's slots and knows nothing of HTTP. Each slot
// is a Session (its own KV cache of ctx_size positions) serving one job at a time.
//
// Each step it admits waiting jobs into free slots (evaluating their prompts), then advances every
// active slot by one token: continuous scheduling, so a request joins or leaves between any two
// tokens of the others. The slots still run one forward pass each per step; a shared forward
// batch over all active slots comes later and will slot in behind step().
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "model/model.h"
#include "server/metrics.h"
#include "server/request_queue.h"
#include "tokenizer/tokenizer.h"

namespace infera::server {

struct EngineOptions {
  int parallel = 4;         // slots
  int64_t ctx_size = 2048;  // positions per slot
};

class EngineLoop {
 public:
  EngineLoop(const Model& model, const Tokenizer& tokenizer, ThreadPool& pool, RequestQueue& queue,
             MetricsRegistry& metrics, EngineOptions options);
  ~EngineLoop();
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  void start();
  // Returns once the queue is closed and every job has ended (or the queue was aborted).
  void join();
  bool finished() const { return finished_.load(); }
  int64_t slot_ctx() const { return options_.ctx_size; }

 private:
  struct Slot;
  void run();
  void admit(Slot& slot, std::shared_ptr<Job> job);
  void advance(Slot& slot);
  void end(Slot& slot, JobEnd how, const std::string& message = {});

  const Model& model_;
  const Tokenizer& tokenizer_;
  ThreadPool& pool_;
  RequestQueue& queue_;
  MetricsRegistry& metrics_;
  EngineOptions options_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::thread thread_;
  std::atomic<bool> finished_{false};
};

}  // namespace infera::server
