#pragma once
// `infera bench-kernels`, library side: the check-and-bench driver of the kernel families (llm.c's
// dev/cuda files, ggml's test-backend-ops). Every kernel runs on each instruction-set path this
// CPU has (cpu_features.h); each fast path is checked against the scalar reference, then timed.
//
//   matmul     every weight type at decode (1 token) and prefill shape; integer-dot types must
//              equal the reference bit for bit, float types stay within the rounding-error bound
//              of a dot product.
//   attention  paged fp16 KV, decode and a prefill chunk at the end of the context; within the
//              fp16 rounding of the attention weights.
//   ops        rms_norm, softmax, swiglu, geglu, rope: one path (no SIMD versions yet), checked
//              against the same formulas evaluated in double.
//
// The caller prints (src/cli/kernel_bench_command.cpp); nothing here writes to stdout.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "quant/tensor_type.h"

namespace infera {

struct KernelBenchOptions {
  int64_t rows = 2048;          // matmul output features; also the swiglu/geglu width
  int64_t cols = 2048;          // matmul input features; also the rms_norm width
  int64_t prefill_tokens = 64;  // tokens of the prefill shapes (matmul, attention)
  int64_t n_ctx = 512;          // keys an attention query sees; also the softmax width
  int64_t n_head = 9;           // attention shape: SmolLM2-135M by default
  int64_t n_head_kv = 3;
  int64_t head_dim = 64;
  std::vector<TensorType> types;  // matmul weight types; empty: all of kernel_bench_types()
  std::string filter;             // run only cases whose "kernel/type/shape" contains it
  double min_time_s = 0.2;        // least time each measurement runs, repetitions together
  int min_reps = 3;               // least timed repetitions; the median one is reported
  uint64_t seed = 1234;
  // matmul: copies of the weights filling this many bytes, a call taking the next copy each time,
  // so that, past the last-level cache, each call reads its weights from memory as decode does.
  // 0: one copy (which then stays in cache if it fits). With copies, a read-bandwidth probe of
  // this many bytes (core/membw.h) also runs right before each timed repetition.
  uint64_t weights_bytes = 0;
};

// The weight types `bench-kernels` covers by default.
std::vector<TensorType> kernel_bench_types();

enum class CheckStatus {
  kReference,  // the scalar reference itself (ops: nothing faster to check)
  kExact,      // bit-identical to the reference, as the kernel promises
  kWithin,     // differs from the reference by no more than `tolerance`
  kFailed,     // the promise above does not hold
};

struct KernelBenchResult {
  std::string kernel;  // "matmul", "attention", "rms_norm", ...
  std::string type;    // weight type ("Q4_K"), "f16kv" (attention) or "f32" (ops)
  std::string shape;   // "t1 2048x2048", "t64 ctx512 9/3x64", "n2048"
  std::string isa;     // "scalar", "avx2", "avx512"
  int threads = 1;     // threads the kernel ran on (ops are single-threaded)

  CheckStatus check = CheckStatus::kReference;
  // What `error` measures against `tolerance`:
  //   matmul float types: max |y − y_ref| / (‖w_r‖·‖x_t‖), the scale a dot product's rounding
  //     error is proportional to;
  //   attention: max |out − out_ref| (absolute);
  //   ops: max |out − out_f64| / max |out_f64|.
  // Integer-dot matmul types: 0 when exact (any difference fails).
  double error = 0.0;
  double tolerance = 0.0;

  uint64_t bytes = 0;  // matmul: weight bytes; attention: KV bytes read; ops: input + output
  double ops = 0.0;    // floating-point (or integer, for integer-dot types) operations per call
  double seconds_per_call = 0.0;  // median of the timed repetitions
  int reps = 0;                   // timed repetitions
  int64_t calls_per_rep = 0;

  // matmul with weight copies: the probe's rate (median over the repetitions) and the median over
  // repetitions of the kernel's GB/s divided by the probe's just before it; how close a kernel
  // streams to the machine's read bandwidth, measured in the same state of a shared host. 0: not
  // measured.
  double probe_gb_per_s = 0.0;
  double of_probe = 0.0;

  bool passed() const { return check != CheckStatus::kFailed; }
  double gb_per_s() const;
  double gop_per_s() const;
};

std::string_view check_status_name(CheckStatus status);  // "ref", "exact", "ok", "FAIL"

// Called as each result is ready (progress on stderr, for instance); may be empty.
using KernelBenchProgress = std::function<void(const KernelBenchResult&)>;

// Runs every case the filter leaves, on every instruction-set path the CPU supports (the scalar
// reference first). Restores the normal ISA selection before returning, also on an exception.
// Throws infera::Error (kInvalidArgument) for a shape the kernels cannot take (cols not a whole
// number of 256-blocks for a K type, n_head not a multiple of n_head_kv, ...).
std::vector<KernelBenchResult> run_kernel_benchmarks(const KernelBenchOptions& options,
                                                     ThreadPool& pool,
                                                     const KernelBenchProgress& progress = {});

}  // namespace infera
