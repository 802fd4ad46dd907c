// The bench-kernels driver (engine/kernel_bench.h) on small shapes with a few iterations: every
// case is produced on every ISA this CPU runs, every check passes, every figure is positive. No
// timing is asserted.
#include "engine/kernel_bench.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/weight_regroup.h"
#include "quant/tensor_type.h"

namespace infera {
namespace {

KernelBenchOptions small_options() {
  KernelBenchOptions o;
  o.rows = 64;
  o.cols = 512;  // two K-quant super-blocks per row
  o.prefill_tokens = 5;
  o.n_ctx = 40;
  o.min_time_s = 1e-4;
  o.min_reps = 1;
  return o;
}

int supported_isas() {
  int n = 0;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) n += isa_supported(isa) ? 1 : 0;
  return n;
}

TEST(KernelBench, EveryCheckPassesOnSmallShapes) {
  ThreadPool pool(2);
  const Isa before = active_isa();
  const std::vector<KernelBenchResult> results = run_kernel_benchmarks(small_options(), pool);

  const int n_isas = supported_isas();
  const size_t n_types = kernel_bench_types().size();
  // matmul: every type at two shapes; attention: two shapes; ops: five, softmax and rope on the
  // scalar path, rms_norm, swiglu and geglu on every path; on each SIMD path, each type at both
  // shapes in the layout a model loads it in where that is not as stored (weight_regroup.h).
  size_t rewritten = 0;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    set_isa_override(isa);
    for (TensorType type : kernel_bench_types()) {
      const WeightMatrix w{type, small_options().cols, small_options().rows, 0, nullptr};
      if (layout_that_pays(w) != WeightLayout::kAsStored) rewritten += 2;
    }
    clear_isa_override();
  }
  // Q4_0 … Q8_0, Q4_K and Q6_K interleaved.
  if (isa_supported(Isa::kAvx2)) EXPECT_GE(rewritten, 2u * 7);
  EXPECT_EQ(results.size(), (n_types * 2 + 2) * n_isas + 2 + 3 * n_isas + rewritten);

  std::set<std::string> kernels;
  for (const KernelBenchResult& r : results) {
    SCOPED_TRACE(r.kernel + "/" + r.type + "/" + r.shape + " " + r.isa);
    kernels.insert(r.kernel);
    EXPECT_TRUE(r.passed()) << "error " << r.error << " > tolerance " << r.tolerance;
    EXPECT_GT(r.bytes, 0u);
    EXPECT_GT(r.ops, 0.0);
    EXPECT_GT(r.seconds_per_call, 0.0);
    EXPECT_GT(r.gb_per_s(), 0.0);
    EXPECT_GT(r.gop_per_s(), 0.0);
    EXPECT_GE(r.reps, 1);
    if (r.isa == "scalar" && (r.kernel == "matmul" || r.kernel == "attention")) {
      EXPECT_EQ(r.check, CheckStatus::kReference);
    }
    if (r.kernel == "matmul" && r.isa != "scalar" && r.type != "F32" && r.type != "F16" &&
        r.type != "BF16") {
      EXPECT_EQ(r.check, CheckStatus::kExact);  // the integer dot products promise equal bits
    }
  }
  EXPECT_EQ(kernels, (std::set<std::string>{"matmul", "attention", "rms_norm", "softmax", "swiglu",
                                            "geglu", "rope"}));
  EXPECT_EQ(active_isa(), before);  // the override is gone again
}

// weights_bytes: the timed matmul calls cycle through copies of the weights filling that much
// (ceil of a whole number of matrices), and the shape says how many; the checks still pass.
TEST(KernelBench, MatmulCyclesThroughCopiesOfItsWeights) {
  ThreadPool pool(2);
  KernelBenchOptions o = small_options();
  o.types = {TensorType::Q4_0, TensorType::F16};
  o.filter = "matmul";
  o.weights_bytes = 100 << 10;  // Q4_0: 64 rows x 288 bytes, 6 copies; F16: 64 KiB, 2 copies
  int matmuls = 0;
  for (const KernelBenchResult& r : run_kernel_benchmarks(o, pool)) {
    if (r.kernel != "matmul") continue;
    SCOPED_TRACE(r.type + "/" + r.shape + " " + r.isa);
    ++matmuls;
    const bool q4_0 = r.type.rfind("Q4_0", 0) == 0;
    EXPECT_NE(r.shape.find(q4_0 ? " (6 copies)" : " (2 copies)"), std::string::npos);
    EXPECT_TRUE(r.passed());
    EXPECT_GT(r.gb_per_s(), 0.0);
    // The probe ran beside every repetition: its rate, and the kernel's over it (finite, and
    // positive: no timing is asserted).
    EXPECT_GT(r.probe_gb_per_s, 0.0);
    EXPECT_GT(r.of_probe, 0.0);
    EXPECT_TRUE(std::isfinite(r.of_probe));
  }
  EXPECT_GE(matmuls, 4);  // two types at two shapes, on the scalar path at least
}

// Without copies nothing is probed: the ratio would compare cached weights with memory.
TEST(KernelBench, NoProbeWithoutWeightCopies) {
  ThreadPool pool(1);
  KernelBenchOptions o = small_options();
  o.filter = "matmul/Q8_0";
  const std::vector<KernelBenchResult> results = run_kernel_benchmarks(o, pool);
  ASSERT_FALSE(results.empty());
  for (const KernelBenchResult& r : results) {
    EXPECT_EQ(r.probe_gb_per_s, 0.0);
    EXPECT_EQ(r.of_probe, 0.0);
  }
}

TEST(KernelBench, FilterSelectsBySubstringOfKernelTypeShape) {
  ThreadPool pool(1);
  KernelBenchOptions o = small_options();
  o.filter = "matmul/Q5_K/t1 ";  // a type every ISA multiplies as stored: one result each
  const std::vector<KernelBenchResult> results = run_kernel_benchmarks(o, pool);
  ASSERT_EQ(results.size(), static_cast<size_t>(supported_isas()));
  for (const KernelBenchResult& r : results) {
    EXPECT_EQ(r.kernel, "matmul");
    EXPECT_EQ(r.type, "Q5_K");
    EXPECT_EQ(r.shape, "t1 64x512");
    EXPECT_TRUE(r.passed());
  }
}

TEST(KernelBench, ColsNotAWholeNumberOfBlocksIsAnError) {
  ThreadPool pool(1);
  KernelBenchOptions o = small_options();
  o.cols = 96;  // whole 32-blocks, but not 256-blocks
  o.filter = "matmul/Q6_K";
  const Isa before = active_isa();
  EXPECT_THROW(run_kernel_benchmarks(o, pool), Error);
  EXPECT_EQ(active_isa(), before);
}

TEST(KernelBench, WeightsPastAFifthOfMemoryAreAnError) {
  ThreadPool pool(1);
  KernelBenchOptions o = small_options();
  o.filter = "matmul/Q4_0";
  o.weights_bytes = uint64_t{1} << 50;  // 1 PiB
  EXPECT_THROW(run_kernel_benchmarks(o, pool), Error);
}

}  // namespace
}  // namespace infera
