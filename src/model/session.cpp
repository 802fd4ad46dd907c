#include "model/session.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace infera {
namespace {
// Tokens per forward chunk: each chunk reads every weight once and rewrites each panel once, so
// larger chunks amortise both (Llama-1B F16 pp512: ~94 t/s in chunks of 64, ~99 in one of 512);
// the activations of 512 tokens of an 8B model take ~100 MB.
constexpr int64_t kMaxChunk = 512;
// Where every token's logits are wanted the chunk's logits are a buffer of their own (n_vocab
// floats per token: 64 MB for 128k words at 128 tokens), so those chunks stay smaller.
constexpr int64_t kMaxChunkEveryLogit = 128;
// Positions per KV block: the session holds its whole context, so the size only sets rounding.
constexpr int64_t kBlockSize = 16;

int64_t checked_ctx(int64_t n_ctx) {
  if (n_ctx <= 0)
    throw Error(ErrorKind::kInvalidArgument,
                "context size must be positive, got " + std::to_string(n_ctx));
  return n_ctx;
}
}  // namespace

Session::Session(const Model& model, int64_t n_ctx, ThreadPool& pool)
    : cfg_(model.config()),
      n_ctx_(checked_ctx(n_ctx)),
      cache_(cfg_, KvCache::blocks_for(n_ctx, kBlockSize), kBlockSize),
      forward_(model, cache_, pool, kMaxChunk) {
  cache_.reserve(seq_, n_ctx_);
}

void Session::truncate(int64_t n) {
  if (n < 0 || n > seq_.n_past) {
    throw Error(ErrorKind::kInvalidArgument, "cannot truncate a session of " +
                                                 std::to_string(seq_.n_past) + " positions to " +
                                                 std::to_string(n));
  }
  // The blocks stay with the session: only the count of computed positions goes back.
  seq_.n_past = n;
}

void Session::eval(std::span<const int32_t> tokens, LogitsFor which, std::vector<float>* logits) {
  const auto n = static_cast<int64_t>(tokens.size());
  if (n == 0) throw Error(ErrorKind::kInvalidArgument, "no tokens to evaluate");
  if (n > n_ctx_ - seq_.n_past) {
    throw Error(ErrorKind::kInvalidArgument,
                std::to_string(n) + " tokens do not fit: " + std::to_string(seq_.n_past) +
                    " of the context of " + std::to_string(n_ctx_) + " are in use");
  }
  // All of them before any chunk runs, so that a bad id leaves the session unchanged.
  check_token_ids(tokens, cfg_.n_vocab);
  const int64_t n_vocab = cfg_.n_vocab;
  const bool every = which == LogitsFor::kEveryToken;
  logits->resize(static_cast<size_t>(which == LogitsFor::kNone ? 0
                                     : every                   ? n * n_vocab
                                                               : n_vocab));
  const int64_t chunk = every ? kMaxChunkEveryLogit : kMaxChunk;
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t len = std::min(chunk, n - start);
    BatchSegment seg;
    seg.seq = &seq_;
    seg.tokens = tokens.subspan(static_cast<size_t>(start), static_cast<size_t>(len));
    if (every) {
      seg.logits = LogitsFor::kEveryToken;
      seg.logits_out = logits->data() + start * n_vocab;
    } else if (which == LogitsFor::kLastToken && start + len == n) {
      seg.logits = LogitsFor::kLastToken;
      seg.logits_out = logits->data();
    }
    forward_.run(std::span<const BatchSegment>(&seg, 1));
  }
}

}  // namespace infera
