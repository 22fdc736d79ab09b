// Column sums over a batch, in a fixed order. Eigen's colwise().sum() switches between pairwise
// and sequential summation depending on the destination's alignment, which would make results
// depend on where NumPy happened to allocate an array, and break bit-for-bit reproducibility.
#pragma once

#include "types.hpp"

namespace fnn {

// dst(j) += scale · Σ_r m(r, j), summing r = 0, 1, … in order; allocates nothing.
template <class M, class V>
void add_column_sums(const M& m, typename M::Scalar scale, V&& dst) {
  using S = typename M::Scalar;
  for (Index j = 0; j < m.cols(); ++j) {
    S total = 0;
    for (Index r = 0; r < m.rows(); ++r) total += m(r, j);
    dst(j) += scale * total;
  }
}

}  // namespace fnn
