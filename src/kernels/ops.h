#pragma once
// Element-wise and per-row operations of a transformer layer (reference implementations).
#include <cstdint>

namespace infera {

// out[i] = x[i] / sqrt(mean(x²) + eps) * weight[i]   (weight may be null: no scaling).
// out may alias x.
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);

enum class RopeOrdering {
  kNormal,  // rotate adjacent pairs (x[2i], x[2i+1]): llama's GGUF layout
  kNeox,    // rotate halves (x[i], x[i + n/2]): qwen2, qwen3, gemma3
};

struct RopeParams {
  RopeOrdering ordering = RopeOrdering::kNormal;
  int64_t n_dims = 0;                   // rotated dimensions (<= head_dim), even
  float freq_base = 10000.0f;           // θ_i = pos · base^(−2i/n_dims)
  float freq_scale = 1.0f;              // linear position scaling: pos · freq_scale
  const float* freq_factors = nullptr;  // optional, n_dims/2 divisors of θ_i (Llama 3.1 scaling)
};

// Rotates the first n_dims of each of `n_heads` heads (head_dim floats each) of one token at `pos`.
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const RopeParams& p);

// rope() in two steps. The angles' cosines and sines cost most of it (n_dims of std::cos/sin
// against n_heads · n_dims multiply-adds), and every head of every layer at one position with the
// same parameters rotates by the same ones: a forward step computes them once per token.
// rope_angles writes cos θ_i, sin θ_i into cos_sin[2i], cos_sin[2i + 1] for the n_dims / 2 pairs;
// rope_rotate rotates by them. Together: the same bits as rope().
void rope_angles(int64_t pos, const RopeParams& p, float* cos_sin);
void rope_rotate(float* x, int64_t n_heads, int64_t head_dim, const float* cos_sin,
                 const RopeParams& p);

// In-place softmax over n values (max-subtracted).
void softmax(float* x, int64_t n);

// out[i] = silu(gate[i]) * up[i]   (SwiGLU)
void swiglu(const float* gate, const float* up, int64_t n, float* out);
// out[i] = gelu_tanh(gate[i]) * up[i]   (GeGLU with the tanh approximation of GELU)
void geglu(const float* gate, const float* up, int64_t n, float* out);

// y[i] = fp32_to_fp16(x[i]) (float16.h): the KV cache's rows.
void fp32_to_fp16_row(const float* x, uint16_t* y, int64_t n);

// y[i] += x[i]
void add_in_place(float* y, const float* x, int64_t n);
// y[i] *= s
void scale_in_place(float* y, float s, int64_t n);

}  // namespace infera
