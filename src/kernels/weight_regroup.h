#pragma once
// Rewriting weight rows at load into a layout the kernels of this CPU read faster (WeightLayout
// in weight_matrix.h). matmul gives the same bits on every layout, whatever ISA is selected later.
#include <cstdint>

#include "kernels/weight_matrix.h"

namespace infera {

// The layout this CPU's kernels multiply w's rows fastest in; kAsStored where none pays or w is
// already rewritten. With AVX2: Q4_0 … Q8_0 rows interleaved 8 at a time (a multiple of 8 rows;
// two cores from memory, of the read probe: Q4_1 3072 × 576 60 → 77 %, 4864 × 896 53 → 85 %;
// SmolLM2 tg 155 → 192 t/s, bench/RESULTS.md), else Q4_0 rows of at least one whole group
// regrouped. With AVX-512: Q4_0 rows regrouped (the decode kernel from ~20 to ~26 GB/s on one core
// from L2, ~16.5 to ~18 GB/s on two from memory).
WeightLayout layout_that_pays(const WeightMatrix& w);

// Rewrites the rows of w, as stored, in place into `layout` (one layout_that_pays gives for w):
// `data` is w.data, writable. Afterwards w reads from `data` with that layout.
void regroup_in_place(WeightMatrix& w, uint8_t* data, WeightLayout layout);

// Rows [r0, r0 + n) of w as stored, whatever its layout, into `out` (n · w.row_bytes bytes).
void restore_rows(const WeightMatrix& w, int64_t r0, int64_t n, uint8_t* out);

// "regrouped", "interleaved" or "" (as stored), for reports.
const char* layout_name(WeightLayout layout);

}  // namespace infera
