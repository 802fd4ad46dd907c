#pragma once
// The engine loop: one thread that owns the model's sequences and knows nothing of HTTP.
//
// Continuous batching. Each step builds one forward batch: one token for every sequence that is
// decoding, then chunks of the prompts being prefilled, up to batch_tokens in all; the batch runs
// as one forward pass and every sequence whose last token was in it samples its next token.
// Requests join and leave between any two steps, and a long prompt is spread over several steps
// instead of stalling the others.
//
// KV memory is one paged cache shared by all sequences (model/kv_cache.h): a sequence takes
// blocks as it grows, and blocks of full prompts stay cached so a request that starts with the
// same tokens (a system prompt, a chat history) attaches them instead of computing them again.
// When the cache runs out, the most recently admitted sequence is preempted: its blocks go back
// and it waits at the head of the line to be recomputed (same tokens, same sampler state).
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "model/batch_forward.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "server/metrics.h"
#include "server/request_queue.h"
#include "tokenizer/tokenizer.h"

namespace infera::server {

struct EngineOptions {
  int parallel = 4;           // sequences running at once
  int64_t ctx_size = 2048;    // most positions one sequence may hold (prompt + completion)
  int64_t kv_tokens = 0;      // positions the shared KV cache holds; 0: parallel × ctx_size
  int64_t batch_tokens = 64;  // most tokens in one forward step
  int64_t block_size = 16;    // positions per KV block
};

class EngineLoop {
 public:
  // Throws infera::Error for options that cannot work (no slots, a KV cache smaller than one
  // sequence's context, …).
  EngineLoop(const Model& model, const Tokenizer& tokenizer, ThreadPool& pool, RequestQueue& queue,
             MetricsRegistry& metrics, EngineOptions options);
  ~EngineLoop();
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  void start();
  // Returns once the queue is closed and every job has ended (or the queue was aborted).
  void join();
  bool finished() const { return finished_.load(); }
  int64_t sequence_ctx() const { return options_.ctx_size; }
  int64_t kv_capacity_tokens() const { return cache_.capacity_tokens(); }

 private:
  struct Sequence;
  using SequencePtr = std::unique_ptr<Sequence>;

  void run();
  void take_jobs(bool wait);
  void admit();
  bool should_wait_for_shared_prefix(const Sequence& seq) const;
  bool reserve_or_preempt(Sequence& seq, int64_t n_positions);
  void preempt(size_t index);
  void step();
  void after_logits(Sequence& seq);
  // Sends the text held back; true when it completed a stop string.
  bool finish_text(Sequence& seq);
  void end(Sequence& seq, JobEnd how, const std::string& message = {});
  void drop_ended();
  void publish_gauges();

  const Tokenizer& tokenizer_;
  RequestQueue& queue_;
  MetricsRegistry& metrics_;
  EngineOptions options_;
  KvCache cache_;
  BatchForward forward_;
  std::deque<SequencePtr> waiting_;   // taken from the queue (or preempted), not admitted yet
  std::vector<SequencePtr> running_;  // admitted, in admission order
  std::thread thread_;
  std::atomic<bool> finished_{false};
};

}  // namespace infera::server
