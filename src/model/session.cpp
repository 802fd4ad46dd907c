#include "model/session.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "quant/float16.h"

namespace infera {
namespace {
// Tokens per forward chunk: large enough to amortise weight dequantization across tokens, small
// enough that the activations stay a few MB.
constexpr int64_t kMaxChunk = 64;

void add_bias(float* y, const std::vector<float>& bias, int64_t n_tokens) {
  if (bias.empty()) return;
  const int64_t n = static_cast<int64_t>(bias.size());
  for (int64_t t = 0; t < n_tokens; ++t) add_in_place(y + t * n, bias.data(), n);
}

// RMS-normalises each row of `rows` rows of width n in place with weight w.
void norm_rows(float* x, const std::vector<float>& w, int64_t rows, int64_t n, float eps) {
  for (int64_t r = 0; r < rows; ++r) rms_norm(x + r * n, w.data(), n, eps, x + r * n);
}
}  // namespace

Session::Session(const Model& model, int64_t n_ctx, ThreadPool& pool)
    : model_(model), cfg_(model.config()), pool_(pool), n_ctx_(n_ctx) {
  if (n_ctx <= 0)
    throw Error(ErrorKind::kInvalidArgument,
                "context size must be positive, got " + std::to_string(n_ctx));
  const auto kv_k = static_cast<size_t>(n_ctx * cfg_.n_head_kv * cfg_.head_dim_k);
  const auto kv_v = static_cast<size_t>(n_ctx * cfg_.n_head_kv * cfg_.head_dim_v);
  k_cache_.assign(static_cast<size_t>(cfg_.n_layer), std::vector<uint16_t>(kv_k));
  v_cache_.assign(static_cast<size_t>(cfg_.n_layer), std::vector<uint16_t>(kv_v));
  const auto T = static_cast<size_t>(kMaxChunk);
  positions_.resize(T);
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

uint64_t Session::kv_cache_bytes() const {
  return static_cast<uint64_t>(n_ctx_) * static_cast<uint64_t>(cfg_.kv_bytes_per_token());
}

void Session::truncate(int64_t n) {
  if (n < 0 || n > n_past_) {
    throw Error(ErrorKind::kInvalidArgument, "cannot truncate a session of " +
                                                 std::to_string(n_past_) + " positions to " +
                                                 std::to_string(n));
  }
  n_past_ = n;
}

void Session::eval(std::span<const int32_t> tokens, LogitsFor which, std::vector<float>* logits) {
  const auto n = static_cast<int64_t>(tokens.size());
  if (n == 0) throw Error(ErrorKind::kInvalidArgument, "no tokens to evaluate");
  if (n > n_ctx_ - n_past_) {
    throw Error(ErrorKind::kInvalidArgument,
                std::to_string(n) + " tokens do not fit: " + std::to_string(n_past_) +
                    " of the context of " + std::to_string(n_ctx_) + " are in use");
  }
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= cfg_.n_vocab) {
      throw Error(ErrorKind::kInvalidArgument,
                  "token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                      " is outside the vocabulary of " + std::to_string(cfg_.n_vocab));
    }
  }
  const int64_t n_vocab = cfg_.n_vocab;
  logits->resize(static_cast<size_t>(which == LogitsFor::kEveryToken ? n * n_vocab : n_vocab));
  for (int64_t start = 0; start < n; start += kMaxChunk) {
    const int64_t len = std::min(kMaxChunk, n - start);
    const bool last_chunk = start + len == n;
    if (which == LogitsFor::kEveryToken) {
      forward_chunk(tokens.data() + start, len, which, logits->data() + start * n_vocab);
    } else {
      forward_chunk(tokens.data() + start, len, which, last_chunk ? logits->data() : nullptr);
    }
  }
}

void Session::forward_chunk(const int32_t* tokens, int64_t T, LogitsFor which, float* logits) {
  const int64_t d = cfg_.n_embd;
  for (int64_t t = 0; t < T; ++t) {
    positions_[t] = n_past_ + t;
    dequantize_matrix_row(model_.token_embd, tokens[t], x_.data() + t * d);
    if (cfg_.embedding_scale != 1.0f) scale_in_place(x_.data() + t * d, cfg_.embedding_scale, d);
  }
  for (int64_t l = 0; l < cfg_.n_layer; ++l) {
    attention_block(l, T);
    ffn_block(l, T);
  }
  n_past_ += T;
  if (!logits) return;
  // Final norm and output projection, for every token or the last one only.
  const int64_t first = which == LogitsFor::kEveryToken ? 0 : T - 1;
  const int64_t rows = T - first;
  for (int64_t t = 0; t < rows; ++t) {
    rms_norm(x_.data() + (first + t) * d, model_.output_norm.data(), d, cfg_.rms_eps,
             h_.data() + t * d);
  }
  matmul(model_.output, h_.data(), rows, logits, pool_);
}

void Session::attention_block(int64_t l, int64_t T) {
  const LayerWeights& L = model_.layers[static_cast<size_t>(l)];
  const int64_t d = cfg_.n_embd;
  const int64_t hk = cfg_.head_dim_k;
  const int64_t q_dim = cfg_.n_head * hk;
  const int64_t k_dim = cfg_.n_head_kv * hk;
  const int64_t v_dim = cfg_.n_head_kv * cfg_.head_dim_v;
  const bool swa = cfg_.layer_is_swa[static_cast<size_t>(l)] != 0;

  for (int64_t t = 0; t < T; ++t) {
    rms_norm(x_.data() + t * d, L.attn_norm.data(), d, cfg_.rms_eps, h_.data() + t * d);
  }
  matmul(L.wq, h_.data(), T, q_.data(), pool_);
  matmul(L.wk, h_.data(), T, k_.data(), pool_);
  matmul(L.wv, h_.data(), T, v_.data(), pool_);
  add_bias(q_.data(), L.bq, T);
  add_bias(k_.data(), L.bk, T);
  add_bias(v_.data(), L.bv, T);
  if (cfg_.qk_norm) {
    norm_rows(q_.data(), L.q_norm, T * cfg_.n_head, hk, cfg_.rms_eps);
    norm_rows(k_.data(), L.k_norm, T * cfg_.n_head_kv, hk, cfg_.rms_eps);
  }

  RopeParams rp;
  rp.ordering = cfg_.rope_ordering;
  rp.n_dims = cfg_.rope_dims;
  rp.freq_base = swa ? cfg_.rope_freq_base_swa : cfg_.rope_freq_base;
  rp.freq_scale = (swa && cfg_.rope_scale_global_only) ? 1.0f : cfg_.rope_freq_scale;
  rp.freq_factors = model_.rope_freq_factors.empty() ? nullptr : model_.rope_freq_factors.data();
  uint16_t* kc = k_cache_[static_cast<size_t>(l)].data();
  uint16_t* vc = v_cache_[static_cast<size_t>(l)].data();
  for (int64_t t = 0; t < T; ++t) {
    rope(q_.data() + t * q_dim, cfg_.n_head, hk, positions_[t], rp);
    rope(k_.data() + t * k_dim, cfg_.n_head_kv, hk, positions_[t], rp);
    const float* kt = k_.data() + t * k_dim;
    const float* vt = v_.data() + t * v_dim;
    for (int64_t i = 0; i < k_dim; ++i) kc[positions_[t] * k_dim + i] = fp32_to_fp16(kt[i]);
    for (int64_t i = 0; i < v_dim; ++i) vc[positions_[t] * v_dim + i] = fp32_to_fp16(vt[i]);
  }

  AttentionShape shape;
  shape.n_head = cfg_.n_head;
  shape.n_head_kv = cfg_.n_head_kv;
  shape.head_dim_k = hk;
  shape.head_dim_v = cfg_.head_dim_v;
  shape.scale = cfg_.attention_scale;
  shape.window = swa ? cfg_.sliding_window : 0;
  attention(q_.data(), positions_.data(), T, kc, vc, shape, attn_.data(), pool_);

  matmul(L.wo, attn_.data(), T, out_.data(), pool_);
  if (cfg_.post_norms) norm_rows(out_.data(), L.post_attn_norm, T, d, cfg_.rms_eps);
  add_in_place(x_.data(), out_.data(), T * d);
}

void Session::ffn_block(int64_t l, int64_t T) {
  const LayerWeights& L = model_.layers[static_cast<size_t>(l)];
  const int64_t d = cfg_.n_embd;
  const int64_t f = cfg_.n_ff;
  for (int64_t t = 0; t < T; ++t) {
    rms_norm(x_.data() + t * d, L.ffn_norm.data(), d, cfg_.rms_eps, h_.data() + t * d);
  }
  matmul(L.w_gate, h_.data(), T, gate_.data(), pool_);
  matmul(L.w_up, h_.data(), T, up_.data(), pool_);
  if (cfg_.ffn_activation == FfnActivation::kGeGlu) {
    geglu(gate_.data(), up_.data(), T * f, gate_.data());
  } else {
    swiglu(gate_.data(), up_.data(), T * f, gate_.data());
  }
  matmul(L.w_down, gate_.data(), T, out_.data(), pool_);
  if (cfg_.post_norms) norm_rows(out_.data(), L.post_ffn_norm, T, d, cfg_.rms_eps);
  add_in_place(x_.data(), out_.data(), T * d);
}

}  // namespace infera
