// Output layers and their losses (4.36)-(4.38), each paired with its canonical link so that the
// output error term is simply δ⁽ᴸ⁾ = ŷ − y, with no division by a probability that may be 0.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "types.hpp"
#include "vector_kernels.hpp"

namespace fnn {

enum class Output { softmax, logistic, identity };

// Softmax of every row, for prediction: the exponentials are taken over the whole contiguous
// block in one vectorised pass (faster than row by row on narrow outputs).
template <class S, class Z, class Y>
void softmax_whole_block(const Z& z, Y& y_hat) {
  for (Index r = 0; r < z.rows(); ++r) {
    const S top = z.row(r).maxCoeff();  // exact: the order of a maximum does not matter
    for (Index c = 0; c < z.cols(); ++c) y_hat(r, c) = z(r, c) - top;
  }
  y_hat = y_hat.array().exp().matrix();
  for (Index r = 0; r < z.rows(); ++r) {
    S sum = 0;
    for (Index c = 0; c < z.cols(); ++c) sum += y_hat(r, c);  // in column order, for every row alike
    for (Index c = 0; c < z.cols(); ++c) y_hat(r, c) /= sum;
  }
}

// ŷ from the output net input z⁽ᴸ⁾, row by row. Softmax subtracts the row maximum first.
// `for_prediction` computes softmax with softmax_whole_block.
template <class S, class Z, class Y>
void output_activation(Output kind, const Z& z, Y& y_hat, bool for_prediction = false) {
  switch (kind) {
    case Output::softmax:
      if (for_prediction) {
        softmax_whole_block<S>(z, y_hat);
        break;
      }
      for (Index r = 0; r < z.rows(); ++r) {
        const S top = z.row(r).maxCoeff();
        y_hat.row(r) = (z.row(r).array() - top).exp();
        y_hat.row(r) /= y_hat.row(r).sum();
      }
      break;
    case Output::logistic: y_hat = (S(1) + (-z.array()).exp()).inverse().matrix(); break;
    case Output::identity: y_hat = z; break;
  }
}

// Loss of each row, summed; writes δ⁽ᴸ⁾ = ∂L/∂z⁽ᴸ⁾ = ŷ − y into `delta` when it is given.
//   softmax + cross-entropy (4.38): L = −yᵀ log softmax(z) = logsumexp(z)·Σy − yᵀz
//   logistic + binary cross-entropy (4.36): L = Σ max(z, 0) − yz + log(1 + exp(−|z|))
//   identity + squared error: L = ½‖y − z‖²
template <class S, class Z, class T, class Y, class D>
S output_loss(Output kind, const Z& z, const T& target, const Y& y_hat, D* delta) {
  S total = 0;
  switch (kind) {
    case Output::softmax:
      for (Index r = 0; r < z.rows(); ++r) {
        const S top = z.row(r).maxCoeff();
        const S log_sum = top + std::log((z.row(r).array() - top).exp().sum());
        total += log_sum * target.row(r).sum() - target.row(r).dot(z.row(r));
      }
      if (delta) {
        for (Index r = 0; r < z.rows(); ++r) delta->row(r) = y_hat.row(r) * target.row(r).sum() - target.row(r);
      }
      break;
    case Output::logistic:
      total = (z.array().cwiseMax(S(0)) - z.array() * target.array() + (-z.array().abs()).exp().log1p()).sum();
      if (delta) *delta = y_hat - target;
      break;
    case Output::identity:
      total = S(0.5) * (z - target).squaredNorm();
      if (delta) *delta = z - target;
      break;
  }
  return total;
}

// The loss weighted per row, Σ_r w_r·L_r, with δ_r = w_r(ŷ_r − y_r): a sample weight scales the
// sample's loss and so, by linearity of backpropagation, every gradient it contributes.
// `weight` is null for unweighted data, which takes the whole-block path above.
template <class S, class Z, class T, class Y, class D>
S weighted_output_loss(Output kind, const Z& z, const T& target, const Y& y_hat, D* delta, const S* weight) {
  if (!weight) return output_loss<S>(kind, z, target, y_hat, delta);
  S total = 0;
  for (Index r = 0; r < z.rows(); ++r) {
    if (delta) {
      auto d = delta->row(r);
      total += weight[r] * output_loss<S>(kind, z.row(r), target.row(r), y_hat.row(r), &d);
      d *= weight[r];
    } else {
      using RowDelta = decltype(delta->row(r));
      total += weight[r] * output_loss<S>(kind, z.row(r), target.row(r), y_hat.row(r), static_cast<RowDelta*>(nullptr));
    }
  }
  return total;
}

// ŷ of one sample for prediction (SampleForward) from its `units` net inputs z, (4.36)/(4.37) or
// the identity. Outputs of 4 units or more go in whole packets (softmax's lanes past `units`
// masked to −∞), so that their exponentials take Eigen's vectorised exp: a 10-unit softmax took a
// libm call per entry (a sixth of a 64-100-10 network's time). Fewer units take one libm call
// each, cheaper than a packet's exp (measured with AVX2). Every sample of a network takes the
// same path. z and y_hat have room for whole packets beyond `units`.
template <class S>
void predict_output_sample(Output kind, const S* z, Index units, S* y_hat) {
  using namespace simd;
  constexpr bool packets = has_lane_masks<S>;
  if (kind == Output::identity) {
    for (Index c = 0; c < units; ++c) y_hat[c] = z[c];
  } else if (!packets || units < 4) {
    if (kind == Output::logistic) {
      for (Index c = 0; c < units; ++c) y_hat[c] = S(1) / (S(1) + std::exp(-z[c]));
      return;
    }
    S top = z[0], sum = 0;
    for (Index c = 1; c < units; ++c) top = std::max(top, z[c]);
    for (Index c = 0; c < units; ++c) sum += y_hat[c] = std::exp(z[c] - top);
    for (Index c = 0; c < units; ++c) y_hat[c] /= sum;
  } else if (kind == Output::logistic) {
    const Packet<S> one = pset1<Packet<S>>(S(1));
    for (Index c = 0; c < units; c += width<S>) {
      const Packet<S> e = Eigen::internal::pexp(Eigen::internal::pnegate(ploadu<Packet<S>>(z + c)));
      pstoreu(y_hat + c, pdiv(one, padd(one, e)));
    }
  } else if constexpr (packets) {  // softmax
    // z's packets read whole (their buffer is padded), the last one's lanes past `units` set to
    // −∞: no scalar tail, no store of single entries read back as a packet.
    using L = row_sums_detail::Lanes<S>;
    const Index whole = units / width<S> * width<S>;
    const S minus_infinity = -std::numeric_limits<S>::infinity();
    auto packet = [&](Index c) {
      const Packet<S> p = ploadu<Packet<S>>(z + c);
      return c < whole ? p : L::first_or(p, units - c, minus_infinity);
    };
    Packet<S> top = pset1<Packet<S>>(minus_infinity);  // (exact: the order of a maximum does not matter)
    for (Index c = 0; c < units; c += width<S>) top = Eigen::internal::pmax(top, packet(c));
    const Packet<S> shift = pset1<Packet<S>>(Eigen::internal::predux_max(top));
    Packet<S> sum = pset1<Packet<S>>(S(0));
    for (Index c = 0; c < units; c += width<S>) {
      const Packet<S> e = Eigen::internal::pexp(psub(packet(c), shift));
      pstoreu(y_hat + c, e);
      sum = padd(sum, e);
    }
    const Packet<S> total = pset1<Packet<S>>(predux(sum));
    for (Index c = 0; c < units; c += width<S>) pstoreu(y_hat + c, pdiv(ploadu<Packet<S>>(y_hat + c), total));
  }
}

// One sample through the output layer in a single pass: ŷ, δ⁽ᴸ⁾ = ŷ − y and the loss, with the
// softmax's exponentials computed once (the per-sample kernel's version of the two functions
// above). z, y_hat and delta hold `units` entries and have room for whole packets beyond them.
template <class S>
S output_sample(Output kind, const S* z, const S* target, Index units, S* y_hat, S* delta) {
  if (kind == Output::softmax && packet_softmax_fits<S>(units))
    return softmax_cross_entropy_packet(z, units, target, delta);
  using ConstRow = Eigen::Map<const RowVector<S>>;
  using Row = Eigen::Map<RowVector<S>>;
  const ConstRow z_row(z, units), target_row(target, units);
  Row y_hat_row(y_hat, units), delta_row(delta, units);
  if (kind != Output::softmax) {
    output_activation<S>(kind, z_row, y_hat_row);
    return output_loss<S>(kind, z_row, target_row, y_hat_row, &delta_row);
  }
  // Whole-vector operations only: reading single entries right after a vector store of the same
  // buffer stalls on store forwarding.
  const S top = z_row.maxCoeff();
  const S sum = exp_shifted(z, top, y_hat, units);
  y_hat_row *= S(1) / sum;
  const S target_sum = target_row.sum();
  delta_row = y_hat_row * target_sum - target_row;
  return (top + std::log(sum)) * target_sum - target_row.dot(z_row);
}

}  // namespace fnn
