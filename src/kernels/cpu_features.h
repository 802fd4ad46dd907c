#pragma once
// What the CPU can run, read once with CPUID, and which instruction set the kernels use.
//
// The kernels come in three versions: the scalar reference, AVX2 and AVX-512 (with VNNI).
// active_isa() picks the best one the CPU and the OS support, unless the scalar reference is
// forced: by INFERA_FORCE_SCALAR=1 in the environment (read on first use, or again by
// reset_isa_selection()) or, in tests, by set_isa_override(). The matmul kernels (int_dot.h,
// float_dot.h) compute the reference's bits on every version; attention (attention.h) sums in
// another order on the SIMD versions and stays within a bound derived from its arithmetic.
#include <string_view>

namespace infera {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512_vnni = false;
  bool avx_vnni = false;
  bool avx512_bf16 = false;
};

// The features of this CPU that the OS also enables (XSAVE state for YMM/ZMM registers); all
// false on targets other than x86.
const CpuFeatures& cpu_features();

// Kernel versions, from the reference upwards.
enum class Isa { kScalar, kAvx2, kAvx512 };

std::string_view isa_name(Isa isa);

// The best version this CPU runs: kAvx512 needs AVX-512 F/BW/VL and VNNI, kAvx2 needs AVX2, FMA
// and F16C.
Isa best_isa();

// Whether this CPU can run kernels of `isa` (always true for kScalar).
bool isa_supported(Isa isa);

// The version the kernels use now: the override if one is set, else kScalar when
// INFERA_FORCE_SCALAR is set to a value other than "" or "0", else best_isa(). Cheap (one atomic
// load); safe to call from any thread.
Isa active_isa();

// Forces `isa` (clamped to best_isa() when the CPU cannot run it) until clear_isa_override().
// For tests and benchmarks; not meant to change while kernels run on other threads.
void set_isa_override(Isa isa);
void clear_isa_override();

// Reads INFERA_FORCE_SCALAR again (tests that change the environment).
void reset_isa_selection();

}  // namespace infera

// On a function whose arithmetic is std::fma: that is one instruction on a CPU with FMA and a libm
// call (exact, but about ten times slower) on one without, so a clone built for FMA, picked when
// the program loads, keeps the reference fast where it can be. Both compute the same bits.
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define INFERA_FMA_CLONES __attribute__((target_clones("fma", "default")))
#endif
#endif
#ifndef INFERA_FMA_CLONES
#define INFERA_FMA_CLONES
#endif
