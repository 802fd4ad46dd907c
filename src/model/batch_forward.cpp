#include "model/batch_forward.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"

namespace infera {
namespace {

void add_bias(float* y, const std::vector<float>& bias, int64_t n_tokens) {
  if (bias.empty()) return;
  const int64_t n = static_cast<int64_t>(bias.size());
  for (int64_t t = 0; t < n_tokens; ++t) add_in_place(y + t * n, bias.data(), n);
}

// Elements (or rows) of one step between the matmuls per part given to a thread: below this, a
// hand-off to another thread costs about what it saves.
constexpr int64_t kElementsPerPart = 8192;

// fn(begin, end) over [0, n), in parts of at least min_part split among the pool's threads: the
// element-wise steps of a batch (norms, activations), which one thread ran alone while the others
// waited. Each element is computed as by one thread: the same bits for any thread count.
template <typename Fn>
void split_among_threads(ThreadPool& pool, int64_t n, int64_t min_part, Fn&& fn) {
  const int64_t parts = n / std::max<int64_t>(min_part, 1);
  if (parts < 2) return fn(int64_t{0}, n);
  pool.parallel_for(parts, [&](int64_t b, int64_t e) { fn(b * n / parts, e * n / parts); });
}

// Rows of width n per part.
int64_t rows_per_part(int64_t n) { return std::max<int64_t>(1, kElementsPerPart / n); }

// x += y over n elements.
void add_rows(ThreadPool& pool, float* x, const float* y, int64_t n) {
  split_among_threads(pool, n, 4 * kElementsPerPart,
                      [&](int64_t i0, int64_t i1) { add_in_place(x + i0, y + i0, i1 - i0); });
}

// RMS-normalises each row of `rows` rows of width n (from x into out, in place if the same) with
// weight w.
void norm_rows(ThreadPool& pool, const float* x, const std::vector<float>& w, int64_t rows,
               int64_t n, float eps, float* out) {
  split_among_threads(pool, rows, rows_per_part(n), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) rms_norm(x + r * n, w.data(), n, eps, out + r * n);
  });
}

}  // namespace

void check_token_ids(std::span<const int32_t> tokens, int64_t n_vocab) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= n_vocab) {
      throw Error(ErrorKind::kInvalidArgument,
                  "token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                      " is outside the vocabulary of " + std::to_string(n_vocab));
    }
  }
}

BatchForward::BatchForward(const Model& model, KvCache& cache, ThreadPool& pool, int64_t max_tokens)
    : model_(model), cfg_(model.config()), cache_(cache), pool_(pool), max_tokens_(max_tokens) {
  if (max_tokens <= 0) {
    throw Error(
        ErrorKind::kInvalidArgument,
        "a forward batch needs room for at least one token, got " + std::to_string(max_tokens));
  }
}

void BatchForward::reserve(int64_t n_tokens) {
  // Grown to the largest batch run so far, not to max_tokens at once: a session that only ever
  // decodes, or reads short prompts, keeps small buffers.
  const auto T = static_cast<size_t>(n_tokens);
  if (T <= positions_.size()) return;
  positions_.resize(T);
  tables_.resize(T);
  x_.resize(T * cfg_.n_embd);
  h_.resize(T * cfg_.n_embd);
  out_.resize(T * cfg_.n_embd);
  q_.resize(T * cfg_.n_head * cfg_.head_dim_k);
  k_.resize(T * cfg_.n_head_kv * cfg_.head_dim_k);
  v_.resize(T * cfg_.n_head_kv * cfg_.head_dim_v);
  attn_.resize(T * cfg_.n_head * cfg_.head_dim_v);
  gate_.resize(T * cfg_.n_ff);
  up_.resize(T * cfg_.n_ff);
}

void BatchForward::run(std::span<const BatchSegment> segments) {
  // Check everything before anything changes.
  int64_t T = 0;
  for (const BatchSegment& s : segments) {
    const auto n = static_cast<int64_t>(s.tokens.size());
    if (n == 0) throw Error(ErrorKind::kInvalidArgument, "a batch segment has no tokens");
    if (s.seq == nullptr)
      throw Error(ErrorKind::kInvalidArgument, "a batch segment has no sequence");
    const int64_t end = s.seq->n_past + n;
    if (KvCache::blocks_for(end, cache_.block_size()) >
        static_cast<int64_t>(s.seq->blocks.size())) {
      throw Error(ErrorKind::kInvalidArgument, "a sequence's KV blocks hold fewer than the " +
                                                   std::to_string(end) +
                                                   " positions it is evaluated to");
    }
    check_token_ids(s.tokens, cfg_.n_vocab);
    if (s.logits != LogitsFor::kNone && s.logits_out == nullptr)
      throw Error(ErrorKind::kInvalidArgument, "a batch segment wants logits but has no buffer");
    T += n;
  }
  if (T > max_tokens_) {
    throw Error(ErrorKind::kInvalidArgument,
                std::to_string(T) + " tokens exceed the batch of " + std::to_string(max_tokens_));
  }
  if (T == 0) return;
  reserve(T);

  const int64_t d = cfg_.n_embd;
  logit_rows_.clear();
  int64_t row = 0;
  for (const BatchSegment& s : segments) {
    const auto n = static_cast<int64_t>(s.tokens.size());
    for (int64_t i = 0; i < n; ++i, ++row) {
      positions_[row] = s.seq->n_past + i;
      tables_[row] = s.seq->blocks.data();
      dequantize_matrix_row(model_.token_embd, s.tokens[i], x_.data() + row * d);
      if (cfg_.embedding_scale != 1.0f)
        scale_in_place(x_.data() + row * d, cfg_.embedding_scale, d);
      const bool wanted =
          s.logits == LogitsFor::kEveryToken || (s.logits == LogitsFor::kLastToken && i == n - 1);
      if (wanted) logit_rows_.push_back(row);
    }
  }
  for (RopeTable& table : rope_tables_) table.valid = false;
  for (int64_t l = 0; l < cfg_.n_layer; ++l) {
    attention_block(l, T);
    ffn_block(l, T);
  }
  for (const BatchSegment& s : segments) s.seq->n_past += static_cast<int64_t>(s.tokens.size());
  if (logit_rows_.empty()) return;

  // Final norm and output projection for the wanted rows only, then back to each segment.
  const auto rows = static_cast<int64_t>(logit_rows_.size());
  const int64_t n_vocab = cfg_.n_vocab;
  for (int64_t r = 0; r < rows; ++r) {
    rms_norm(x_.data() + logit_rows_[r] * d, model_.output_norm.data(), d, cfg_.rms_eps,
             h_.data() + r * d);
  }
  logits_.resize(static_cast<size_t>(rows * n_vocab));
  matmul(model_.output, h_.data(), rows, logits_.data(), pool_);
  const float* src = logits_.data();
  for (const BatchSegment& s : segments) {
    if (s.logits == LogitsFor::kNone) continue;
    const int64_t n =
        s.logits == LogitsFor::kEveryToken ? static_cast<int64_t>(s.tokens.size()) : 1;
    std::memcpy(s.logits_out, src, static_cast<size_t>(n * n_vocab) * sizeof(float));
    src += n * n_vocab;
  }
}

const float* BatchForward::rope_table(const RopeParams& p, int64_t T) {
  auto same = [&](const RopeParams& q) {
    return q.n_dims == p.n_dims && q.freq_base == p.freq_base && q.freq_scale == p.freq_scale &&
           q.freq_factors == p.freq_factors;
  };
  RopeTable* slot = &rope_tables_[0];
  for (RopeTable& table : rope_tables_) {
    if (table.valid && same(table.params)) return table.cos_sin.data();
    if (!table.valid) slot = &table;
  }
  slot->params = p;
  slot->valid = true;
  slot->cos_sin.resize(static_cast<size_t>(T * p.n_dims));
  // ~n_dims std::cos/sin a row: a few tens of rows are worth a hand-off.
  constexpr int64_t kRowsPerPart = 16;
  split_among_threads(pool_, T, kRowsPerPart, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      rope_angles(positions_[t], p, slot->cos_sin.data() + t * p.n_dims);
  });
  return slot->cos_sin.data();
}

void BatchForward::attention_block(int64_t l, int64_t T) {
  const LayerWeights& L = model_.layers[static_cast<size_t>(l)];
  const int64_t d = cfg_.n_embd;
  const int64_t hk = cfg_.head_dim_k;
  const int64_t q_dim = cfg_.n_head * hk;
  const int64_t k_dim = cfg_.n_head_kv * hk;
  const int64_t v_dim = cfg_.n_head_kv * cfg_.head_dim_v;
  const bool swa = cfg_.layer_is_swa[static_cast<size_t>(l)] != 0;

  norm_rows(pool_, x_.data(), L.attn_norm, T, d, cfg_.rms_eps, h_.data());
  const MatmulOutput qkv[] = {{&L.wq, q_.data()}, {&L.wk, k_.data()}, {&L.wv, v_.data()}};
  matmul_group(qkv, h_.data(), T, pool_);
  add_bias(q_.data(), L.bq, T);
  add_bias(k_.data(), L.bk, T);
  add_bias(v_.data(), L.bv, T);
  if (cfg_.qk_norm) {
    norm_rows(pool_, q_.data(), L.q_norm, T * cfg_.n_head, hk, cfg_.rms_eps, q_.data());
    norm_rows(pool_, k_.data(), L.k_norm, T * cfg_.n_head_kv, hk, cfg_.rms_eps, k_.data());
  }

  RopeParams rp;
  rp.ordering = cfg_.rope_ordering;
  rp.n_dims = cfg_.rope_dims;
  rp.freq_base = swa ? cfg_.rope_freq_base_swa : cfg_.rope_freq_base;
  rp.freq_scale = (swa && cfg_.rope_scale_global_only) ? 1.0f : cfg_.rope_freq_scale;
  rp.freq_factors = model_.rope_freq_factors.empty() ? nullptr : model_.rope_freq_factors.data();
  uint16_t* kc = cache_.k(l);
  uint16_t* vc = cache_.v(l);
  const int64_t bs = cache_.block_size();
  const float* angles = rope_table(rp, T);
  split_among_threads(pool_, T, rows_per_part(q_dim), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* cos_sin = angles + t * rp.n_dims;
      rope_rotate(q_.data() + t * q_dim, cfg_.n_head, hk, cos_sin, rp);
      rope_rotate(k_.data() + t * k_dim, cfg_.n_head_kv, hk, cos_sin, rp);
      const int64_t p = positions_[t];
      const int64_t cache_row = tables_[t][p / bs] * bs + p % bs;
      const float* kt = k_.data() + t * k_dim;
      const float* vt = v_.data() + t * v_dim;
      fp32_to_fp16_row(kt, kc + cache_row * k_dim, k_dim);
      fp32_to_fp16_row(vt, vc + cache_row * v_dim, v_dim);
    }
  });

  AttentionShape shape;
  shape.n_head = cfg_.n_head;
  shape.n_head_kv = cfg_.n_head_kv;
  shape.head_dim_k = hk;
  shape.head_dim_v = cfg_.head_dim_v;
  shape.scale = cfg_.attention_scale;
  shape.window = swa ? cfg_.sliding_window : 0;
  const PagedKv kv{kc, vc, bs};
  attention(q_.data(), positions_.data(), tables_.data(), T, kv, shape, attn_.data(), pool_);

  matmul(L.wo, attn_.data(), T, out_.data(), pool_);
  if (cfg_.post_norms)
    norm_rows(pool_, out_.data(), L.post_attn_norm, T, d, cfg_.rms_eps, out_.data());
  add_rows(pool_, x_.data(), out_.data(), T * d);
}

void BatchForward::ffn_block(int64_t l, int64_t T) {
  const LayerWeights& L = model_.layers[static_cast<size_t>(l)];
  const int64_t d = cfg_.n_embd;
  const int64_t f = cfg_.n_ff;
  norm_rows(pool_, x_.data(), L.ffn_norm, T, d, cfg_.rms_eps, h_.data());
  const MatmulOutput gate_up[] = {{&L.w_gate, gate_.data()}, {&L.w_up, up_.data()}};
  matmul_group(gate_up, h_.data(), T, pool_);
  const bool gelu = cfg_.ffn_activation == FfnActivation::kGeGlu;
  split_among_threads(pool_, T * f, kElementsPerPart, [&](int64_t i0, int64_t i1) {
    float* g = gate_.data() + i0;
    (gelu ? geglu : swiglu)(g, up_.data() + i0, i1 - i0, g);
  });
  matmul(L.w_down, gate_.data(), T, out_.data(), pool_);
  if (cfg_.post_norms)
    norm_rows(pool_, out_.data(), L.post_ffn_norm, T, d, cfg_.rms_eps, out_.data());
  add_rows(pool_, x_.data(), out_.data(), T * d);
}

}  // namespace infera
