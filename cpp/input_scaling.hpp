// The input scaling of a fitted StandardScaler, applied by prediction as it reads X:
// x ← (x − mean) / scale, entry by entry, the same two IEEE operations as NumPy's `(X - mean) / scale`
// in the same dtype, so a prediction has the same bits as with X scaled first, without the two
// passes over X and the copy that scaling it in Python costs a served model's one-row call.
#pragma once

#include <Eigen/Core>

#include "types.hpp"

namespace fnn {

template <class S>
struct InputScaling {
  const S* mean = nullptr;  // null: inputs are used as they are
  const S* scale = nullptr;

  explicit operator bool() const { return mean != nullptr; }

  // The n inputs at `from`, scaled, into `to`.
  void apply(const S* from, S* to, Index n) const {
    using Row = Eigen::Map<const Eigen::Array<S, 1, Eigen::Dynamic>>;
    Eigen::Map<Eigen::Array<S, 1, Eigen::Dynamic>>(to, n) = (Row(from, n) - Row(mean, n)) / Row(scale, n);
  }

  // Every row of a row-major block, in place.
  template <class Block>
  void apply_to_rows(Block&& rows) const {
    for (Index r = 0; r < rows.rows(); ++r) apply(&rows(r, 0), &rows(r, 0), rows.cols());
  }
};

}  // namespace fnn
