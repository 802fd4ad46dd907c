#include "engine/kernel_bench.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>

#include "core/error.h"
#include "core/membw.h"
#include "kernels/attention.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/quantized_dot.h"
#include "kernels/weight_matrix.h"
#include "kernels/weight_regroup.h"
#include "quant/blocks.h"
#include "quant/dequantize.h"
#include "quant/float16.h"
#include "quant/quantize.h"

namespace infera {

std::vector<TensorType> kernel_bench_types() {
  using T = TensorType;
  return {T::F32,  T::F16,  T::BF16, T::Q4_0, T::Q4_1, T::Q5_0, T::Q5_1,
          T::Q8_0, T::Q2_K, T::Q3_K, T::Q4_K, T::Q5_K, T::Q6_K};
}

std::string_view check_status_name(CheckStatus status) {
  switch (status) {
    case CheckStatus::kExact:
      return "exact";
    case CheckStatus::kWithin:
      return "ok";
    case CheckStatus::kFailed:
      return "FAIL";
    default:
      return "ref";
  }
}

double KernelBenchResult::gb_per_s() const {
  return seconds_per_call > 0 ? static_cast<double>(bytes) / seconds_per_call * 1e-9 : 0.0;
}

double KernelBenchResult::gop_per_s() const {
  return seconds_per_call > 0 ? ops / seconds_per_call * 1e-9 : 0.0;
}

namespace {

constexpr double kUnitRoundoff = 0x1p-24;  // f32

// Forces one ISA for as long as it lives; the normal selection comes back even on an exception.
class IsaScope {
 public:
  explicit IsaScope(Isa isa) { set_isa_override(isa); }
  ~IsaScope() { clear_isa_override(); }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;
};

// The paths to run, the reference first so that the others have something to be checked against.
std::vector<Isa> isas_to_run() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512})
    if (isa_supported(isa)) isas.push_back(isa);
  return isas;
}

// The median of v (not empty); sorts it.
double median(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median time of one call. A first batch, grown until it lasts min_time / min_reps, settles
// caches and clocks and sizes the batches; then batches run until both minimums are met. Batches
// rather than single calls keep the clock's resolution out of microsecond kernels. With a probe,
// the probe reads its buffer right before each batch (r's probe_gb_per_s and of_probe).
void time_calls(const std::function<void()>& fn, const KernelBenchOptions& o, KernelBenchResult* r,
                ReadBandwidthProbe* probe = nullptr) {
  using Clock = std::chrono::steady_clock;
  const int min_reps = std::max(1, o.min_reps);
  const double batch_target = o.min_time_s / min_reps;
  auto run_batch = [&](int64_t calls) {
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < calls; ++i) fn();
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  int64_t calls = 1;
  for (double t = run_batch(calls); t < batch_target && calls < (int64_t{1} << 30);
       t = run_batch(calls)) {
    // Aim 20% past the target so that one more batch is usually enough; at most ×100 per step in
    // case the first batch was too short to measure.
    const double want = t > 0 ? static_cast<double>(calls) * batch_target * 1.2 / t : 1e300;
    calls = std::max(calls * 2, static_cast<int64_t>(std::min(want, 100.0 * calls)));
  }
  std::vector<double> per_call, probe_rates, of_probe;
  double total = 0.0;
  while (static_cast<int>(per_call.size()) < min_reps ||
         (total < o.min_time_s && per_call.size() < 1000)) {
    const double probe_rate = probe != nullptr ? probe->read_once() : 0.0;
    const double t = run_batch(calls);
    total += t;
    per_call.push_back(t / static_cast<double>(calls));
    if (probe != nullptr && t > 0 && probe_rate > 0) {
      probe_rates.push_back(probe_rate);
      of_probe.push_back(static_cast<double>(r->bytes) / per_call.back() * 1e-9 / probe_rate);
    }
  }
  r->reps = static_cast<int>(per_call.size());
  r->seconds_per_call = median(per_call);
  r->calls_per_rep = calls;
  if (!probe_rates.empty()) {
    r->probe_gb_per_s = median(probe_rates);
    r->of_probe = median(of_probe);
  }
}

bool selected(const KernelBenchOptions& o, const std::string& kernel, const std::string& type,
              const std::string& shape) {
  return o.filter.empty() ||
         (kernel + "/" + type + "/" + shape).find(o.filter) != std::string::npos;
}

std::vector<float> uniform_floats(std::mt19937_64& rng, int64_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = u(rng);
  return v;
}

// ---- matmul -------------------------------------------------------------------------------------

// K-quant blocks have no quantizer in infera (quantize.h), so they are drawn at random: every bit
// pattern of the quants and packed scales is a valid block; only the float scales are set to
// ordinary magnitudes so that the outputs stay finite.
template <typename Block>
void fill_k_blocks(std::mt19937_64& rng, uint8_t* data, size_t n_blocks) {
  std::uniform_real_distribution<float> scale(1e-3f, 1e-2f);
  for (size_t i = 0; i < n_blocks; ++i) {
    Block b;
    auto* bytes = reinterpret_cast<uint8_t*>(&b);
    for (size_t j = 0; j < sizeof(Block); ++j) bytes[j] = static_cast<uint8_t>(rng());
    b.d = fp32_to_fp16(scale(rng));
    if constexpr (requires { b.dmin; }) b.dmin = fp32_to_fp16(scale(rng));
    std::memcpy(data + i * sizeof(Block), &b, sizeof(Block));
  }
}

std::vector<uint8_t> random_weights(std::mt19937_64& rng, TensorType type, int64_t rows,
                                    int64_t cols, uint64_t row_bytes) {
  std::vector<uint8_t> data(static_cast<size_t>(row_bytes * static_cast<uint64_t>(rows)));
  const size_t n_blocks = data.size() / traits_of(type).block_bytes;
  switch (type) {
    case TensorType::Q2_K:
      fill_k_blocks<block_q2_K>(rng, data.data(), n_blocks);
      break;
    case TensorType::Q3_K:
      fill_k_blocks<block_q3_K>(rng, data.data(), n_blocks);
      break;
    case TensorType::Q4_K:
      fill_k_blocks<block_q4_K>(rng, data.data(), n_blocks);
      break;
    case TensorType::Q5_K:
      fill_k_blocks<block_q5_K>(rng, data.data(), n_blocks);
      break;
    case TensorType::Q6_K:
      fill_k_blocks<block_q6_K>(rng, data.data(), n_blocks);
      break;
    default:
      for (int64_t r = 0; r < rows; ++r) {
        const std::vector<float> w = uniform_floats(rng, cols, -1.0f, 1.0f);
        quantize_row(type, w.data(), data.data() + static_cast<uint64_t>(r) * row_bytes, cols);
      }
  }
  return data;
}

bool is_integer_dot(TensorType type) {
  const TensorType a = activation_type_for(type);
  return a == TensorType::Q8_0 || a == TensorType::Q8_1 || a == TensorType::Q8_K;
}

std::vector<double> row_norms(const WeightMatrix& w) {
  std::vector<double> norms(static_cast<size_t>(w.rows));
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    dequantize_row(w.type, w.row(r), row.data(), w.cols);
    double s = 0.0;
    for (float f : row) s += static_cast<double>(f) * f;
    norms[static_cast<size_t>(r)] = std::sqrt(s);
  }
  return norms;
}

// `probe`: the read-bandwidth probe timings with weight copies are set beside, made on first use.
void bench_matmul(const KernelBenchOptions& o, ThreadPool& pool, TensorType type, int64_t n_tokens,
                  const std::string& shape, std::mt19937_64& rng,
                  std::unique_ptr<ReadBandwidthProbe>* probe, std::vector<KernelBenchResult>* out,
                  const KernelBenchProgress& progress) {
  uint64_t row_bytes = 0;
  if (!tensor_row_bytes(type, static_cast<uint64_t>(o.cols), &row_bytes))
    throw Error(ErrorKind::kInvalidArgument,
                "bench-kernels: --cols " + std::to_string(o.cols) + " is not a whole number of " +
                    std::string(tensor_type_name(type)) + " blocks (" +
                    std::to_string(traits_of(type).block_elements) + " elements)");
  const std::vector<uint8_t> data = random_weights(rng, type, o.rows, o.cols, row_bytes);
  const WeightMatrix w{type, o.cols, o.rows, row_bytes, data.data()};
  // The copies the timed calls cycle through (o.weights_bytes); the checks use w itself.
  const uint64_t matrix_bytes = row_bytes * static_cast<uint64_t>(o.rows);
  const uint64_t n_copies =
      std::max<uint64_t>(1, (o.weights_bytes + matrix_bytes - 1) / matrix_bytes);
  std::vector<std::vector<uint8_t>> copies(n_copies - 1, data);
  if (n_copies > 1 && *probe == nullptr)
    *probe = std::make_unique<ReadBandwidthProbe>(pool, o.weights_bytes);
  const std::vector<float> x = uniform_floats(rng, n_tokens * o.cols, -1.0f, 1.0f);
  const size_t y_size = static_cast<size_t>(n_tokens * o.rows);

  std::vector<float> y_ref(y_size);
  {
    IsaScope scope(Isa::kScalar);
    matmul(w, x.data(), n_tokens, y_ref.data(), pool);
  }

  const bool exact_required = is_integer_dot(type);
  std::vector<double> w_norm;
  std::vector<double> x_norm;
  double tolerance = 0.0;
  if (!exact_required) {
    // Both the reference and a fast kernel are within γ_n·Σ|w_i·x_i| of the exact product in
    // any summation order, with or without FMA (ref: Higham, Accuracy and Stability of Numerical
    // Algorithms, §3.1), and Σ|w_i·x_i| <= ‖w‖·‖x‖. The activations are first rounded to the
    // weight type (bf16 at worst: relative 2^-8).
    const double n = static_cast<double>(o.cols);
    const double gamma = n * kUnitRoundoff / (1.0 - n * kUnitRoundoff);
    tolerance = 2.0 * gamma * (1.0 + 0x1p-8);
    w_norm = row_norms(w);
    for (int64_t t = 0; t < n_tokens; ++t) {
      double s = 0.0;
      for (int64_t c = 0; c < o.cols; ++c)
        s += static_cast<double>(x[t * o.cols + c]) * x[t * o.cols + c];
      x_norm.push_back(std::sqrt(s));
    }
  }

  auto matrices_of = [](const WeightMatrix& first, const std::vector<std::vector<uint8_t>>& bytes) {
    std::vector<WeightMatrix> m{first};
    for (auto& b : bytes) {
      m.push_back(first);
      m.back().data = b.data();
    }
    return m;
  };
  const std::vector<WeightMatrix> stored = matrices_of(w, copies);
  // Where this CPU's kernels read the rows faster rewritten (weight_regroup.h: interleaved or
  // regrouped), as a model loads them, that layout is measured too: the same bits are required
  // of it.
  std::vector<uint8_t> regrouped_data;
  std::vector<std::vector<uint8_t>> regrouped_copies;
  std::vector<WeightMatrix> regrouped;
  std::vector<float> y(y_size);
  auto run = [&](Isa isa, const std::vector<WeightMatrix>& ws) {
    const WeightMatrix& wm = ws[0];
    KernelBenchResult r;
    r.kernel = "matmul";
    r.type = std::string(tensor_type_name(type)) +
             (wm.layout == WeightLayout::kAsStored ? "" : " ") + layout_name(wm.layout);
    r.shape = shape;
    if (ws.size() > 1) r.shape += " (" + std::to_string(ws.size()) + " copies)";
    r.isa = std::string(isa_name(isa));
    r.threads = pool.size();
    r.bytes = row_bytes * static_cast<uint64_t>(o.rows);
    r.ops = 2.0 * static_cast<double>(o.rows) * static_cast<double>(o.cols) *
            static_cast<double>(n_tokens);
    r.tolerance = tolerance;
    std::fill(y.begin(), y.end(), std::nanf(""));
    matmul(wm, x.data(), n_tokens, y.data(), pool);
    if (isa == Isa::kScalar) {
      r.check = CheckStatus::kReference;
    } else if (exact_required) {
      bool same = true;
      for (size_t i = 0; i < y_size; ++i)
        same = same && std::bit_cast<uint32_t>(y[i]) == std::bit_cast<uint32_t>(y_ref[i]);
      r.check = same ? CheckStatus::kExact : CheckStatus::kFailed;
      if (!same) {
        for (size_t i = 0; i < y_size; ++i)
          r.error = std::max(r.error, std::fabs(static_cast<double>(y[i]) - y_ref[i]));
        if (!(r.error > 0)) r.error = INFINITY;  // differing bits with equal values: NaN or ±0
      }
    } else {
      bool finite = true;
      for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t i = 0; i < o.rows; ++i) {
          const size_t k = static_cast<size_t>(t * o.rows + i);
          finite = finite && std::isfinite(y[k]);
          const double scale = w_norm[static_cast<size_t>(i)] * x_norm[static_cast<size_t>(t)];
          const double d = std::fabs(static_cast<double>(y[k]) - y_ref[k]);
          if (scale > 0) r.error = std::max(r.error, d / scale);
        }
      }
      if (!finite) r.error = INFINITY;
      r.check = r.error <= tolerance ? (r.error == 0 ? CheckStatus::kExact : CheckStatus::kWithin)
                                     : CheckStatus::kFailed;
    }
    size_t next = 0;
    time_calls(
        [&] {
          matmul(ws[next], x.data(), n_tokens, y.data(), pool);
          next = (next + 1) % ws.size();
        },
        o, &r, ws.size() > 1 ? probe->get() : nullptr);
    if (progress) progress(r);
    out->push_back(std::move(r));
  };
  for (Isa isa : isas_to_run()) {
    IsaScope scope(isa);
    run(isa, stored);
    const WeightLayout layout = layout_that_pays(w);
    if (layout != WeightLayout::kAsStored) {
      if (regrouped.empty() || regrouped[0].layout != layout) {
        regrouped_data = data;
        WeightMatrix first = w;
        regroup_in_place(first, regrouped_data.data(), layout);
        regrouped_copies.assign(n_copies - 1, regrouped_data);
        regrouped = matrices_of(first, regrouped_copies);
      }
      run(isa, regrouped);
    }
  }
}

// ---- attention ----------------------------------------------------------------------------------

void bench_attention(const KernelBenchOptions& o, ThreadPool& pool, int64_t n_tokens,
                     std::mt19937_64& rng, std::vector<KernelBenchResult>* out,
                     const KernelBenchProgress& progress) {
  const std::string shape = "t" + std::to_string(n_tokens) + " ctx" + std::to_string(o.n_ctx) +
                            " " + std::to_string(o.n_head) + "/" + std::to_string(o.n_head_kv) +
                            "x" + std::to_string(o.head_dim);
  if (!selected(o, "attention", "f16kv", shape)) return;
  if (o.n_head_kv <= 0 || o.n_head % o.n_head_kv != 0 || o.head_dim <= 0)
    throw Error(ErrorKind::kInvalidArgument,
                "bench-kernels: the number of heads must be a multiple of the KV heads");
  if (n_tokens > o.n_ctx)
    throw Error(ErrorKind::kInvalidArgument,
                "bench-kernels: --n-ctx must be at least the prefill token count");

  AttentionShape s;
  s.n_head = o.n_head;
  s.n_head_kv = o.n_head_kv;
  s.head_dim_k = o.head_dim;
  s.head_dim_v = o.head_dim;
  s.scale = 1.0f / std::sqrt(static_cast<float>(o.head_dim));

  // One sequence whose blocks lie in order: block i of its table is row block i.
  constexpr int64_t kBlockSize = 16;
  const int64_t n_blocks = (o.n_ctx + kBlockSize - 1) / kBlockSize;
  std::vector<int32_t> table(static_cast<size_t>(n_blocks));
  for (int64_t i = 0; i < n_blocks; ++i) table[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  const int64_t kv_width = o.n_head_kv * o.head_dim;
  std::vector<uint16_t> k(static_cast<size_t>(n_blocks * kBlockSize * kv_width));
  std::vector<uint16_t> v(k.size());
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  float v_max = 0.0f;
  for (uint16_t& h : k) h = fp32_to_fp16(u(rng));
  for (uint16_t& h : v) {
    h = fp32_to_fp16(u(rng));
    v_max = std::max(v_max, std::fabs(fp16_to_fp32(h)));
  }
  const PagedKv kv{k.data(), v.data(), kBlockSize};

  // The new tokens are the last n_tokens positions of the context: decode is one query over
  // n_ctx keys, prefill a chunk of a prompt that already fills the rest.
  std::vector<int64_t> positions(static_cast<size_t>(n_tokens));
  std::vector<const int32_t*> tables(static_cast<size_t>(n_tokens), table.data());
  double ops = 0.0;
  for (int64_t t = 0; t < n_tokens; ++t) {
    positions[static_cast<size_t>(t)] = o.n_ctx - n_tokens + t;
    const double n_keys = static_cast<double>(o.n_ctx - n_tokens + t + 1);
    ops += static_cast<double>(o.n_head) * n_keys * 4.0 * static_cast<double>(o.head_dim);
  }
  const std::vector<float> q = uniform_floats(rng, n_tokens * o.n_head * o.head_dim, -1.0f, 1.0f);
  const size_t out_size = static_cast<size_t>(n_tokens * o.n_head * o.head_dim);

  auto run = [&](float* dst) {
    attention(q.data(), positions.data(), tables.data(), n_tokens, kv, s, dst, pool);
  };
  std::vector<float> ref(out_size);
  {
    IsaScope scope(Isa::kScalar);
    run(ref.data());
  }
  // The attention weights are rounded to fp16 before they weight V, so a path that computes a
  // score a hair differently may round a weight p to the neighbouring half: |Δp| <= 2^-11·p. Over
  // weights summing to 1 that moves the output by at most 2^-11·max|v|; the f32 rounding of the
  // scores and sums is far below that. Twice it leaves room for both effects.
  const double tolerance = 0x1p-10 * v_max;

  std::vector<float> res(out_size);
  for (Isa isa : isas_to_run()) {
    KernelBenchResult r;
    r.kernel = "attention";
    r.type = "f16kv";
    r.shape = shape;
    r.isa = std::string(isa_name(isa));
    r.threads = pool.size();
    r.bytes = static_cast<uint64_t>(o.n_ctx) * static_cast<uint64_t>(2 * kv_width) * 2;
    r.ops = ops;
    r.tolerance = tolerance;
    IsaScope scope(isa);
    std::fill(res.begin(), res.end(), std::nanf(""));
    run(res.data());
    if (isa == Isa::kScalar) {
      r.check = CheckStatus::kReference;
    } else {
      for (size_t i = 0; i < out_size; ++i) {
        const double d = std::fabs(static_cast<double>(res[i]) - ref[i]);
        r.error = std::isnan(d) ? INFINITY : std::max(r.error, d);
      }
      r.check = r.error == 0 ? CheckStatus::kExact
                             : (r.error <= tolerance ? CheckStatus::kWithin : CheckStatus::kFailed);
    }
    time_calls([&] { run(res.data()); }, o, &r);
    if (progress) progress(r);
    out->push_back(std::move(r));
  }
}

// ---- element-wise and per-row ops ---------------------------------------------------------------

// max |got − want| / max |want|; a NaN anywhere makes it infinite.
double normwise_error(const std::vector<float>& got, const std::vector<double>& want) {
  double diff = 0.0;
  double scale = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (std::isnan(d)) return INFINITY;
    diff = std::max(diff, d);
    scale = std::max(scale, std::fabs(want[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

// The ops are checked against their formula evaluated in double; `tolerance` says how far the f32
// arithmetic may stray from it. `isa`: the path that ran (most ops have only the scalar one).
void record_op(const KernelBenchOptions& o, const std::string& kernel, const std::string& shape,
               uint64_t bytes, double ops, double error, double tolerance,
               const std::function<void()>& fn, std::vector<KernelBenchResult>* out,
               const KernelBenchProgress& progress, Isa isa = Isa::kScalar) {
  KernelBenchResult r;
  r.kernel = kernel;
  r.type = "f32";
  r.shape = shape;
  r.isa = std::string(isa_name(isa));
  r.threads = 1;
  r.bytes = bytes;
  r.ops = ops;
  r.error = error;
  r.tolerance = tolerance;
  r.check = error <= tolerance ? CheckStatus::kWithin : CheckStatus::kFailed;
  time_calls(fn, o, &r);
  if (progress) progress(r);
  out->push_back(std::move(r));
}

// record_op for an op with SIMD paths (the same bits as the scalar one): fn, which writes y, is
// checked and timed on each path.
void record_op_on_every_path(const KernelBenchOptions& o, const std::string& kernel,
                             const std::string& shape, uint64_t bytes, double ops,
                             const std::vector<float>& y, const std::vector<double>& want,
                             double tolerance, const std::function<void()>& fn,
                             std::vector<KernelBenchResult>* out,
                             const KernelBenchProgress& progress) {
  for (Isa isa : isas_to_run()) {
    set_isa_override(isa);
    fn();
    record_op(o, kernel, shape, bytes, ops, normwise_error(y, want), tolerance, fn, out, progress,
              isa);
  }
  set_isa_override(Isa::kScalar);
}

void bench_ops(const KernelBenchOptions& o, std::mt19937_64& rng,
               std::vector<KernelBenchResult>* out, const KernelBenchProgress& progress) {
  const double u = kUnitRoundoff;
  IsaScope scope(Isa::kScalar);

  if (const int64_t n = o.cols; selected(o, "rms_norm", "f32", "n" + std::to_string(n))) {
    const std::vector<float> x = uniform_floats(rng, n, -4.0f, 4.0f);
    const std::vector<float> w = uniform_floats(rng, n, 0.5f, 1.5f);
    std::vector<float> y(static_cast<size_t>(n));
    constexpr float kEps = 1e-5f;
    double ss = 0.0;
    for (float f : x) ss += static_cast<double>(f) * f;
    const double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + kEps);
    std::vector<double> want(static_cast<size_t>(n));
    for (size_t i = 0; i < want.size(); ++i) want[i] = x[i] * scale * w[i];
    // Three roundings per element: the f32 scale and two products.
    record_op_on_every_path(
        o, "rms_norm", "n" + std::to_string(n), 12 * static_cast<uint64_t>(n), 4.0 * n, y, want,
        8 * u, [&] { rms_norm(x.data(), w.data(), n, kEps, y.data()); }, out, progress);
  }

  if (const int64_t n = o.n_ctx; selected(o, "softmax", "f32", "n" + std::to_string(n))) {
    const std::vector<float> x = uniform_floats(rng, n, -8.0f, 8.0f);
    std::vector<float> y = x;
    softmax(y.data(), n);
    const double mx = *std::max_element(x.begin(), x.end());
    double sum = 0.0;
    std::vector<double> want(static_cast<size_t>(n));
    for (size_t i = 0; i < want.size(); ++i) sum += want[i] = std::exp(x[i] - mx);
    for (double& d : want) d /= sum;
    // x − max (|·| <= 16) rounds by up to 16u, which exp turns into a relative 16u; then exp
    // itself, the reciprocal and the product.
    record_op(
        o, "softmax", "n" + std::to_string(n), 8 * static_cast<uint64_t>(n), 5.0 * n,
        normwise_error(y, want), 32 * u, [&] { softmax(y.data(), n); }, out, progress);
  }

  const int64_t n_glu = o.rows;
  const std::vector<float> gate = uniform_floats(rng, n_glu, -4.0f, 4.0f);
  const std::vector<float> up = uniform_floats(rng, n_glu, -4.0f, 4.0f);
  std::vector<float> glu(static_cast<size_t>(n_glu));
  const std::string glu_shape = "n" + std::to_string(n_glu);
  if (selected(o, "swiglu", "f32", glu_shape)) {
    std::vector<double> want(glu.size());
    for (size_t i = 0; i < want.size(); ++i)
      want[i] = gate[i] / (1.0 + std::exp(-static_cast<double>(gate[i]))) * up[i];
    // exp, 1 + e, the quotient and the product: a few roundings, relative to each element.
    record_op_on_every_path(
        o, "swiglu", glu_shape, 12 * static_cast<uint64_t>(n_glu), 5.0 * n_glu, glu, want, 16 * u,
        [&] { swiglu(gate.data(), up.data(), n_glu, glu.data()); }, out, progress);
  }
  if (selected(o, "geglu", "f32", glu_shape)) {
    std::vector<double> want(glu.size());
    double gu_max = 0.0;
    double want_max = 0.0;
    for (size_t i = 0; i < want.size(); ++i) {
      const double g = gate[i];
      const double gelu =
          0.5 * g * (1.0 + std::tanh(0.7978845608028654 * g * (1.0 + 0.044715 * g * g)));
      want[i] = gelu * up[i];
      gu_max = std::max(gu_max, std::fabs(g * up[i]));
      want_max = std::max(want_max, std::fabs(want[i]));
    }
    // GELU goes through an fp16 table (ops.cpp): the input rounded to half (|Δx| <= 2^-11·|x|,
    // and |gelu'| < 1.13) and the output too (|gelu(x)| <= |x|), so |Δ| <= 2^-11·2.13·|g·up|.
    const double tol = (0x1p-11 * 2.13 * gu_max) / want_max + 8 * u;
    record_op_on_every_path(
        o, "geglu", glu_shape, 12 * static_cast<uint64_t>(n_glu), 1.0 * n_glu, glu, want, tol,
        [&] { geglu(gate.data(), up.data(), n_glu, glu.data()); }, out, progress);
  }

  const int64_t pos = o.n_ctx - 1;
  const std::string rope_shape =
      std::to_string(o.n_head) + "x" + std::to_string(o.head_dim) + " pos" + std::to_string(pos);
  if (selected(o, "rope", "f32", rope_shape)) {
    const int64_t n = o.n_head * o.head_dim;
    RopeParams p;
    p.ordering = RopeOrdering::kNeox;
    p.n_dims = o.head_dim;
    const std::vector<float> x = uniform_floats(rng, n, -1.0f, 1.0f);
    std::vector<float> y = x;
    rope(y.data(), o.n_head, o.head_dim, pos, p);
    // The angles are part of the definition (llama.cpp's f32 running product, rounding and all),
    // so they are built the same way; the rotation is then done in double.
    const int64_t half = p.n_dims / 2;
    std::vector<double> want(x.begin(), x.end());
    const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_dims));
    float theta = static_cast<float>(pos);
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(p.freq_scale * theta);
      theta *= theta_scale;
      for (int64_t h = 0; h < o.n_head; ++h) {
        const double x0 = x[h * o.head_dim + i];
        const double x1 = x[h * o.head_dim + i + half];
        want[h * o.head_dim + i] = x0 * std::cos(angle) - x1 * std::sin(angle);
        want[h * o.head_dim + i + half] = x0 * std::sin(angle) + x1 * std::cos(angle);
      }
    }
    // Per pair: f32 cos and sin, two products and a sum, each within an ulp or so of |pair|,
    // and the largest output is at least the largest pair norm / √2.
    record_op(
        o, "rope", rope_shape, 8 * static_cast<uint64_t>(n), 3.0 * n, normwise_error(y, want),
        16 * u, [&] { rope(y.data(), o.n_head, o.head_dim, pos, p); }, out, progress);
  }
}

}  // namespace

std::vector<KernelBenchResult> run_kernel_benchmarks(const KernelBenchOptions& options,
                                                     ThreadPool& pool,
                                                     const KernelBenchProgress& progress) {
  const KernelBenchOptions& o = options;
  if (o.rows <= 0 || o.cols <= 0 || o.prefill_tokens <= 0 || o.n_ctx <= 0 || o.n_head <= 0)
    throw Error(ErrorKind::kInvalidArgument, "bench-kernels: every size must be positive");
  // The copies of the weights exist twice at once for Q4_0 (as stored and regrouped), beside the
  // bandwidth probe's buffer of the same size: past the machine's memory the copying would not
  // fail cleanly but be killed.
  const uint64_t memory = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                          static_cast<uint64_t>(sysconf(_SC_PAGE_SIZE));
  if (o.weights_bytes > memory / 5)
    throw Error(ErrorKind::kInvalidArgument,
                "bench-kernels: weights of " + std::to_string(o.weights_bytes >> 20) +
                    " MiB (--weights-mib) exceed a fifth of this machine's memory (" +
                    std::to_string(memory >> 20) +
                    " MiB): two sets of copies and a bandwidth probe of that size are made");
  std::mt19937_64 rng(o.seed);
  std::vector<KernelBenchResult> results;
  const std::vector<TensorType> types = o.types.empty() ? kernel_bench_types() : o.types;
  const std::string dims = std::to_string(o.rows) + "x" + std::to_string(o.cols);
  std::unique_ptr<ReadBandwidthProbe> probe;
  for (TensorType type : types) {
    const std::string name(tensor_type_name(type));
    for (int64_t n_tokens : {int64_t{1}, o.prefill_tokens}) {
      // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on the chained +.
      std::string shape = "t";
      shape += std::to_string(n_tokens);
      shape += ' ';
      shape += dims;
      if (selected(o, "matmul", name, shape))
        bench_matmul(o, pool, type, n_tokens, shape, rng, &probe, &results, progress);
      if (o.prefill_tokens == 1) break;
    }
  }
  bench_attention(o, pool, 1, rng, &results, progress);
  if (o.prefill_tokens > 1) bench_attention(o, pool, o.prefill_tokens, rng, &results, progress);
  bench_ops(o, rng, &results, progress);
  return results;
}

}  // namespace infera
