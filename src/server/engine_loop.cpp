#include "server/engine_loop.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <optional>
#include <string>

#include "core/error.h"
#include "sample/sampler.h"
#include "server/stop_strings.h"

namespace infera::server {
namespace {
using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

EngineOptions checked(EngineOptions o) {
  if (o.parallel < 1) throw Error(ErrorKind::kInvalidArgument, "--parallel must be >= 1");
  if (o.ctx_size < 1) throw Error(ErrorKind::kInvalidArgument, "--ctx-size must be >= 1");
  if (o.batch_tokens < 1) throw Error(ErrorKind::kInvalidArgument, "--batch-size must be >= 1");
  if (o.batch_tokens < o.parallel) {
    throw Error(ErrorKind::kInvalidArgument,
                "--batch-size must be at least --parallel: every running request decodes a token "
                "each step");
  }
  if (o.block_size < 1) throw Error(ErrorKind::kInvalidArgument, "the KV block size must be >= 1");
  if (o.kv_tokens == 0) o.kv_tokens = o.ctx_size * o.parallel;
  // A sequence alone must always fit, or preempting the others could not make room for it.
  if (o.kv_tokens < o.ctx_size) {
    throw Error(ErrorKind::kInvalidArgument, "the KV cache (" + std::to_string(o.kv_tokens) +
                                                 " tokens) must hold at least one whole context (" +
                                                 std::to_string(o.ctx_size) + " tokens)");
  }
  o.kv_tokens = KvCache::blocks_for(o.kv_tokens, o.block_size) * o.block_size;
  return o;
}
}  // namespace

struct EngineLoop::Sequence {
  std::shared_ptr<Job> job;
  std::unique_ptr<Sampler> sampler;
  std::optional<IncrementalDecoder> decoder;
  std::optional<StopStringMatcher> stops;
  // The prompt, then every sampled token; the last sampled one is evaluated in the next step.
  std::vector<int32_t> tokens;
  KvSequence kv;
  std::vector<float> logits;
  int64_t prompt_tokens = 0;
  int64_t generated = 0;
  bool admitted_before = false;  // preempted once: its queue time and prompt are counted already
  bool ended = false;
  std::optional<Clock::time_point> last_token_at;
  std::vector<TokenLogprob> logprobs;  // not sent yet
  std::vector<float> scratch;          // log-softmax of the logits, when logprobs are asked
  std::vector<int32_t> ids;            // token ids ranked by it
};

EngineLoop::EngineLoop(const Model& model, const Tokenizer& tokenizer, ThreadPool& pool,
                       RequestQueue& queue, MetricsRegistry& metrics, EngineOptions options)
    : tokenizer_(tokenizer),
      queue_(queue),
      metrics_(metrics),
      options_(checked(options)),
      cache_(model.config(), options_.kv_tokens / options_.block_size, options_.block_size),
      forward_(model, cache_, pool, options_.batch_tokens) {
  metrics_.set("infera_kv_cache_capacity_tokens", static_cast<double>(cache_.capacity_tokens()));
  publish_gauges();
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
  while (true) {
    if (queue_.aborted()) {
      for (auto& s : running_) end(*s, JobEnd::kError, "the server is shutting down");
      for (auto& s : waiting_) end(*s, JobEnd::kError, "the server is shutting down");
      drop_ended();
      for (auto& job : queue_.take(SIZE_MAX, false, std::chrono::milliseconds(0)))
        job->channel.finish(JobEnd::kError, 0, 0, "the server is shutting down");
      break;
    }
    const bool idle = running_.empty() && waiting_.empty();
    if (idle && queue_.closed() && queue_.waiting() == 0) break;
    take_jobs(/*wait=*/idle);
    // A client that went away loses its sequence (and KV blocks) before the next step.
    for (auto& s : running_)
      if (s->job->channel.cancelled()) end(*s, JobEnd::kCancelled);
    for (auto& s : waiting_)
      if (s->job->channel.cancelled()) end(*s, JobEnd::kCancelled);
    drop_ended();
    admit();
    if (!running_.empty()) step();
    drop_ended();
    publish_gauges();
  }
  queue_.set_running(0);
  metrics_.set("infera_requests_running", 0);
  finished_ = true;
}

void EngineLoop::take_jobs(bool wait) {
  const size_t held = running_.size() + waiting_.size();
  const auto slots = static_cast<size_t>(options_.parallel);
  if (held >= slots) return;
  for (auto& job : queue_.take(slots - held, wait, std::chrono::milliseconds(100))) {
    auto seq = std::make_unique<Sequence>();
    seq->job = std::move(job);
    const GenerationRequest& req = seq->job->request;
    seq->tokens = req.prompt;
    seq->prompt_tokens = static_cast<int64_t>(req.prompt.size());
    try {
      seq->sampler = std::make_unique<Sampler>(req.sampling, tokenizer_.n_vocab());
      for (int32_t t : req.prompt) seq->sampler->accept(t);
      seq->decoder.emplace(tokenizer_);
      seq->stops.emplace(req.stop);
    } catch (const std::exception& e) {
      end(*seq, JobEnd::kError, e.what());
      continue;
    }
    waiting_.push_back(std::move(seq));
  }
}

bool EngineLoop::should_wait_for_shared_prefix(const Sequence& seq) const {
  // A running sequence still prefilling the same leading tokens (the other choices of an n > 1
  // request, or requests with one system prompt) will register those blocks shortly: starting
  // now would compute them twice.
  const auto bs = static_cast<size_t>(cache_.block_size());
  for (const auto& r : running_) {
    const auto n = std::min(r->tokens.size(), seq.tokens.size());
    size_t common = 0;
    while (common < n && r->tokens[common] == seq.tokens[common]) ++common;
    // attach_prefix() always leaves the last token to compute.
    const size_t attachable = std::min(common, seq.tokens.size() - 1) / bs * bs;
    if (attachable > 0 && static_cast<size_t>(r->kv.n_past) < attachable) return true;
  }
  return false;
}

void EngineLoop::admit() {
  size_t i = 0;
  while (i < waiting_.size() && running_.size() < static_cast<size_t>(options_.parallel)) {
    Sequence& seq = *waiting_[i];
    if (should_wait_for_shared_prefix(seq)) {
      ++i;  // the ones behind it may start meanwhile
      continue;
    }
    const int64_t reused = cache_.attach_prefix(seq.kv, seq.tokens);
    const int64_t need =
        KvCache::blocks_for(static_cast<int64_t>(seq.tokens.size()), cache_.block_size()) -
        static_cast<int64_t>(seq.kv.blocks.size());
    if (need > cache_.available_blocks()) {
      cache_.release(seq.kv);  // wait for running sequences to give blocks back
      return;
    }
    if (!seq.admitted_before) {
      seq.admitted_before = true;
      metrics_.observe("infera_queue_time_seconds",
                       seconds_between(seq.job->arrival, Clock::now()));
      metrics_.inc("infera_prompt_tokens_total", static_cast<double>(seq.prompt_tokens));
      metrics_.inc("infera_prefix_cache_query_tokens_total",
                   static_cast<double>(seq.prompt_tokens));
      metrics_.inc("infera_prefix_cache_hit_tokens_total", static_cast<double>(reused));
    }
    running_.push_back(std::move(waiting_[i]));
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

void EngineLoop::preempt(size_t index) {
  SequencePtr victim = std::move(running_[index]);
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
  cache_.release(victim->kv);
  metrics_.inc("infera_preemptions_total");
  waiting_.push_front(std::move(victim));
}

bool EngineLoop::reserve_or_preempt(Sequence& seq, int64_t n_positions) {
  while (!cache_.reserve(seq.kv, n_positions)) {
    // The most recently admitted sequence makes room; when that is `seq` itself, it waits.
    const size_t youngest = running_.size() - 1;
    const bool self = running_[youngest].get() == &seq;
    preempt(youngest);
    if (self) return false;
  }
  return true;
}

void EngineLoop::step() {
  std::vector<BatchSegment> segments;
  std::vector<Sequence*> members;
  int64_t budget = options_.batch_tokens;
  auto add = [&](Sequence& s, int64_t n) {
    const auto from = static_cast<size_t>(s.kv.n_past);
    BatchSegment seg;
    seg.seq = &s.kv;
    seg.tokens = std::span<const int32_t>(s.tokens).subspan(from, static_cast<size_t>(n));
    if (s.kv.n_past + n == static_cast<int64_t>(s.tokens.size())) {
      s.logits.resize(static_cast<size_t>(tokenizer_.n_vocab()));
      seg.logits = LogitsFor::kLastToken;
      seg.logits_out = s.logits.data();
    }
    segments.push_back(seg);
    members.push_back(&s);
    budget -= n;
  };
  // Decoding sequences first, oldest first: one token each. Only they may preempt, and only
  // younger sequences, which have no segment yet.
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Sequence& s = *running_[i];
    if (static_cast<int64_t>(s.tokens.size()) - s.kv.n_past != 1) continue;
    if (!reserve_or_preempt(s, s.kv.n_past + 1)) break;  // it was the youngest: none is left
    add(s, 1);
  }
  // Then prompt chunks with what is left of the budget.
  for (auto& sp : running_) {
    if (budget <= 0) break;
    Sequence& s = *sp;
    const int64_t remaining = static_cast<int64_t>(s.tokens.size()) - s.kv.n_past;
    if (remaining <= 1) continue;
    const int64_t n = std::min(remaining, budget);
    if (!cache_.reserve(s.kv, s.kv.n_past + n)) continue;
    add(s, n);
  }
  if (segments.empty()) {
    // Prompts hold every block and none can grow: the youngest steps back so the others can.
    if (running_.size() > 1) preempt(running_.size() - 1);
    return;
  }
  try {
    forward_.run(segments);
  } catch (const std::exception& e) {
    for (Sequence* s : members) end(*s, JobEnd::kError, e.what());
    return;
  }
  for (size_t i = 0; i < members.size(); ++i) {
    Sequence& s = *members[i];
    cache_.register_full_blocks(s.kv, s.tokens);
    if (segments[i].logits != LogitsFor::kNone) after_logits(s);
  }
}

void EngineLoop::after_logits(Sequence& seq) {
  if (seq.job->channel.cancelled()) {
    end(seq, JobEnd::kCancelled);
    return;
  }
  try {
    const int32_t next = seq.sampler->sample(seq.logits.data());
    const Clock::time_point now = Clock::now();
    if (seq.last_token_at) {
      metrics_.observe("infera_inter_token_latency_seconds",
                       seconds_between(*seq.last_token_at, now));
    } else {
      metrics_.observe("infera_time_to_first_token_seconds",
                       seconds_between(seq.job->arrival, now));
    }
    seq.last_token_at = now;
    if (tokenizer_.is_eog(next)) {
      finish_text(seq);
      end(seq, JobEnd::kStop);
      return;
    }
    const int top_n = seq.job->request.top_logprobs;
    if (top_n >= 0) {
      const auto n_vocab = static_cast<int32_t>(seq.logits.size());
      seq.scratch.resize(seq.logits.size());
      Sampler::log_softmax(seq.logits.data(), n_vocab, seq.scratch.data());
      TokenLogprob lp;
      lp.token = next;
      lp.logprob = seq.scratch[static_cast<size_t>(next)];
      std::vector<int32_t>& ids = seq.ids;
      ids.resize(static_cast<size_t>(n_vocab));
      std::iota(ids.begin(), ids.end(), 0);
      const auto k = static_cast<size_t>(std::min(top_n, n_vocab));
      // Ties go to the lower id, so the list is the same on every run.
      std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
                        [&](int32_t a, int32_t b) {
                          const float la = seq.scratch[static_cast<size_t>(a)];
                          const float lb = seq.scratch[static_cast<size_t>(b)];
                          return la > lb || (la == lb && a < b);
                        });
      for (size_t i = 0; i < k; ++i)
        lp.top.emplace_back(ids[i], seq.scratch[static_cast<size_t>(ids[i])]);
      seq.logprobs.push_back(std::move(lp));
    }
    seq.sampler->accept(next);
    ++seq.generated;
    metrics_.inc("infera_generated_tokens_total");
    const StopStringMatcher::Result r = seq.stops->push(seq.decoder->push(next));
    if (!r.emit.empty()) seq.job->channel.push_text(r.emit, std::exchange(seq.logprobs, {}));
    if (r.stopped) {
      end(seq, JobEnd::kStop);
      return;
    }
    const bool at_limit = seq.generated >= seq.job->request.max_tokens ||
                          static_cast<int64_t>(seq.tokens.size()) >= options_.ctx_size;
    if (at_limit) {
      end(seq, finish_text(seq) ? JobEnd::kStop : JobEnd::kLength);
      return;
    }
    seq.tokens.push_back(next);
  } catch (const std::exception& e) {
    end(seq, JobEnd::kError, e.what());
  }
}

bool EngineLoop::finish_text(Sequence& seq) {
  // Text held back for a possible stop string or an unfinished UTF-8 character goes out now.
  const StopStringMatcher::Result tail = seq.stops->push(seq.decoder->flush());
  std::string rest = tail.emit + (tail.stopped ? "" : seq.stops->flush());
  if (!rest.empty() || !seq.logprobs.empty())
    seq.job->channel.push_text(std::move(rest), std::exchange(seq.logprobs, {}));
  return tail.stopped;
}

void EngineLoop::end(Sequence& seq, JobEnd how, const std::string& message) {
  if (seq.ended) return;
  seq.ended = true;
  const char* outcome = how == JobEnd::kCancelled ? "cancelled"
                        : how == JobEnd::kError   ? "error"
                                                  : "ok";
  metrics_.inc("infera_requests_total", 1, {{"outcome", outcome}});
  if (how == JobEnd::kStop || how == JobEnd::kLength) {
    metrics_.observe("infera_request_duration_seconds",
                     seconds_between(seq.job->arrival, Clock::now()));
  }
  if (!seq.logprobs.empty()) seq.job->channel.push_text("", std::exchange(seq.logprobs, {}));
  seq.job->channel.finish(how, seq.prompt_tokens, seq.generated, message);
  cache_.release(seq.kv);
}

void EngineLoop::drop_ended() {
  std::erase_if(running_, [](const SequencePtr& s) { return s->ended; });
  std::erase_if(waiting_, [](const SequencePtr& s) { return s->ended; });
}

void EngineLoop::publish_gauges() {
  queue_.set_running(running_.size() + waiting_.size());
  metrics_.set("infera_requests_running", static_cast<double>(running_.size()));
  metrics_.set("infera_requests_waiting", static_cast<double>(queue_.waiting() + waiting_.size()));
  metrics_.set("infera_kv_cache_usage_ratio",
               static_cast<double>(cache_.used_blocks()) / static_cast<double>(cache_.n_blocks()));
}

}  // namespace infera::server
