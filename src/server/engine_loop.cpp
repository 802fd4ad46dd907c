#include "server/engine_loop.h"

#include <optional>

#include "core/error.h"
#include "model/session.h"
#include "sample/sampler.h"
#include "server/stop_strings.h"

namespace infera::server {

struct EngineLoop::Slot {
  std::unique_ptr<Session> session;
  std::shared_ptr<Job> job;  // null when the slot is free
  std::unique_ptr<Sampler> sampler;
  std::optional<IncrementalDecoder> decoder;
  std::optional<StopStringMatcher> stops;
  std::vector<float> logits;  // next-token logits after the last eval
  int64_t prompt_tokens = 0;
  int64_t generated = 0;
};

EngineLoop::EngineLoop(const Model& model, const Tokenizer& tokenizer, ThreadPool& pool,
                       RequestQueue& queue, MetricsRegistry& metrics, EngineOptions options)
    : model_(model),
      tokenizer_(tokenizer),
      pool_(pool),
      queue_(queue),
      metrics_(metrics),
      options_(options) {
  if (options_.parallel < 1) throw Error(ErrorKind::kInvalidArgument, "--parallel must be >= 1");
  for (int i = 0; i < options_.parallel; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->session = std::make_unique<Session>(model_, options_.ctx_size, pool_);
    slots_.push_back(std::move(slot));
  }
}

EngineLoop::~EngineLoop() {
  if (thread_.joinable()) {
    queue_.close();
    queue_.abort();
    thread_.join();
  }
}

void EngineLoop::start() {
  thread_ = std::thread([this] { run(); });
}

void EngineLoop::join() {
  if (thread_.joinable()) thread_.join();
}

void EngineLoop::run() {
  using namespace std::chrono_literals;
  while (true) {
    size_t active = 0, free = 0;
    for (const auto& s : slots_) (s->job ? active : free)++;
    if (queue_.aborted()) {
      for (auto& s : slots_)
        if (s->job) end(*s, JobEnd::kError, "the server is shutting down");
      for (auto& job : queue_.take(SIZE_MAX, false, 0ms))
        job->channel.finish(JobEnd::kError, 0, 0, "the server is shutting down");
      break;
    }
    if (active == 0 && queue_.closed() && queue_.waiting() == 0) break;

    // Admit: an idle engine sleeps in take() until work arrives.
    if (free > 0) {
      auto jobs = queue_.take(free, /*wait=*/active == 0, 100ms);
      for (auto& job : jobs) {
        for (auto& s : slots_) {
          if (!s->job) {
            admit(*s, std::move(job));
            break;
          }
        }
      }
    }
    size_t running = 0;
    for (auto& s : slots_) {
      if (s->job) advance(*s);
      if (s->job) ++running;
    }
    queue_.set_running(running);
    metrics_.set("infera_requests_running", static_cast<double>(running));
    metrics_.set("infera_requests_waiting", static_cast<double>(queue_.waiting()));
  }
  queue_.set_running(0);
  metrics_.set("infera_requests_running", 0);
  finished_ = true;
}

void EngineLoop::admit(Slot& slot, std::shared_ptr<Job> job) {
  slot.job = std::move(job);
  const GenerationRequest& req = slot.job->request;
  slot.prompt_tokens = static_cast<int64_t>(req.prompt.size());
  slot.generated = 0;
  if (slot.job->channel.cancelled()) {
    end(slot, JobEnd::kCancelled);
    return;
  }
  try {
    slot.sampler = std::make_unique<Sampler>(req.sampling, tokenizer_.n_vocab());
    for (int32_t t : req.prompt) slot.sampler->accept(t);
    slot.decoder.emplace(tokenizer_);
    slot.stops.emplace(req.stop);
    // The whole prompt in one eval: the other slots wait for it (chunked prefill comes later).
    slot.session->truncate(0);
    slot.session->eval(req.prompt, LogitsFor::kLastToken, &slot.logits);
    metrics_.inc("infera_prompt_tokens_total", static_cast<double>(slot.prompt_tokens));
  } catch (const std::exception& e) {
    end(slot, JobEnd::kError, e.what());
  }
}

void EngineLoop::advance(Slot& slot) {
  if (slot.job->channel.cancelled()) {
    end(slot, JobEnd::kCancelled);
    return;
  }
  try {
    const int32_t next = slot.sampler->sample(slot.logits.data());
    if (tokenizer_.is_eog(next)) {
      const StopStringMatcher::Result tail = slot.stops->push(slot.decoder->flush());
      std::string rest = tail.emit + (tail.stopped ? "" : slot.stops->flush());
      if (!rest.empty()) slot.job->channel.push_text(std::move(rest));
      end(slot, JobEnd::kStop);
      return;
    }
    slot.sampler->accept(next);
    ++slot.generated;
    metrics_.inc("infera_generated_tokens_total");
    const StopStringMatcher::Result r = slot.stops->push(slot.decoder->push(next));
    if (!r.emit.empty()) slot.job->channel.push_text(r.emit);
    if (r.stopped) {
      end(slot, JobEnd::kStop);
      return;
    }
    const bool at_limit = slot.generated >= slot.job->request.max_tokens ||
                          slot.session->n_past() >= slot.session->n_ctx();
    if (at_limit) {
      const StopStringMatcher::Result tail = slot.stops->push(slot.decoder->flush());
      std::string rest = tail.emit + (tail.stopped ? "" : slot.stops->flush());
      if (!rest.empty()) slot.job->channel.push_text(std::move(rest));
      end(slot, tail.stopped ? JobEnd::kStop : JobEnd::kLength);
      return;
    }
    slot.session->eval(std::span<const int32_t>(&next, 1), LogitsFor::kLastToken, &slot.logits);
  } catch (const std::exception& e) {
    end(slot, JobEnd::kError, e.what());
  }
}

void EngineLoop::end(Slot& slot, JobEnd how, const std::string& message) {
  const char* outcome = how == JobEnd::kCancelled ? "cancelled"
                        : how == JobEnd::kError   ? "error"
                                                  : "ok";
  metrics_.inc("infera_requests_total", 1, {{"outcome", outcome}});
  slot.job->channel.finish(how, slot.prompt_tokens, slot.generated, message);
  slot.job.reset();
  slot.sampler.reset();
  slot.decoder.reset();
  slot.stops.reset();
}

}  // namespace infera::server
