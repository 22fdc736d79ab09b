// Buffers for a forward and backward pass over up to `capacity` samples, allocated once per
// call from Python and reused for every step, so the training loop itself never allocates.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "types.hpp"

namespace fnn {

template <class S>
struct Workspace {
  Index capacity = 0;
  RowMatrix<S> input;                         // a⁽⁰⁾ = x, gathered in sample order
  RowMatrix<S> target;                        // y (one-hot for softmax)
  RowVector<S> sample_weight;                 // w of each row, when the data are weighted
  std::vector<RowMatrix<S>> net_input;        // z⁽ˡ⁾
  std::vector<RowMatrix<S>> activation;       // a⁽ˡ⁾; the last one is ŷ
  std::vector<RowMatrix<S>> delta;            // δ⁽ˡ⁾ = ∂L/∂z⁽ˡ⁾
  std::vector<RowMatrix<S>> grad_activation;  // ∂L/∂a⁽ˡ⁾ for hidden layers
  std::vector<RowVector<S>> grad_slopes;      // ∂L/∂γ for PReLU layers
  RowVector<S> scratch;                       // column sums, as wide as the widest layer

  Workspace(Index capacity_, Index inputs, Index outputs, const std::vector<Index>& net_inputs,
            const std::vector<Index>& units)
      : capacity(capacity_), input(capacity_, inputs), target(capacity_, outputs), sample_weight(capacity_) {
    Index widest = 1;
    for (Index w : net_inputs) widest = std::max(widest, w);
    scratch.resize(widest);
    for (std::size_t l = 0; l < net_inputs.size(); ++l) {
      net_input.emplace_back(capacity_, net_inputs[l]);
      activation.emplace_back(capacity_, units[l]);
      delta.emplace_back(capacity_, net_inputs[l]);
      grad_activation.emplace_back(capacity_, units[l]);
      grad_slopes.emplace_back(units[l]);
    }
  }
};

// Copies the rows `order[first … first+rows)` of X, T and the sample weights into the workspace's
// rows `to …` (identity order if null; T and the weights only when given; X unless `inputs` is
// false, for kernels that read it elsewhere): every kernel working on a Workspace reads shuffled
// or chosen rows through this.
template <class S>
void gather(Workspace<S>& ws, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>* T, const S* sample_weight,
            const std::int64_t* order, Index first, Index rows, Index to = 0, bool inputs = true) {
  for (Index r = 0; r < rows; ++r) {
    const Index n = order ? static_cast<Index>(order[first + r]) : first + r;
    if (inputs) ws.input.row(to + r) = X.row(n);
    if (T) ws.target.row(to + r) = T->row(n);
    if (sample_weight) ws.sample_weight(to + r) = sample_weight[n];
  }
}

}  // namespace fnn
