#include "kernels/cpu_features.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define INFERA_X86 1
#endif

namespace infera {
namespace {

#ifdef INFERA_X86
// XCR0: which register states the OS saves on context switches (ref: Intel SDM vol. 1, 13.3).
uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

bool bit(uint32_t reg, int b) { return (reg >> b) & 1u; }
#endif

CpuFeatures detect() {
  CpuFeatures f;
#ifdef INFERA_X86
  uint32_t eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = bit(ecx, 27);
  const bool avx = bit(ecx, 28);
  const bool fma = bit(ecx, 12);
  const bool f16c = bit(ecx, 29);
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;    // SSE and AVX state
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;  // plus opmask, ZMM0-15 upper halves, ZMM16-31
  if (!ymm_state) return f;
  f.fma = fma;
  f.f16c = f16c;
  uint32_t max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const uint32_t max_subleaf = eax;
  f.avx2 = bit(ebx, 5);
  if (zmm_state) {
    f.avx512f = bit(ebx, 16);
    f.avx512bw = bit(ebx, 30);
    f.avx512vl = bit(ebx, 31);
    f.avx512_vnni = bit(ecx, 11);
  }
  if (max_subleaf >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    f.avx_vnni = bit(eax, 4);
    f.avx512_bf16 = zmm_state && bit(eax, 5);
  }
#endif
  return f;
}

bool env_forces_scalar() {
  const char* v = std::getenv("INFERA_FORCE_SCALAR");
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

constexpr int kUnset = -1;
std::atomic<int> g_override{kUnset};
std::atomic<int> g_selected{kUnset};  // chosen on first use, so static-init order cannot matter

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    default:
      return "scalar";
  }
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::kAvx2:
      return f.avx2 && f.fma && f.f16c;
    case Isa::kAvx512:
      return isa_supported(Isa::kAvx2) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512_vnni;
    default:
      return true;
  }
}

Isa best_isa() {
  if (isa_supported(Isa::kAvx512)) return Isa::kAvx512;
  if (isa_supported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kScalar;
}

Isa active_isa() {
  const int o = g_override.load(std::memory_order_relaxed);
  if (o != kUnset) return static_cast<Isa>(o);
  const int s = g_selected.load(std::memory_order_relaxed);
  if (s != kUnset) return static_cast<Isa>(s);
  reset_isa_selection();
  return static_cast<Isa>(g_selected.load(std::memory_order_relaxed));
}

void set_isa_override(Isa isa) {
  if (!isa_supported(isa)) isa = best_isa();
  g_override.store(static_cast<int>(isa), std::memory_order_relaxed);
}

void clear_isa_override() { g_override.store(kUnset, std::memory_order_relaxed); }

void reset_isa_selection() {
  g_selected.store(static_cast<int>(env_forces_scalar() ? Isa::kScalar : best_isa()),
                   std::memory_order_relaxed);
}

}  // namespace infera
