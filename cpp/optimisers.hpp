// The update rules of the training kernels: plain SGD (Algorithm 4.1, lines 10-11) and the
// optimisers of the book's section 7.2, in PyTorch's formulation (torch.optim), so that a model
// moves between the two libraries with the same meaning of every hyper-parameter:
//   momentum   v ← μv + g,  w ← w − α·v            (Nesterov: w ← w − α·(g + μv))
//   Adam       m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  w ← w − (α/c₁)·m / (√v/√c₂ + ε),
//              c₁ = 1 − β₁ᵗ, c₂ = 1 − β₂ᵗ;  AdamW: w ← (1 − αλ)w first, λ not in g
//   AdaGrad    v ← v + g²,  w ← w − α·g / (√v + ε)
//   RMSprop    v ← ρv + (1−ρ)g²,  w ← w − α·g / (√v + ε)
// where g = ∂L/∂w + λw for weights (the L2 term of (4.39)) and ∂L/∂b for biases, which are not
// regularised. Each rule is applied element by element, in Eigen packets or one scalar at a time,
// with the same operations either way, so every weight is computed alike on any thread count.
//
// The kernels take a rule as a template parameter: plain SGD keeps its own fused and lazily
// scaled code (SgdRule::plain), every other rule goes through step(), so a new optimiser is one
// struct here plus its name in the bindings.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "types.hpp"
#include "vector_kernels.hpp"

namespace fnn {

enum class Optimiser { sgd, momentum, nesterov, adam, adamw, adagrad, rmsprop };

// The optimiser and its hyper-parameters as Python sets them, and the updates applied so far.
struct OptimiserSettings {
  Optimiser kind = Optimiser::sgd;
  double momentum = 0.9;  // μ of momentum and Nesterov
  double beta1 = 0.9;     // β₁ of Adam(W)
  double beta2 = 0.999;   // β₂ of Adam(W), ρ of RMSprop
  double epsilon = 1e-8;
  std::int64_t step = 0;  // t: updates applied before this epoch
};

// The state arrays of one parameter array, each shaped like it (null where the rule keeps none):
// `first` is momentum's v or Adam's m, `second` the mean (or sum) of squares.
template <class S>
struct ParameterState {
  S* first = nullptr;
  S* second = nullptr;
};

template <class S>
struct LayerState {
  ParameterState<S> weights, biases, slopes;
};

// Which state arrays a rule keeps, as (first, second).
inline std::pair<bool, bool> state_arrays(Optimiser kind) {
  switch (kind) {
    case Optimiser::sgd: return {false, false};
    case Optimiser::momentum:
    case Optimiser::nesterov: return {true, false};
    case Optimiser::adam:
    case Optimiser::adamw: return {true, true};
    case Optimiser::adagrad:
    case Optimiser::rmsprop: return {false, true};
  }
  return {false, false};
}

namespace rules {
using Eigen::internal::padd;
using Eigen::internal::pdiv;
using Eigen::internal::ploadu;
using Eigen::internal::pmadd;
using Eigen::internal::pmul;
using Eigen::internal::pset1;
using Eigen::internal::psqrt;
using Eigen::internal::pstoreu;
using Eigen::internal::psub;
}  // namespace rules

// Plain SGD: the kernels' own code, with weight decay as the lazy scale s·V.
template <class S>
struct SgdRule {
  static constexpr bool plain = true;
  S learning_rate, l2;
  void begin_step() {}
};

// Momentum and Nesterov momentum (torch.optim.SGD with momentum, dampening 0).
template <class S>
struct MomentumRule {
  static constexpr bool plain = false;
  S learning_rate, l2, momentum;
  bool nesterov;
  const std::vector<LayerState<S>>* state;

  void begin_step() {}

  // The rule bound to one parameter array: `decay` is λ for weights, 0 for biases and slopes.
  struct Array {
    S* velocity;
    S learning_rate, decay, momentum, of_gradient, of_velocity;
    template <class P>
    P step(P w, P g, Index i) const {
      using namespace rules;
      g = pmadd(pset1<P>(decay), w, g);
      const P v = pmadd(pset1<P>(momentum), ploadu<P>(velocity + i), g);
      pstoreu(velocity + i, v);
      // Nesterov: g + μv; plain momentum: 0·g + 1·v = v exactly.
      const P direction = pmadd(pset1<P>(of_velocity), v, pmul(pset1<P>(of_gradient), g));
      return psub(w, pmul(pset1<P>(learning_rate), direction));
    }
  };
  Array bind(const ParameterState<S>& s, bool decays) const {
    return {s.first, learning_rate, decays ? l2 : S(0), momentum, nesterov ? S(1) : S(0), nesterov ? momentum : S(1)};
  }
};

// Adam and AdamW (kFirstMoment), AdaGrad and RMSprop (without a first moment): one formula,
//   v ← ρv + κg²,  w ← d·w − (α/c₁)·(m or g) / (√v·(1/√c₂) + ε),
// with (ρ, κ) = (β₂, 1 − β₂) for Adam and RMSprop, (1, 1) for AdaGrad; bias corrections c₁, c₂ for
// Adam only; d = 1 − αλ for AdamW's decoupled decay, else 1 (and λ in g).
template <class S, bool kFirstMoment>
struct AdaptiveRule {
  static constexpr bool plain = false;
  S learning_rate, l2;
  bool decoupled, bias_correction;
  double beta1, rho, kappa;
  S epsilon;
  std::int64_t step;
  const std::vector<LayerState<S>>* state;
  // Set by begin_step for the update about to be made.
  S step_size = 0, inverse_root_c2 = 1;

  void begin_step() {
    ++step;
    const double t = static_cast<double>(step);
    const double c1 = bias_correction ? 1 - std::pow(beta1, t) : 1;
    const double c2 = bias_correction ? 1 - std::pow(rho, t) : 1;
    step_size = static_cast<S>(learning_rate / c1);
    inverse_root_c2 = static_cast<S>(1 / std::sqrt(c2));
  }

  struct Array {
    S* first;
    S* second;
    S step_size, inverse_root_c2, epsilon, decay_in_gradient, weight_factor, beta1, rho, kappa;
    template <class P>
    P step(P w, P g, Index i) const {
      using namespace rules;
      g = pmadd(pset1<P>(decay_in_gradient), w, g);
      P direction = g;
      if constexpr (kFirstMoment) {
        const P m = pmadd(pset1<P>(beta1), ploadu<P>(first + i), pmul(pset1<P>(S(1) - beta1), g));
        pstoreu(first + i, m);
        direction = m;
      }
      const P v = pmadd(pset1<P>(rho), ploadu<P>(second + i), pmul(pset1<P>(kappa), pmul(g, g)));
      pstoreu(second + i, v);
      const P denominator = pmadd(psqrt(v), pset1<P>(inverse_root_c2), pset1<P>(epsilon));
      return psub(pmul(pset1<P>(weight_factor), w), pmul(pset1<P>(step_size), pdiv(direction, denominator)));
    }
  };
  Array bind(const ParameterState<S>& s, bool decays) const {
    const S lambda = decays ? l2 : S(0);
    return {s.first,
            s.second,
            step_size,
            inverse_root_c2,
            epsilon,
            decoupled ? S(0) : lambda,
            decoupled ? S(1) - learning_rate * lambda : S(1),
            static_cast<S>(beta1),
            static_cast<S>(rho),
            static_cast<S>(kappa)};
  }
};

// Calls f(rule) with the rule for `settings`, so that each kernel is compiled once per rule.
template <class S, class F>
decltype(auto) with_rule(const OptimiserSettings& o, S learning_rate, S l2, const std::vector<LayerState<S>>* state,
                         F&& f) {
  switch (o.kind) {
    case Optimiser::momentum:
    case Optimiser::nesterov:
      return f(MomentumRule<S>{learning_rate, l2, static_cast<S>(o.momentum), o.kind == Optimiser::nesterov, state});
    case Optimiser::adam:
    case Optimiser::adamw:
      return f(AdaptiveRule<S, true>{learning_rate, l2, o.kind == Optimiser::adamw, true, o.beta1, o.beta2,
                                     1 - o.beta2, static_cast<S>(o.epsilon), o.step, state});
    case Optimiser::adagrad:
      return f(AdaptiveRule<S, false>{learning_rate, l2, false, false, 0.0, 1.0, 1.0, static_cast<S>(o.epsilon), o.step,
                                      state});
    case Optimiser::rmsprop:
      return f(AdaptiveRule<S, false>{learning_rate, l2, false, false, 0.0, o.beta2, 1 - o.beta2,
                                      static_cast<S>(o.epsilon), o.step, state});
    case Optimiser::sgd: break;
  }
  return f(SgdRule<S>{learning_rate, l2});
}

// w ← rule(w, g) for a block of `rows` rows of `cols` entries, row r of w at w + r·stride and of
// g at g + r·stride (g shaped like the parameter array); `offset` is w's position in its array,
// where the state arrays are read.
template <class S, class Array>
void apply_rows(const Array& rule, S* w, const S* g, Index offset, Index rows, Index cols, Index stride) {
  using simd::Packet;
  constexpr Index W = simd::width<S>;
  for (Index r = 0; r < rows; ++r) {
    S* row = w + r * stride;
    const S* grad = g + r * stride;
    const Index at = offset + r * stride;
    Index c = 0;
    for (; c + W <= cols; c += W)
      rules::pstoreu(row + c, rule.template step<Packet<S>>(rules::ploadu<Packet<S>>(row + c),
                                                             rules::ploadu<Packet<S>>(grad + c), at + c));
    for (; c < cols; ++c) row[c] = rule.template step<S>(row[c], grad[c], at + c);
  }
}

}  // namespace fnn
