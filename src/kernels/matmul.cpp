#include "kernels/matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/cache_aligned.h"
#include "kernels/cpu_features.h"
#include "kernels/float_dot.h"
#include "kernels/quantized_dot.h"
#include "kernels/row_stream_prefetch.h"
#include "kernels/weight_regroup.h"
#include "quant/dequantize.h"

namespace infera {

INFERA_FMA_CLONES float dot_f32(const float* a, const float* b, int64_t n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) lane[j] = std::fma(a[i + j], b[i + j], lane[j]);
  }
  for (int j = 0; i < n; ++i, ++j) lane[j] = std::fma(a[i], b[i], lane[j]);
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

void dequantize_matrix_row(const WeightMatrix& w, int64_t r, float* out) {
  if (w.layout != WeightLayout::kAsStored) {
    std::vector<uint8_t> stored(w.row_bytes);
    restore_rows(w, r, 1, stored.data());
    dequantize_row(w.type, stored.data(), out, w.cols);
    return;
  }
  dequantize_row(w.type, w.row(r), out, w.cols);
}

namespace {
// Rows handed to a thread at a time: enough to amortise the per-row x reloads, few enough that
// the dequantized rows stay in L1/L2.
constexpr int64_t kRowGroup = 4;
constexpr int64_t kFloatRowGroup = 32;
constexpr int64_t kDecodeRowGroup = 16;
// Up to this many tokens, activations are quantized on the calling thread: a pool hand-off costs
// more than quantizing a row or two.
constexpr int64_t kInlineQuantizeTokens = 2;

// How far ahead of the row being multiplied its weights are requested. Decode reads every weight
// once per step, in rows of a few hundred bytes, and the hardware prefetcher, restarted at every
// chunk of rows, does not run far enough ahead to hide the memory latency: asking 4 KiB ahead took
// SmolLM2 decode from ~50 to ~78 t/s on one core (2048 and 8192 did about as well).
constexpr uint64_t kPrefetchBytes = 4096;

// Requests `bytes` of w from offset `begin` on, up to the end of w. Offsets, not pointers: with a
// pointer past the end of w as the bound, GCC 12 dropped the whole loop.
inline void request_weight_bytes(const WeightMatrix& w, uint64_t begin, uint64_t bytes) {
  const uint64_t end = std::min(begin + bytes, static_cast<uint64_t>(w.rows) * w.row_bytes);
  const auto base = reinterpret_cast<uintptr_t>(w.data);
  for (uint64_t off = begin; off < end; off += 64) prefetch_line(base + off);
}

// Asks for the bytes kPrefetchBytes past the start of row r of w (a row's worth).
inline void prefetch_ahead_of_row(const WeightMatrix& w, int64_t r) {
  request_weight_bytes(w, static_cast<uint64_t>(r) * w.row_bytes + kPrefetchBytes, w.row_bytes);
}

// Requests the first kDecodeRowLeadBytes of w from row r on, where a thread starts a run of rows
// for one token. The decode kernels request each row's bytes that far ahead as they read, so the
// start of a run came in unrequested, a line per miss: on SmolLM2's small matrices, whose runs
// (pool chunks) are 13–70 KiB, that start held every matrix up by ~1–4 µs per step (2 threads).
// Requested at once, those lines arrive in about one memory latency.
inline void prefetch_run_start(const WeightMatrix& w, int64_t r) {
  request_weight_bytes(w, static_cast<uint64_t>(r) * w.row_bytes, kDecodeRowLeadBytes);
}

bool integer_dot_type(TensorType weight_type) {
  const TensorType a = activation_type_for(weight_type);
  return a == TensorType::Q8_0 || a == TensorType::Q8_1 || a == TensorType::Q8_K;
}

// From how many tokens on the panel kernel of a weight type beats its row kernel: rewriting a
// panel costs about as much as a few tokens' products, most for the K-quants (bench-kernels
// --prefill N). Below that, and for decode, the row kernels with their prefetch win (SmolLM2 tg
// 124 vs 85 t/s on 2 threads with Q4_0 … Q8_0 panels from one token on).
int64_t panel_min_tokens(TensorType type) {
  return activation_type_for(type) == TensorType::Q8_K ? 16 : 8;
}

// Whether the decode kernel (vec_dot_activations_weight_rows) multiplies w's rows at this many
// tokens, token by token: at one, and for regrouped or interleaved rows below the panels'
// threshold (a few sequences decoding in one batch), which the many-token row kernels would have
// to restore first.
// After the first token the rows come from L1/L2. bench-kernels --prefill N, one core, 2048 ×
// 2048, µs per call, row kernel on the rows as stored → decode kernel on them regrouped: t2 385 →
// 192, t4 629 → 375, t7 1038 → 695. On rows as stored the decode kernel token by token won for
// Q4_0 too, but not steadily for Q8_0, Q4_K and Q6_K, which keep their row kernels.
bool decode_kernel_takes(const WeightMatrix& w, int64_t n_tokens) {
  return n_tokens == 1 ||
         (w.layout != WeightLayout::kAsStored && n_tokens < panel_min_tokens(w.type));
}

// Weight rows the panel kernel takes at a time for w at this many tokens; 0: no panels.
int64_t panel_rows(const WeightMatrix& w, int64_t n_tokens) {
  if (n_tokens < panel_min_tokens(w.type)) return 0;
  return integer_dot_type(w.type) ? activation_panel_rows(w.type) : float_dot_panel_rows(w.type);
}

// Weight rows handed to a thread at a time. Panel kernels take a block of consecutive panels, whose
// rewritten forms stay in L2 together, so that each activation row is read from L2 by all of them:
// about 512 KiB of panels (a quarter of the L2 of the cores these kernels target, leaving room for
// a group of activation rows), up to 8.
int64_t row_group(const WeightMatrix& w, int64_t n_tokens) {
  const int64_t panel = panel_rows(w, n_tokens);
  if (panel == 0) {
    // Decode kernels that take any number of rows get 16 at a time: with 4, the calls down to the
    // kernel cost 6–10 % of it in L2 on short rows (Q4_0 and Q8_0 at 640 and 896 columns, one
    // core); 16 keeps 8 groups for the 128 rows of a small K or V projection.
    const bool any_rows = integer_dot_type(w.type) || float_dot_simd_available(w.type);
    if (decode_kernel_takes(w, n_tokens) && any_rows) return kDecodeRowGroup;
    // Float rows for many tokens without a panel kernel (AVX2): the row kernel takes a few
    // tokens at a time over all the rows it is given, so more rows per group read each token's
    // activations fewer times (with 4, Llama-1B F16 prefill re-read every activation row from L3
    // for every 4 weight rows).
    if (float_dot_simd_available(w.type)) return kFloatRowGroup;
    return kRowGroup;
  }
  constexpr int64_t kPanelBlockBytes = 512 * 1024;
  const int64_t panel_bytes =
      integer_dot_type(w.type) ? activation_panel_bytes(w.cols) : float_dot_panel_bytes(w.cols);
  return panel * std::clamp<int64_t>(kPanelBlockBytes / panel_bytes, 1, 8);
}

// Every token's activations in the forms the dot products of one weight type take.
struct Activations {
  TensorType weight_type;
  uint64_t row_bytes;
  CacheAlignedVector<uint8_t> data;
  // The panel kernel's form, where it is used (decode reads its float block scales).
  uint64_t panel_row_bytes = 0;
  CacheAlignedVector<uint8_t> panel;
};

// A thread's buffers for the rows it multiplies.
struct RowScratch {
  std::vector<float> dequantized;
  std::vector<uint8_t> restored;  // rewritten rows as stored, for the kernels that read those
};

// Whether the decode kernel of w's type (vec_dot_activations_weight_rows) takes the rows
// [r0, r0 + nr), starting at `first` in `layout`, at these many tokens: then it has, token by
// token, and written y.
bool decode_kernel_per_token(const WeightMatrix& w, const uint8_t* first, WeightLayout layout,
                             const Activations& a, int64_t n_tokens, int64_t r0, int64_t nr,
                             float* y) {
  if (!decode_kernel_takes(w, n_tokens)) return false;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const uint8_t* panel = a.panel.empty() ? nullptr : a.panel.data() + t * a.panel_row_bytes;
    if (!vec_dot_activations_weight_rows(w.type, first, w.row_bytes, nr,
                                         a.data.data() + t * a.row_bytes, w.cols,
                                         y + t * w.rows + r0, panel, layout))
      return false;  // no such kernel: nothing written (the first token)
  }
  return true;
}

// Rows [r0, r0 + nr) of w as stored, in the thread's scratch.
const uint8_t* restored_rows(const WeightMatrix& w, int64_t r0, int64_t nr, RowScratch* scratch) {
  scratch->restored.resize(static_cast<size_t>(nr) * w.row_bytes);
  restore_rows(w, r0, nr, scratch->restored.data());
  return scratch->restored.data();
}

// Rows [r0, r0 + nr) of w times every token's activations.
void rows_times_tokens(const WeightMatrix& w, const Activations& a, int64_t n_tokens, int64_t r0,
                       int64_t nr, float* y, RowScratch* scratch) {
  const uint8_t* act = a.data.data();
  const uint64_t act_bytes = a.row_bytes;
  const int64_t cols = w.cols;
  const int64_t rows = w.rows;
  // Whole panels of a block together; the last rows of w, fewer than a panel, by the row kernels.
  const int64_t panel = panel_rows(w, n_tokens);
  const int64_t in_panels = panel > 0 ? nr - nr % panel : 0;
  if (integer_dot_type(w.type)) {
    // Rows in a layout the selected ISA's kernels do not read (interleaved for AVX2, with the
    // scalar reference or AVX-512 selected) are restored first.
    const uint8_t* first = w.row(r0);
    WeightLayout layout = w.layout;
    if (!kernels_read_layout(layout)) {
      first = restored_rows(w, r0, nr, scratch);
      layout = WeightLayout::kAsStored;
    }
    if (in_panels > 0) {
      const bool rewritten = panel_reads_rewritten_activations(w.type);
      vec_dot_activations_panel(
          w.type, first, w.row_bytes, in_panels, rewritten ? a.panel.data() : act,
          rewritten ? a.panel_row_bytes : act_bytes, n_tokens, cols, y + r0, rows, layout);
      first += in_panels * w.row_bytes;
      r0 += in_panels;
      nr -= in_panels;
      if (nr == 0) return;
    }
    // Decode: the rows together where a kernel shares the activation loads among them (it
    // prefetches ahead itself).
    if (decode_kernel_per_token(w, first, layout, a, n_tokens, r0, nr, y)) return;
    // The row kernels read rows as stored: others are restored first (the last rows of a
    // prefill, short of a panel, and every row where the ISA selected has no kernel for them).
    const uint8_t* first_row =
        layout == WeightLayout::kAsStored ? first : restored_rows(w, r0, nr, scratch);
    for (int64_t k = 0; k < nr; ++k) {
      prefetch_ahead_of_row(w, r0 + k);
      vec_dot_activations_rows(w.type, first_row + k * w.row_bytes, act, act_bytes, n_tokens, cols,
                               y + r0 + k, rows);
    }
    return;
  }
  // AVX2 rows convert the weights on the fly, the same bits as dequantizing them first.
  if (float_dot_simd_available(w.type)) {
    const auto* x = reinterpret_cast<const float*>(act);
    const auto x_stride = static_cast<int64_t>(act_bytes / sizeof(float));
    if (in_panels > 0) {
      float_dot_panel(w.type, w.row(r0), w.row_bytes, in_panels, x, x_stride, n_tokens, cols,
                      y + r0, rows);
      r0 += in_panels;
      nr -= in_panels;
      if (nr == 0) return;
    }
    // One token: the row kernel requests its weights ahead itself, line by line.
    if (n_tokens > 1)
      for (int64_t k = 0; k < nr; ++k) prefetch_ahead_of_row(w, r0 + k);
    float_dot_simd_rows(w.type, w.row(r0), w.row_bytes, nr, x, x_stride, n_tokens, cols, y + r0,
                        rows);
    return;
  }
  const float* wrows[kRowGroup];
  for (int64_t k = 0; k < nr; ++k) {
    if (w.type == TensorType::F32) {
      wrows[k] = reinterpret_cast<const float*>(w.row(r0 + k));
    } else {
      scratch->dequantized.resize(static_cast<size_t>(kRowGroup * cols));
      dequantize_row(w.type, w.row(r0 + k), scratch->dequantized.data() + k * cols, cols);
      wrows[k] = scratch->dequantized.data() + k * cols;
    }
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xt = reinterpret_cast<const float*>(act + t * act_bytes);
    float* yt = y + t * rows + r0;
    for (int64_t k = 0; k < nr; ++k) yt[k] = dot_f32(wrows[k], xt, cols);
  }
}

}  // namespace

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  const MatmulOutput out{&w, y};
  matmul_group(std::span<const MatmulOutput>(&out, 1), x, n_tokens, pool);
}

void matmul_group(std::span<const MatmulOutput> outputs, const float* x, int64_t n_tokens,
                  ThreadPool& pool) {
  if (outputs.empty() || n_tokens <= 0) return;
  const int64_t cols = outputs[0].w->cols;

  // Activations in each form the weights' dot products take, computed once for all rows. The
  // outputs usually share one form (one weight type); at most one buffer per distinct type.
  std::vector<Activations> acts;
  std::vector<size_t> act_of(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const TensorType a = activation_type_for(outputs[i].w->type);
    size_t j = 0;
    while (j < acts.size() && activation_type_for(acts[j].weight_type) != a) ++j;
    if (j == acts.size()) {
      const TensorType wt = outputs[i].w->type;
      const uint64_t bytes = activation_row_bytes(wt, cols);
      acts.push_back(
          {wt, bytes, CacheAlignedVector<uint8_t>(static_cast<size_t>(bytes * n_tokens)), 0, {}});
    }
    act_of[i] = j;
    Activations& act = acts[j];
    const TensorType wt = outputs[i].w->type;
    const bool panel_form = integer_dot_type(wt) && panel_reads_rewritten_activations(wt) &&
                            panel_rows(*outputs[i].w, n_tokens) > 0;
    const bool decode_scales =
        decode_kernel_takes(*outputs[i].w, n_tokens) && weight_rows_read_panel_scales(wt);
    if (act.panel.empty() && (panel_form || decode_scales)) {
      act.panel_row_bytes = panel_activation_row_bytes(cols);
      act.panel.resize(static_cast<size_t>(act.panel_row_bytes * n_tokens));
    }
  }
  auto quantize_tokens = [&](int64_t t_begin, int64_t t_end) {
    for (Activations& a : acts) {
      for (int64_t t = t_begin; t < t_end; ++t) {
        uint8_t* row = a.data.data() + t * a.row_bytes;
        quantize_activations(a.weight_type, x + t * cols, row, cols);
        if (!a.panel.empty())
          panel_activations(a.weight_type, row, cols, a.panel.data() + t * a.panel_row_bytes);
      }
    }
  };
  if (n_tokens <= kInlineQuantizeTokens) {
    quantize_tokens(0, n_tokens);
  } else {
    pool.parallel_for(n_tokens, quantize_tokens);
  }

  // One index space over the row groups of every output, in order.
  std::vector<int64_t> first_group(outputs.size() + 1, 0);
  for (size_t i = 0; i < outputs.size(); ++i)
    first_group[i + 1] =
        first_group[i] + (outputs[i].w->rows + row_group(*outputs[i].w, n_tokens) - 1) /
                             row_group(*outputs[i].w, n_tokens);
  pool.parallel_for(first_group.back(), [&](int64_t g_begin, int64_t g_end) {
    RowScratch scratch;
    size_t i = 0;
    for (int64_t g = g_begin; g < g_end; ++g) {
      while (g >= first_group[i + 1]) ++i;
      const WeightMatrix& w = *outputs[i].w;
      const Activations& a = acts[act_of[i]];
      const int64_t group = row_group(w, n_tokens);
      const int64_t r0 = (g - first_group[i]) * group;
      if (n_tokens == 1 && (g == g_begin || r0 == 0)) prefetch_run_start(w, r0);
      rows_times_tokens(w, a, n_tokens, r0, std::min(group, w.rows - r0), outputs[i].y, &scratch);
    }
  });
}

}  // namespace infera
