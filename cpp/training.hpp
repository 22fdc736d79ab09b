// The loops that Python calls once per epoch (or once per evaluation): Algorithm 4.1's SGD epoch,
// the risk (4.39) and its gradient, and inference. All work on fixed-size chunks of rows through
// one Workspace, so memory stays bounded however many samples there are.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>

#include "network.hpp"
#include "sgd_per_sample.hpp"

namespace fnn {

// Copies the rows `order[first … first+rows)` of X and T into the workspace (identity order if null).
template <class S>
void gather(Workspace<S>& ws, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>* T, const std::int64_t* order,
            Index first, Index rows) {
  for (Index r = 0; r < rows; ++r) {
    const Index n = order ? static_cast<Index>(order[first + r]) : first + r;
    ws.input.row(r) = X.row(n);
    if (T) ws.target.row(r) = T->row(n);
  }
}

// Algorithm 4.1, lines 10-11, for a batch of B rows (B = 1 is the chapter's per-sample SGD):
// W ← W − α(δᵀa/B + λW), b ← b − α·Σδ/B, γ ← γ − α·∂L/∂γ/B. Applied without a gradient temporary.
template <class S>
struct SgdStep {
  S learning_rate;
  S l2;
  Index rows;

  template <class Delta, class APrev>
  void layer(std::size_t, const Layer<S>& layer, const Delta& delta, const APrev& a_prev) {
    auto W = layer.W();
    if (l2 != S(0)) W *= S(1) - learning_rate * l2;
    const S step = learning_rate / static_cast<S>(rows);
    W.noalias() -= (step * delta.transpose()) * a_prev;
    add_column_sums(delta, -step, layer.b());
  }
  template <class Grad>
  void slopes(std::size_t, const Layer<S>& layer, const Grad& grad) {
    auto gamma = layer.gamma_i();
    gamma.noalias() -= (learning_rate / static_cast<S>(rows)) * grad;
  }
};

// Sums (4.61), (4.62) and the PReLU slope gradient over rows into arrays shaped like the parameters.
template <class S>
struct GradientSum {
  const std::vector<Layer<S>>& grads;

  template <class Delta, class APrev>
  void layer(std::size_t l, const Layer<S>&, const Delta& delta, const APrev& a_prev) {
    grads[l].W().noalias() += delta.transpose() * a_prev;
    add_column_sums(delta, typename Delta::Scalar(1), grads[l].b());
  }
  template <class Grad>
  void slopes(std::size_t l, const Layer<S>&, const Grad& grad) {
    grads[l].gamma_i().noalias() += grad;
  }
};

// One epoch of SGD over the samples in `order`. `should_stop` is polled about every 50 ms.
template <class S, class StopCheck>
EpochResult train_epoch(const Network<S>& net, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T,
                        const std::int64_t* order, Index n, S learning_rate, S l2, Index batch, int threads,
                        Workspace<S>& ws, StopCheck&& should_stop) {
  if (batch == 1 && per_sample_supported(net))
    return train_epoch_per_sample(net, X, T, order, n, learning_rate, l2, per_sample_threads(net, threads),
                                  should_stop);
  using clock = std::chrono::steady_clock;
  EpochResult result;
  auto next_check = clock::now() + std::chrono::milliseconds(50);
  Index step = 0;
  for (Index first = 0; first < n; first += batch, ++step) {
    const Index rows = std::min(batch, n - first);
    gather(ws, X, &T, order, first, rows);
    net.forward(ws, rows);
    const S loss = net.loss(ws, rows, true);
    if (!std::isfinite(loss)) {
      result.diverged = true;
      return result;
    }
    SgdStep<S> sgd{learning_rate, l2, rows};
    net.backward(ws, rows, sgd);
    result.loss_sum += static_cast<double>(loss);
    result.samples += rows;
    if ((step & 63) == 63 && clock::now() >= next_check) {
      if (should_stop()) {
        result.interrupted = true;
        return result;
      }
      next_check = clock::now() + std::chrono::milliseconds(50);
    }
  }
  return result;
}

// Σ of the loss over all rows (no regularisation term), in chunks of the workspace's capacity.
template <class S>
double loss_sum(const Network<S>& net, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T, Workspace<S>& ws) {
  double total = 0;
  for (Index first = 0; first < X.rows(); first += ws.capacity) {
    const Index rows = std::min(ws.capacity, X.rows() - first);
    gather(ws, X, &T, nullptr, first, rows);
    net.forward(ws, rows);
    total += static_cast<double>(net.loss(ws, rows, false));
  }
  return total;
}

// Σ of the loss and, into `grads` (zeroed first), Σ of its gradient over all rows.
template <class S>
double loss_and_gradient_sums(const Network<S>& net, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T,
                              Workspace<S>& ws, const std::vector<Layer<S>>& grads) {
  for (const auto& g : grads) {
    g.W().setZero();
    g.b().setZero();
    if (g.slopes) g.gamma_i().setZero();
  }
  GradientSum<S> sum{grads};
  double total = 0;
  for (Index first = 0; first < X.rows(); first += ws.capacity) {
    const Index rows = std::min(ws.capacity, X.rows() - first);
    gather(ws, X, &T, nullptr, first, rows);
    net.forward(ws, rows);
    total += static_cast<double>(net.loss(ws, rows, true));
    net.backward(ws, rows, sum);
  }
  return total;
}

// ŷ = a⁽ᴸ⁾ for every row of X, written into `out`.
template <class S>
void predict(const Network<S>& net, const ConstMatrixMap<S>& X, MatrixMap<S>& out, Workspace<S>& ws) {
  for (Index first = 0; first < X.rows(); first += ws.capacity) {
    const Index rows = std::min(ws.capacity, X.rows() - first);
    gather<S>(ws, X, nullptr, nullptr, first, rows);
    net.forward(ws, rows);
    out.middleRows(first, rows) = ws.activation.back().topRows(rows);
  }
}

}  // namespace fnn
