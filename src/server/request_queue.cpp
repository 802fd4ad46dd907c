#include "server/request_queue.h"

namespace infera::server {

void JobChannel::push_text(std::string text, std::vector<TokenLogprob> logprobs) {
  {
    std::lock_guard lock(mutex_);
    JobEvent e;
    e.text = std::move(text);
    e.logprobs = std::move(logprobs);
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

void JobChannel::finish(JobEnd end, int64_t prompt_tokens, int64_t completion_tokens,
                        std::string message) {
  {
    std::lock_guard lock(mutex_);
    JobEvent e;
    e.kind = JobEvent::Kind::kDone;
    e.end = end;
    e.text = std::move(message);
    e.prompt_tokens = prompt_tokens;
    e.completion_tokens = completion_tokens;
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

bool JobChannel::pop(std::vector<JobEvent>* out, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
  while (!events_.empty()) {
    out->push_back(std::move(events_.front()));
    events_.pop_front();
  }
  return true;
}

void JobChannel::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
}

bool JobChannel::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

RequestQueue::Submit RequestQueue::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return Submit::kClosed;
    if (waiting_.size() >= max_waiting_) return Submit::kFull;
    waiting_.push_back(std::move(job));
  }
  cv_.notify_all();
  return Submit::kQueued;
}

std::vector<std::shared_ptr<Job>> RequestQueue::take(size_t max, bool wait,
                                                     std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (wait) cv_.wait_for(lock, timeout, [&] { return !waiting_.empty() || closed_ || aborted_; });
  std::vector<std::shared_ptr<Job>> out;
  while (out.size() < max && !waiting_.empty()) {
    out.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  return out;
}

void RequestQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool RequestQueue::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

void RequestQueue::abort() {
  {
    std::lock_guard lock(mutex_);
    aborted_ = true;
  }
  cv_.notify_all();
}

bool RequestQueue::aborted() const {
  std::lock_guard lock(mutex_);
  return aborted_;
}

size_t RequestQueue::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

void RequestQueue::set_running(size_t n) {
  std::lock_guard lock(mutex_);
  running_ = n;
}

size_t RequestQueue::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

}  // namespace infera::server
