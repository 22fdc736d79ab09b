// The feedforward network of section 4.3: forward propagation (4.28)-(4.32) and
// backpropagation (4.59)-(4.62), on a block of samples stored one per row.
//
// Row layout: for a batch A⁽ˡ⁻¹⁾ of shape (B, m⁽ˡ⁻¹⁾), the net input is Z⁽ˡ⁾ = A⁽ˡ⁻¹⁾ W⁽ˡ⁾ᵀ + 1 b⁽ˡ⁾ᵀ,
// i.e. each row is the chapter's z = W a + b for one sample.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "activations.hpp"
#include "gemm.hpp"
#include "reductions.hpp"
#include "losses.hpp"
#include "types.hpp"
#include "workspace.hpp"

namespace fnn {

// One layer's parameters, viewed in place in memory that Python owns.
// A maxout layer of m units with K pieces keeps its weights as (m, K, m⁽ˡ⁻¹⁾), seen here as
// (m·K, m⁽ˡ⁻¹⁾), so unit i's K net inputs (4.26) are the contiguous entries i·K … i·K+K−1.
template <class S>
struct Layer {
  Activation activation = Activation::identity;
  double gamma = 0;      // Leaky ReLU / ELU hyper-parameter γ
  Index pieces = 1;      // K of maxout, 1 otherwise
  Index fan_in = 0;      // m⁽ˡ⁻¹⁾
  Index units = 0;       // m⁽ˡ⁾
  S* weights = nullptr;  // (units·pieces, fan_in)
  S* biases = nullptr;   // (units·pieces)
  S* slopes = nullptr;   // PReLU γᵢ: `units` of them, or 1 shared by the layer
  Index n_slopes = 0;

  Index net_inputs() const { return units * pieces; }
  MatrixMap<S> W() const { return MatrixMap<S>(weights, net_inputs(), fan_in); }
  RowVectorMap<S> b() const { return RowVectorMap<S>(biases, net_inputs()); }
  RowVectorMap<S> gamma_i() const { return RowVectorMap<S>(slopes, n_slopes); }
};

// a = max(0, z) + γ ⊙ min(0, z) (4.22) on the block of a PReLU layer's units that starts at unit
// `first`, with their own slopes or the layer's shared one (no temporary: this runs every step).
template <class S, class Z, class A>
void prelu_block(const Layer<S>& layer, Index first, const Z& z, A&& a) {
  if (layer.n_slopes == 1)
    a = z.cwiseMax(S(0)) + layer.slopes[0] * z.cwiseMin(S(0));
  else
    a = z.cwiseMax(S(0)) +
        (z.cwiseMin(S(0)).array().rowwise() * RowVectorMap<S>(layer.slopes + first, a.cols()).array()).matrix();
}

// δ = ∂L/∂a ⊙ (1 if z > 0, else γ) on the same block.
template <class S, class Z, class G, class D>
void prelu_delta_block(const Layer<S>& layer, Index first, const Z& z, const G& g, D&& d) {
  const auto positive = (z.array() > S(0)).template cast<S>();
  const auto rest = (z.array() <= S(0)).template cast<S>();
  if (layer.n_slopes == 1)
    d = (g.array() * (positive + layer.slopes[0] * rest)).matrix();
  else
    d = (g.array() * (positive + rest.rowwise() * RowVectorMap<S>(layer.slopes + first, d.cols()).array())).matrix();
}

// The winning piece of maxout unit i (4.27) among its K net inputs z[i·K … i·K+K−1]: the first
// one on ties, as Eigen's maxCoeff, so every kernel sends δ to the same piece.
template <class S>
Index maxout_winner(const S* z, Index K) {
  Index k = 0;
  for (Index j = 1; j < K; ++j)
    if (z[j] > z[k]) k = j;
  return k;
}

// a_i = max_k z_{i,k} (4.27) on a block of rows of a maxout layer's units, z holding their K net
// inputs each: the winner's value, so the forward pass and δ's route agree on every tie.
template <class Z, class A>
void maxout_block(Index K, const Z& z, A&& a) {
  for (Index r = 0; r < a.rows(); ++r)
    for (Index i = 0; i < a.cols(); ++i) a(r, i) = z(r, i * K + maxout_winner(&z(r, i * K), K));
}

// a = f(z) (4.31) on a block of a hidden layer: some rows (samples) × the units from unit `first`
// on, z holding their net inputs (K per unit for maxout). Every forward pass ends its layer here.
template <class S, class Z, class A>
void activate(const Layer<S>& layer, Index first, const Z& z, A&& a) {
  switch (layer.activation) {
    case Activation::prelu: return prelu_block(layer, first, z, a);
    case Activation::maxout: return maxout_block(layer.pieces, z, a);
    default:
      with_elementwise(layer.activation, [&](auto f) { a = decltype(f)::value(z.array(), layer.gamma).matrix(); });
  }
}

// z = a Wᵀ + b (4.30) for the net inputs [first, first + z.cols()) of a layer, with W⁽ˡ⁾ taken as
// `scale`·W (the lazily decayed W⁽¹⁾ of plain SGD). The bias rows go in first and the product adds
// to them (β = 1), which replaces both BLAS's zeroing of z and a separate pass adding b.
template <class S, class A, class Z>
void net_input(const Layer<S>& layer, Index first, const A& a, Z&& z, S scale = S(1)) {
  z.rowwise() = layer.b().segment(first, z.cols());
  gemm<S>(false, true, scale, a, layer.W().middleRows(first, z.cols()), S(1), z);
}

struct EpochResult {
  double loss_sum = 0;  // Σ of the per-sample loss, each measured just before its update
  Index samples = 0;    // samples whose update was applied
  Index steps = 0;      // updates applied (samples per update: the batch size)
  bool diverged = false;
  bool interrupted = false;
};

template <class S>
struct Network {
  std::vector<Layer<S>> layers;  // layers[l-1] is the chapter's layer l
  Output output = Output::softmax;

  Index inputs() const { return layers.front().fan_in; }
  Index outputs() const { return layers.back().units; }

  std::vector<Index> net_input_widths() const {
    std::vector<Index> w;
    for (const auto& layer : layers) w.push_back(layer.net_inputs());
    return w;
  }
  std::vector<Index> activation_widths() const {
    std::vector<Index> w;
    for (const auto& layer : layers) w.push_back(layer.units);
    return w;
  }

  Workspace<S> make_workspace(Index capacity) const {
    return Workspace<S>(capacity, inputs(), outputs(), net_input_widths(), activation_widths());
  }

  // Forward pass for the first `rows` rows of ws.input: fills z⁽ˡ⁾, a⁽ˡ⁾ and ŷ (`for_prediction`:
  // a softmax output's exponentials in one pass over the block, see softmax_whole_block).
  void forward(Workspace<S>& ws, Index rows, bool for_prediction = false) const {
    forward_from(ws.input.topRows(rows), ws, for_prediction);
  }

  // The same from a⁽⁰⁾ = `input` (row-major, rows × m⁽⁰⁾) wherever it lies: prediction reads the
  // rows of X in place instead of copying them into ws.input first.
  template <class Input>
  void forward_from(const Input& input, Workspace<S>& ws, bool for_prediction = false) const {
    const Index rows = input.rows();
    for (std::size_t l = 0; l < layers.size(); ++l) {
      auto z = ws.net_input[l].topRows(rows);
      if (l == 0)
        net_input(layers[l], 0, input, z);
      else
        net_input(layers[l], 0, ws.activation[l - 1].topRows(rows), z);
      if (l + 1 < layers.size()) activate(layers[l], 0, z, ws.activation[l].topRows(rows));
    }
    auto y_hat = ws.activation.back().topRows(rows);
    output_activation<S>(output, ws.net_input.back().topRows(rows), y_hat, for_prediction);
  }

  // Sum of the loss over the rows (weighted by ws.sample_weight when `weighted`); with
  // `with_delta`, also δ⁽ᴸ⁾ into ws.delta.back().
  S loss(Workspace<S>& ws, Index rows, bool with_delta, bool weighted = false) const {
    auto z = ws.net_input.back().topRows(rows);
    auto y_hat = ws.activation.back().topRows(rows);
    auto target = ws.target.topRows(rows);
    auto delta = ws.delta.back().topRows(rows);
    const S* weight = weighted ? ws.sample_weight.data() : nullptr;
    if (!with_delta)
      return weighted_output_loss<S>(output, z, target, y_hat, static_cast<decltype(delta)*>(nullptr), weight);
    return weighted_output_loss<S>(output, z, target, y_hat, &delta, weight);
  }

  // Backpropagation from δ⁽ᴸ⁾ (already in ws.delta.back()) down to layer 1.
  // For each layer l, from L down, the visitor receives (l, δ⁽ˡ⁾, a⁽ˡ⁻¹⁾) after δ⁽ˡ⁻¹⁾ has been
  // computed from the current W⁽ˡ⁾, so it may update W⁽ˡ⁾ in place: every gradient of the step
  // is the gradient at the weights the forward pass used, as in Algorithm 4.1.
  template <class Visitor>
  void backward(Workspace<S>& ws, Index rows, Visitor& visit) const {
    for (std::size_t l = layers.size(); l-- > 0;) {
      const Layer<S>& layer = layers[l];
      auto delta = ws.delta[l].topRows(rows);
      auto a_prev = l == 0 ? ws.input.topRows(rows) : ws.activation[l - 1].topRows(rows);
      if (l > 0) {
        // (4.59): ∂L/∂a⁽ˡ⁻¹⁾ = W⁽ˡ⁾ᵀ δ⁽ˡ⁾, row-wise; then δ⁽ˡ⁻¹⁾ = f'(z⁽ˡ⁻¹⁾) ⊙ that.
        auto grad_a = ws.grad_activation[l - 1].topRows(rows);
        gemm<S>(false, false, S(1), delta, layer.W(), S(0), grad_a);
        backprop_activation(layers[l - 1], ws, l - 1, rows, visit);
      }
      visit.layer(l, layer, delta, a_prev, ws.scratch);
    }
  }

  // δ = f'(z) ⊙ ∂L/∂a (4.59) for an element-wise activation, on any block of a layer.
  template <class Z, class A, class G, class D>
  static void elementwise_delta(const Layer<S>& layer, const Z& z, const A& a, const G& grad_a, D&& delta) {
    with_elementwise(layer.activation, [&](auto f) {
      delta = (decltype(f)::derivative(z.array(), a.array(), layer.gamma) * grad_a.array()).matrix();
    });
  }

 private:
  // δ⁽ˡ⁾ from ∂L/∂a⁽ˡ⁾ for hidden layer l, and ∂L/∂γ for PReLU, handed to the visitor.
  template <class Visitor>
  static void backprop_activation(const Layer<S>& layer, Workspace<S>& ws, std::size_t l, Index rows, Visitor& visit) {
    auto grad_a = ws.grad_activation[l].topRows(rows);
    auto z = ws.net_input[l].topRows(rows);
    auto delta = ws.delta[l].topRows(rows);
    switch (layer.activation) {
      case Activation::prelu: {
        // ∂a/∂γᵢ = min(0, z_i): summed over the rows (and over the units when γ is shared).
        auto grad_slopes = ws.grad_slopes[l].head(layer.n_slopes);
        if (layer.n_slopes == 1) {
          grad_slopes(0) = grad_a.cwiseProduct(z.cwiseMin(S(0))).sum();
          const S g = layer.slopes[0];
          delta = ((z.array() > S(0)).template cast<S>() + g * (z.array() <= S(0)).template cast<S>())
                      .matrix()
                      .cwiseProduct(grad_a);
        } else {
          grad_slopes.setZero();
          add_column_sums(grad_a.cwiseProduct(z.cwiseMin(S(0))), S(1), grad_slopes, ws.scratch);
          delta = grad_a;
          delta.array() *= (z.array() > S(0)).template cast<S>() +
                           ((z.array() <= S(0)).template cast<S>().rowwise() * layer.gamma_i().array());
        }
        visit.slopes(l, layer, grad_slopes);
        return;
      }
      case Activation::maxout: {
        // The error flows only to the piece that won the max (first one on ties).
        delta.setZero();
        for (Index r = 0; r < rows; ++r)
          for (Index i = 0; i < layer.units; ++i) {
            const Index k = maxout_winner(&z(r, i * layer.pieces), layer.pieces);
            delta(r, i * layer.pieces + k) = grad_a(r, i);
          }
        return;
      }
      default: {
        elementwise_delta(layer, z, ws.activation[l].topRows(rows), grad_a, delta);
      }
    }
  }
};

}  // namespace fnn
