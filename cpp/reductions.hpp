// Column sums over a batch, in a fixed order. Eigen's colwise().sum() switches between pairwise
// and sequential summation depending on the destination's alignment, which would make results
// depend on where NumPy happened to allocate an array, and break bit-for-bit reproducibility.
#pragma once

#include "types.hpp"

namespace fnn {

// dst(j) += scale · Σ_r m(r, j), summing r = 0, 1, … in order. Rows are added whole into
// `scratch` (at least m.cols() long), so memory is read in its row-major order.
template <class M, class V, class W>
void add_column_sums(const M& m, typename M::Scalar scale, V&& dst, W& scratch) {
  auto total = scratch.head(m.cols());
  total = m.row(0);
  for (Index r = 1; r < m.rows(); ++r) total += m.row(r);
  dst += scale * total;
}

}  // namespace fnn
