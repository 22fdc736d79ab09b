// The update rules of the training kernels: plain SGD (Algorithm 4.1, lines 10-11) and the
// optimisers of the book's section 7.2, in PyTorch's formulation (torch.optim), so that a model
// moves between the two libraries with the same meaning of every hyper-parameter:
//   momentum   v ← μv + g,  w ← w − α·v            (Nesterov: w ← w − α·(g + μv))
//   Adam       m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  w ← w − (α/c₁)·m / (√v/√c₂ + ε),
//              c₁ = 1 − β₁ᵗ, c₂ = 1 − β₂ᵗ;  AdamW: w ← (1 − αλ)w first, λ not in g
//   AdaGrad    v ← v + g²,  w ← w − α·g / (√v + ε)
//   RMSprop    v ← ρv + (1−ρ)g²,  w ← w − α·g / (√v + ε)
// where g = ∂L/∂w + λw for weights (the L2 term of (4.39)) and ∂L/∂b for biases, which are not
// regularised. Each rule is applied element by element, in Eigen packets or one entry at a time
// (the columns past the last whole packet); threads' shares are cut at whole packets, so every
// weight takes the same path, and gets the same value, on any thread count.
//
// The kernels take a rule as a template parameter: plain SGD keeps its own fused and lazily
// scaled code (SgdRule::plain), every other rule goes through step(), so a new optimiser is one
// struct here plus its name in the bindings.
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "types.hpp"
#include "vector_kernels.hpp"

namespace fnn {

enum class Optimiser { sgd, momentum, nesterov, adam, adamw, adagrad, rmsprop };

// One epoch's update as Python sets it (fnn.settings.TrainingSettings, the schedule's α for the
// epoch): the rule, α, λ, the batch size, the rule's hyper-parameters and the updates applied so far.
struct OptimiserSettings {
  Optimiser kind = Optimiser::sgd;
  double learning_rate = 0.01;  // α of the epoch
  double l2 = 0;                // λ of (4.39)
  Index batch_size = 1;         // samples per update
  double momentum = 0.9;        // μ of momentum and Nesterov
  double beta1 = 0.9;           // β₁ of Adam(W)
  double beta2 = 0.999;         // β₂ of Adam(W), ρ of RMSprop
  double epsilon = 1e-8;
  std::int64_t step = 0;  // t: updates applied before this epoch
  double clip_norm = 0;   // > 0: a step's gradient of the loss is scaled down to at most this norm
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

// 1 / (√v·c + ε) for the adaptive rules (v ≥ 0, ε > 0), inline: Eigen's fast psqrt is an
// out-of-line call, whose spills cost more than the rest of Adam's step. Float packets use the
// hardware's estimates of 1/√v and 1/x, each refined by one Newton step (within about 2 ulp, and
// the same value on every thread, so 1 and 2 threads still agree): a square root and a division
// of 16 floats take about 12 and 10 cycles of the one unit that does them. Doubles and single
// entries are computed exactly.
template <class P>
inline P inverse_denominator(const P& v, const P& c, const P& epsilon) {
  using namespace simd;
  return pdiv(pset1<P>(typename Eigen::internal::unpacket_traits<P>::type(1)), pmadd(psqrt(v), c, epsilon));
}
inline float inverse_denominator(float v, float c, float epsilon) { return 1.0f / (std::sqrt(v) * c + epsilon); }
inline double inverse_denominator(double v, double c, double epsilon) { return 1.0 / (std::sqrt(v) * c + epsilon); }
#if defined(EIGEN_VECTORIZE_AVX512)
inline __m512 inverse_denominator(const __m512& v, const __m512& c, const __m512& epsilon) {
  __m512 r = _mm512_rsqrt14_ps(v);  // +inf at v = 0, where √v = 0 is masked in below
  r = _mm512_mul_ps(
      r, _mm512_fnmadd_ps(_mm512_mul_ps(_mm512_mul_ps(v, _mm512_set1_ps(0.5f)), r), r, _mm512_set1_ps(1.5f)));
  const __m512 root = _mm512_maskz_mul_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), v, r);
  const __m512 d = _mm512_fmadd_ps(root, c, epsilon);
  const __m512 q = _mm512_rcp14_ps(d);
  return _mm512_mul_ps(q, _mm512_fnmadd_ps(d, q, _mm512_set1_ps(2.0f)));
}
inline __m512d inverse_denominator(const __m512d& v, const __m512d& c, const __m512d& epsilon) {
  return _mm512_div_pd(_mm512_set1_pd(1.0), _mm512_fmadd_pd(_mm512_sqrt_pd(v), c, epsilon));
}
#endif
#if defined(EIGEN_VECTORIZE_AVX)
inline __m256 inverse_denominator(const __m256& v, const __m256& c, const __m256& epsilon) {
  __m256 r = _mm256_rsqrt_ps(v);
  r = _mm256_mul_ps(r, _mm256_sub_ps(_mm256_set1_ps(1.5f),
                                     _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(v, _mm256_set1_ps(0.5f)), r), r)));
  const __m256 root = _mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_mul_ps(v, r));
  const __m256 d = _mm256_add_ps(_mm256_mul_ps(root, c), epsilon);
  const __m256 q = _mm256_rcp_ps(d);
  return _mm256_mul_ps(q, _mm256_sub_ps(_mm256_set1_ps(2.0f), _mm256_mul_ps(d, q)));
}
inline __m256d inverse_denominator(const __m256d& v, const __m256d& c, const __m256d& epsilon) {
  return _mm256_div_pd(_mm256_set1_pd(1.0), _mm256_add_pd(_mm256_mul_pd(_mm256_sqrt_pd(v), c), epsilon));
}
#endif

// Plain SGD: the kernels' own code, with weight decay as the lazy scale s·V.
template <class S>
struct SgdRule {
  static constexpr bool plain = true;
  S learning_rate, l2;
  S clip_norm = 0;  // (never set: clipping SGD is GradientRule)
  void begin_step() {}
};

// SGD through a gradient buffer, W ← W − α(g + λW): the rule of plain SGD with gradient clipping,
// which needs the step's whole gradient before any update.
template <class S>
struct GradientRule {
  static constexpr bool plain = false;
  S learning_rate, l2;
  const std::vector<LayerState<S>>* state;
  S clip_norm = 0;

  void begin_step() {}

  struct Array {
    S learning_rate, decay;
    template <class P>
    P step(P w, P g, Index) const {
      using namespace simd;
      return psub(w, pmul(pset1<P>(learning_rate), pmadd(pset1<P>(decay), w, g)));
    }
  };
  Array bind(const ParameterState<S>&, bool decays) const { return {learning_rate, decays ? l2 : S(0)}; }
};

// Momentum and Nesterov momentum (torch.optim.SGD with momentum, dampening 0). (Nesterov a
// template parameter: the per-sample kernel's step is a handful of operations per packet, and
// each one more costs several percent.)
template <class S, bool kNesterov>
struct MomentumRule {
  static constexpr bool plain = false;
  S learning_rate, l2, momentum;
  const std::vector<LayerState<S>>* state;
  S clip_norm = 0;

  void begin_step() {}

  // The rule bound to one parameter array: `decay` is λ for weights, 0 for biases and slopes.
  struct Array {
    S* velocity;
    S learning_rate, decay, momentum;
    template <class P>
    P step(P w, P g, Index i) const {
      using namespace simd;
      g = pmadd(pset1<P>(decay), w, g);
      const P v = pmadd(pset1<P>(momentum), ploadu<P>(velocity + i), g);
      pstoreu(velocity + i, v);
      if constexpr (kNesterov) return psub(w, pmul(pset1<P>(learning_rate), pmadd(pset1<P>(momentum), v, g)));
      return psub(w, pmul(pset1<P>(learning_rate), v));
    }
  };
  Array bind(const ParameterState<S>& s, bool decays) const {
    return {s.first, learning_rate, decays ? l2 : S(0), momentum};
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
  S clip_norm = 0;
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
      using namespace simd;
      g = pmadd(pset1<P>(decay_in_gradient), w, g);
      P direction = g;
      if constexpr (kFirstMoment) {
        const P m = pmadd(pset1<P>(beta1), ploadu<P>(first + i), pmul(pset1<P>(S(1) - beta1), g));
        pstoreu(first + i, m);
        direction = m;
      }
      const P v = pmadd(pset1<P>(rho), ploadu<P>(second + i), pmul(pset1<P>(kappa), pmul(g, g)));
      pstoreu(second + i, v);
      const P inverse = inverse_denominator(v, pset1<P>(inverse_root_c2), pset1<P>(epsilon));
      return psub(pmul(pset1<P>(weight_factor), w), pmul(pset1<P>(step_size), pmul(direction, inverse)));
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
decltype(auto) with_rule(const OptimiserSettings& o, const std::vector<LayerState<S>>* state, F&& f) {
  const S learning_rate = static_cast<S>(o.learning_rate), l2 = static_cast<S>(o.l2);
  const S clip = static_cast<S>(o.clip_norm);
  switch (o.kind) {
    case Optimiser::momentum:
      return f(MomentumRule<S, false>{learning_rate, l2, static_cast<S>(o.momentum), state, clip});
    case Optimiser::nesterov:
      return f(MomentumRule<S, true>{learning_rate, l2, static_cast<S>(o.momentum), state, clip});
    case Optimiser::adam:
    case Optimiser::adamw:
      return f(AdaptiveRule<S, true>{learning_rate, l2, o.kind == Optimiser::adamw, true, o.beta1, o.beta2, 1 - o.beta2,
                                     static_cast<S>(o.epsilon), o.step, state, clip});
    case Optimiser::adagrad:
      return f(AdaptiveRule<S, false>{learning_rate, l2, false, false, 0.0, 1.0, 1.0, static_cast<S>(o.epsilon), o.step,
                                      state, clip});
    case Optimiser::rmsprop:
      return f(AdaptiveRule<S, false>{learning_rate, l2, false, false, 0.0, o.beta2, 1 - o.beta2,
                                      static_cast<S>(o.epsilon), o.step, state, clip});
    case Optimiser::sgd: break;
  }
  if (clip > 0) return f(GradientRule<S>{learning_rate, l2, state, clip});
  return f(SgdRule<S>{learning_rate, l2});
}

// Whether `rule` clips the norm of each step's gradient.
template <class Rule>
bool clips(const Rule& rule) {
  if constexpr (Rule::plain)
    return false;
  else
    return rule.clip_norm > 0;
}

// The factor that scales a gradient of Euclidean norm √`sum_of_squares` down to `clip_norm`, as
// torch.nn.utils.clip_grad_norm_ does: clip_norm / (norm + 1e-6) when that is below 1, else 1.
template <class S>
S clip_factor(double sum_of_squares, S clip_norm) {
  const double factor = static_cast<double>(clip_norm) / (std::sqrt(sum_of_squares) + 1e-6);
  return factor < 1 ? static_cast<S>(factor) : S(1);
}

// Σ g² over a block of `rows` rows of `cols` entries, row r at g + r·stride, in a fixed order.
template <class S>
double sum_of_squares(const S* g, Index rows, Index cols, Index stride) {
  double total = 0;
  for (Index r = 0; r < rows; ++r) {
    double row = 0;
    for (Index c = 0; c < cols; ++c) row += static_cast<double>(g[r * stride + c]) * g[r * stride + c];
    total += row;
  }
  return total;
}

// g ← factor·g over such a block.
template <class S>
void scale_block(S factor, S* g, Index rows, Index cols, Index stride) {
  if (factor == S(1)) return;
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < cols; ++c) g[r * stride + c] *= factor;
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
      simd::pstoreu(row + c, rule.template step<Packet<S>>(simd::ploadu<Packet<S>>(row + c),
                                                           simd::ploadu<Packet<S>>(grad + c), at + c));
    for (; c < cols; ++c) row[c] = rule.template step<S>(row[c], grad[c], at + c);
  }
}

}  // namespace fnn
