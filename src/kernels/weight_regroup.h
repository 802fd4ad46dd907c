#pragma once
// Regrouping weight rows at load into a layout a kernel of this CPU reads faster
// (WeightLayout in weight_matrix.h). matmul gives the same bits on every layout.
#include <cstdint>

#include "kernels/weight_matrix.h"

namespace infera {

// Whether regrouping w's rows (WeightLayout::kQ4_0Groups) speeds up its products on this CPU: Q4_0
// rows of at least one whole group, with the AVX-512 kernels selected. Measured: the decode kernel
// from ~20 to ~26 GB/s on one core from L2, ~16.5 to ~18 GB/s on two from memory
// (bench/RESULTS.md). matmul gives the same bits on either layout, whatever the ISA selected later.
bool regrouping_pays(const WeightMatrix& w);

// Regroups the rows of w, as stored, in place: `data` is w.data, writable. Afterwards w reads
// from `data` with layout kQ4_0Groups.
void regroup_in_place(WeightMatrix& w, uint8_t* data);

}  // namespace infera
