#pragma once
// Where the HTTP threads and the engine thread meet. Every lock of the server lives in this file:
// the queue of waiting jobs, and each job's channel of events back to its HTTP thread.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sample/sampler.h"

namespace infera::server {

// What the engine is asked to do: no HTTP, no JSON.
struct GenerationRequest {
  std::vector<int32_t> prompt;  // token ids, not empty
  SamplingParams sampling;
  int64_t max_tokens = 0;  // >= 1; prompt + max_tokens fits a sequence's context
  std::vector<std::string> stop;
  // -1: no log-probabilities; 0…20: each token's log-probability and that many alternatives.
  int top_logprobs = -1;
};

// A generated token's log-probability under the model (before temperature and truncation), and
// the most likely alternatives at its position, most likely first.
struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;
};

enum class JobEnd { kStop, kLength, kCancelled, kError };

struct JobEvent {
  enum class Kind { kText, kDone } kind = Kind::kText;
  std::string text;                    // kText: complete UTF-8; kDone with kError: the message
  std::vector<TokenLogprob> logprobs;  // kText: the tokens since the last event, when asked
  JobEnd end = JobEnd::kStop;
  int64_t prompt_tokens = 0, completion_tokens = 0;
};

// One request's way back from the engine. The engine pushes; the HTTP thread pops; either side
// may learn that the other is gone (cancel() by the HTTP side when its client disconnects).
class JobChannel {
 public:
  void push_text(std::string text, std::vector<TokenLogprob> logprobs = {});
  void finish(JobEnd end, int64_t prompt_tokens, int64_t completion_tokens,
              std::string message = {});
  // Waits up to `timeout` for events; moves all pending ones into *out. False on timeout.
  bool pop(std::vector<JobEvent>* out, std::chrono::milliseconds timeout);
  void cancel();
  bool cancelled() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<JobEvent> events_;
  bool cancelled_ = false;
};

struct Job {
  GenerationRequest request;
  JobChannel channel;
  std::chrono::steady_clock::time_point arrival = std::chrono::steady_clock::now();
};

class RequestQueue {
 public:
  explicit RequestQueue(size_t max_waiting) : max_waiting_(max_waiting) {}

  enum class Submit { kQueued, kFull, kClosed };
  Submit submit(std::shared_ptr<Job> job);

  // Engine side: takes up to `max` waiting jobs. When `wait` is set and none is waiting, blocks
  // until one arrives, the queue is closed, or `timeout` passes.
  std::vector<std::shared_ptr<Job>> take(size_t max, bool wait, std::chrono::milliseconds timeout);

  // Stops accepting jobs; those already waiting are still handed out.
  void close();
  bool closed() const;
  // Asks the engine to end every job now (shutdown past its deadline).
  void abort();
  bool aborted() const;

  size_t waiting() const;
  // Jobs the engine holds (running or about to), reported by the engine for draining.
  void set_running(size_t n);
  size_t running() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> waiting_;
  size_t max_waiting_;
  size_t running_ = 0;
  bool closed_ = false;
  bool aborted_ = false;
};

}  // namespace infera::server
