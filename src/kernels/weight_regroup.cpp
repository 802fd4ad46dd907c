#include "kernels/weight_regroup.h"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "kernels/cpu_features.h"
#include "quant/interleaved_rows.h"
#include "quant/q4_0_groups.h"

namespace infera {

WeightLayout layout_that_pays(const WeightMatrix& w) {
  if (w.layout != WeightLayout::kAsStored) return WeightLayout::kAsStored;
  const bool groups = w.type == TensorType::Q4_0 && w.cols / QK4_0 >= kQ4_0GroupBlocks;
  if (active_isa() == Isa::kAvx2) {
    if (interleavable_type(w.type) && w.rows % kInterleavedRows == 0)
      return WeightLayout::kInterleaved8;
    return groups ? WeightLayout::kQ4_0Groups : WeightLayout::kAsStored;
  }
  if (active_isa() == Isa::kAvx512 && groups) return WeightLayout::kQ4_0Groups;
  return WeightLayout::kAsStored;
}

void regroup_in_place(WeightMatrix& w, uint8_t* data, WeightLayout layout) {
  const int64_t nb = w.cols / traits_of(w.type).block_elements;
  // Units rewritten on their own: a row, or a run of 8 rows.
  const int64_t unit_rows = layout == WeightLayout::kInterleaved8 ? kInterleavedRows : 1;
  const uint64_t unit_bytes = static_cast<uint64_t>(unit_rows) * w.row_bytes;
  auto rewrite_units = [&](int64_t begin, int64_t end) {
    std::vector<uint8_t> stored(unit_bytes);
    for (int64_t u = begin; u < end; ++u) {
      uint8_t* at = data + static_cast<uint64_t>(u) * unit_bytes;
      std::memcpy(stored.data(), at, unit_bytes);
      if (layout == WeightLayout::kInterleaved8) {
        interleave_rows(w.type, stored.data(), w.row_bytes, nb, at);
      } else {
        q4_0_regroup_row(reinterpret_cast<const block_q4_0*>(stored.data()), nb, at);
      }
    }
  };
  // A thread per core: regrouping rewrites ~14 GB/s on two cores here, interleaving ~3.5 GB/s
  // (4-byte pieces), so an 8B model's 4.2 GB adds ~0.3 or ~1.2 s to its load.
  constexpr uint64_t kBytesPerThread = uint64_t{8} << 20;
  const int64_t units = w.rows / unit_rows;
  const auto bytes = static_cast<uint64_t>(w.rows) * w.row_bytes;
  const int64_t cores = std::max<int64_t>(1, std::thread::hardware_concurrency());
  const int64_t n_threads =
      std::clamp<int64_t>(static_cast<int64_t>(bytes / kBytesPerThread), 1, cores);
  std::vector<std::thread> threads;
  for (int64_t t = 1; t < n_threads; ++t)
    threads.emplace_back(rewrite_units, units * t / n_threads, units * (t + 1) / n_threads);
  rewrite_units(0, units / n_threads);
  for (auto& t : threads) t.join();
  w.data = data;
  w.layout = layout;
}

void restore_rows(const WeightMatrix& w, int64_t r0, int64_t n, uint8_t* out) {
  const int64_t nb = w.cols / traits_of(w.type).block_elements;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t r = r0 + k;
    uint8_t* row = out + static_cast<uint64_t>(k) * w.row_bytes;
    switch (w.layout) {
      case WeightLayout::kAsStored:
        std::memcpy(row, w.row(r), w.row_bytes);
        break;
      case WeightLayout::kQ4_0Groups:
        q4_0_restore_row(w.row(r), nb, reinterpret_cast<block_q4_0*>(row));
        break;
      case WeightLayout::kInterleaved8:
        restore_interleaved_row(w.type, w.row(r - r % kInterleavedRows), nb,
                                static_cast<int>(r % kInterleavedRows), row);
        break;
    }
  }
}

const char* layout_name(WeightLayout layout) {
  switch (layout) {
    case WeightLayout::kQ4_0Groups:
      return "regrouped";
    case WeightLayout::kInterleaved8:
      return "interleaved";
    case WeightLayout::kAsStored:
      break;
  }
  return "";
}

}  // namespace infera
