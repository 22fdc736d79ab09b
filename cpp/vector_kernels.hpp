// Vector loops of the per-sample kernel. Eigen's expressions cost tens of cycles of set-up per
// call, which dominates rows of 10-100 entries, so these use Eigen's packet primitives directly
// (the widest SIMD the build targets) with accumulators kept in registers. Every reduction adds
// in an order fixed by the code alone (packet by packet, RowSums' fixed tree over the lanes, then
// the columns past the last whole packet), never by the data's alignment or by which rows are
// computed together, so results depend neither on where NumPy put the arrays nor on the threads.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "row_sums.hpp"
#include "types.hpp"

namespace fnn {

namespace simd {
using Eigen::internal::padd;
using Eigen::internal::pdiv;
using Eigen::internal::pload1;
using Eigen::internal::ploadu;
using Eigen::internal::pmadd;
using Eigen::internal::pmul;
using Eigen::internal::predux;
using Eigen::internal::pset1;
using Eigen::internal::psqrt;
using Eigen::internal::pstoreu;
using Eigen::internal::psub;
template <class S>
using Packet = typename Eigen::internal::packet_traits<S>::type;
template <class S>
constexpr Index width = Eigen::internal::unpacket_traits<Packet<S>>::size;
}  // namespace simd

// How the per-sample kernel changes one row i of weights, given δ_i and a packet (or entry) of
// the layer's input a: `Update::row(δ_i)` is a stepper called as step(old w, a, &w). Plain SGD's
// is w ← decay·w − (α·δ_i)·a; an optimiser's (RuleUpdate) hands g = δ_i·a to its rule.
template <class S>
struct SgdUpdate {
  S decay, learning_rate;
  simd::Packet<S> pdecay = simd::pset1<simd::Packet<S>>(decay);  // broadcast once per call, not per row
  struct Row {
    simd::Packet<S> pdecay, pstep;
    S decay, step;
    template <class P>
    P operator()(P old, P a, const S*) const {
      if constexpr (std::is_same_v<P, S>)
        return decay * old - step * a;
      else
        return simd::psub(simd::pmul(pdecay, old), simd::pmul(pstep, a));
    }
  };
  // Rows with δ_i = 0 do not change without weight decay.
  bool skips(S g) const { return g == S(0) && decay == S(1); }
  Row row(S g) const { return {pdecay, simd::pset1<simd::Packet<S>>(learning_rate * g), decay, learning_rate * g}; }
};

// Layer 1's lazily scaled SGD step (see sgd_per_sample.hpp): v ← v − (α/scale)·δ_i·x.
template <class S>
struct LazySgdUpdate {
  S step_per_delta;
  struct Row {
    simd::Packet<S> minus_step;
    S step;
    template <class P>
    P operator()(P old, P x, const S*) const {
      if constexpr (std::is_same_v<P, S>)
        return std::fma(-step, x, old);
      else
        return simd::pmadd(minus_step, x, old);
    }
  };
  bool skips(S) const { return false; }
  Row row(S g) const {
    const S step = step_per_delta * g;
    return {simd::pset1<simd::Packet<S>>(-step), step};
  }
};

// An optimiser's step (optimisers.hpp) on one parameter array whose first entry is at `base`.
template <class S, class Array>
struct RuleUpdate {
  const Array* rule;
  const S* base;
  struct Row {
    std::remove_const_t<Array> rule;  // a copy: stores into the state cannot alias its coefficients
    const S* base;
    simd::Packet<S> pg;
    S g;
    template <class P>
    P operator()(P old, P a, const S* at) const {
      if constexpr (std::is_same_v<P, S>)
        return rule.template step<S>(old, g * a, at - base);
      else
        return rule.template step<P>(old, simd::pmul(pg, a), at - base);
    }
  };
  bool skips(S) const { return false; }  // the state moves even where g = 0
  Row row(S g) const { return {*rule, base, simd::pset1<simd::Packet<S>>(g), g}; }
};

// Backpropagation through W⁽ˡ⁾ fused with its update, for the `rows` rows of W (row i at
// w + i·stride, its δ_i = delta[i]) over the columns [0, n) of each: grad = Σ_i δ_i·w_i with the
// old rows, (4.59), summed in the order i = 0, 1, …, and then w_i ← update(w_i, δ_i, a). The
// columns go in blocks of up to K packets whose sums stay in registers across the rows: a sum
// kept in memory would make every row wait for the previous row's store.
namespace detail {
template <int K, class S, class Update>
inline void backprop_and_update_columns(const S* __restrict delta, const Update& update, S* __restrict w, Index stride,
                                        Index rows, const S* __restrict a, S* __restrict grad) {
  using namespace simd;
  constexpr Index W = width<S>;
  Packet<S> acc[K], pa[K];
  for (int k = 0; k < K; ++k) {
    acc[k] = pset1<Packet<S>>(S(0));
    pa[k] = ploadu<Packet<S>>(a + k * W);
  }
  for (Index i = 0; i < rows; ++i) {
    const S g = delta[i];
    if (update.skips(g)) continue;
    const Packet<S> pg = pset1<Packet<S>>(g);
    const auto step = update.row(g);
    S* row = w + i * stride;
    for (int k = 0; k < K; ++k) {
      const Packet<S> old = ploadu<Packet<S>>(row + k * W);
      acc[k] = pmadd(pg, old, acc[k]);
      pstoreu(row + k * W, step(old, pa[k], row + k * W));
    }
  }
  for (int k = 0; k < K; ++k) pstoreu(grad + k * W, acc[k]);
}
}  // namespace detail

template <class S, class Update>
inline void backprop_and_update_rows(const S* __restrict delta, const Update& update, S* __restrict w, Index stride,
                                     Index rows, const S* __restrict a, S* __restrict grad, Index n) {
  constexpr Index W = simd::width<S>;
  Index j = 0;
  for (; j + 4 * W <= n; j += 4 * W)
    detail::backprop_and_update_columns<4>(delta, update, w + j, stride, rows, a + j, grad + j);
  switch ((n - j) / W) {
    case 3: detail::backprop_and_update_columns<3>(delta, update, w + j, stride, rows, a + j, grad + j); break;
    case 2: detail::backprop_and_update_columns<2>(delta, update, w + j, stride, rows, a + j, grad + j); break;
    case 1: detail::backprop_and_update_columns<1>(delta, update, w + j, stride, rows, a + j, grad + j); break;
    default: break;
  }
  j += (n - j) / W * W;
  for (; j < n; ++j) {  // the last n mod W columns, one at a time
    S sum = 0;
    for (Index i = 0; i < rows; ++i) {
      const S g = delta[i];
      if (update.skips(g)) continue;
      S& weight = w[i * stride + j];
      sum += g * weight;
      weight = update.row(g)(weight, a[j], &weight);
    }
    grad[j] = sum;
  }
}

// Forward products of a block of rows, four rows at a time: each packet of the input is loaded
// once for the four rows, and each row keeps one accumulator packet, handed to RowSums.
namespace detail {
template <class S>
using Accumulators = simd::Packet<S>[4];

// acc[r] = the packet-wise products w_r·a for r < R (row r at w + r·stride); tail[r] = the
// products of the last n mod W columns, one at a time.
template <int R, class S>
inline void dot_group(const S* __restrict w, Index stride, const S* __restrict a, Index n, Accumulators<S>& acc,
                      S* __restrict tail) {
  using namespace simd;
  constexpr Index W = width<S>;
  for (int r = 0; r < 4; ++r) acc[r] = pset1<Packet<S>>(S(0));
  Index j = 0;
  for (; j + W <= n; j += W) {
    const Packet<S> pa = ploadu<Packet<S>>(a + j);
    for (int r = 0; r < R; ++r) acc[r] = pmadd(ploadu<Packet<S>>(w + r * stride + j), pa, acc[r]);
  }
  if (j < n)
    for (int r = 0; r < R; ++r) {
      S sum = 0;
      for (Index c = j; c < n; ++c) sum += w[r * stride + c] * a[c];
      tail[r] = sum;
    }
}

// Layer 1's update fused with the next sample's forward product: v_r ← steps[r](v_r, x) (see
// SgdUpdate), then the products v_r·x_next as in dot_group, so each row is read and written once.
template <int R, class S, class Step>
inline void update_then_dot_group(const Step* given, S* __restrict w, Index stride, const S* __restrict x,
                                  const S* __restrict x_next, Index n, Accumulators<S>& acc, S* __restrict tail) {
  using namespace simd;
  constexpr Index W = width<S>;
  Step steps[R];  // local copies, which stay in registers (the stores below could alias `given`)
  for (int r = 0; r < R; ++r) steps[r] = given[r];
  for (int r = 0; r < 4; ++r) acc[r] = pset1<Packet<S>>(S(0));
  Index j = 0;
  for (; j + W <= n; j += W) {
    const Packet<S> px = ploadu<Packet<S>>(x + j), pnext = ploadu<Packet<S>>(x_next + j);
    for (int r = 0; r < R; ++r) {
      S* row = w + r * stride + j;
      const Packet<S> updated = steps[r](ploadu<Packet<S>>(row), px, row);
      pstoreu(row, updated);
      acc[r] = pmadd(updated, pnext, acc[r]);
    }
  }
  if (j < n)
    for (int r = 0; r < R; ++r) {
      S sum = 0;
      for (Index c = j; c < n; ++c) {
        S& weight = w[r * stride + c];
        weight = steps[r](weight, x[c], &weight);
        sum += weight * x_next[c];
      }
      tail[r] = sum;
    }
}

// The packet products w_r·a_q for Q samples and R rows at once, W's packets read once for the Q
// samples: whole packets of the n columns, then one tail packet of the rest (the row's tail from
// `w_tail`, R rows × one packet, and each sample's from `a_tail`, both zero past n mod W). Every
// sample's sums are the same whichever samples share the call.
template <int R, int Q, class S>
FNN_ALWAYS_INLINE void dot_group_samples(const S* __restrict w, Index stride, const S* __restrict w_tail,
                                         const S* const (&a)[Q], const simd::Packet<S> (&a_tail)[Q], Index whole,
                                         RowSums<S> (&sums)[Q]) {
  using namespace simd;
  constexpr Index W = width<S>;
  // Sums in local variables, which stay in registers (stores through a reference could alias the
  // inputs, as vector types may alias any scalar, and would stay in memory across the loop).
  Packet<S> sum[Q][4];
  for (int q = 0; q < Q; ++q)
    for (int r = 0; r < 4; ++r) sum[q][r] = pset1<Packet<S>>(S(0));
  for (Index j = 0; j < whole; j += W) {
#ifdef EIGEN_VECTORIZE_AVX512  // (each order measured the faster with its build's registers)
    Packet<S> pw[R];
    for (int r = 0; r < R; ++r) pw[r] = ploadu<Packet<S>>(w + r * stride + j);
    for (int q = 0; q < Q; ++q) {
      const Packet<S> pa = ploadu<Packet<S>>(a[q] + j);
      for (int r = 0; r < R; ++r) sum[q][r] = pmadd(pw[r], pa, sum[q][r]);
    }
#else
    Packet<S> pa[Q];
    for (int q = 0; q < Q; ++q) pa[q] = ploadu<Packet<S>>(a[q] + j);
    for (int r = 0; r < R; ++r) {
      const Packet<S> pw = ploadu<Packet<S>>(w + r * stride + j);
      for (int q = 0; q < Q; ++q) sum[q][r] = pmadd(pw, pa[q], sum[q][r]);
    }
#endif
  }
  if (w_tail)
    for (int r = 0; r < R; ++r) {
      const Packet<S> pw = ploadu<Packet<S>>(w_tail + r * W);
      for (int q = 0; q < Q; ++q) sum[q][r] = pmadd(pw, a_tail[q], sum[q][r]);
    }
  for (int q = 0; q < Q; ++q) sums[q].add4(sum[q][0], sum[q][1], sum[q][2], sum[q][3]);
}

// f(integral_constant<int, i>) for i = 0 … count−1, unrolled.
template <int count, class F>
inline void unrolled(F&& f) {
  if constexpr (count > 0) {
    unrolled<count - 1>(f);
    f(std::integral_constant<int, count - 1>());
  }
}

// Runs group(R, first row, accumulators, tail) for the rows [0, rows) in groups of four, R the
// group's row count, and stores each block's scale·sums plus biases to out (updating the biases
// first when `delta` is given, see RowSums::store).
template <class S, class Group>
inline void for_row_groups(Index rows, Index n, const S* biases, const S* delta, S learning_rate, S* updated_biases,
                           S scale, S* out, Group&& group) {
  constexpr Index B = RowSums<S>::rows_per_block;
  S tail[B];
  const S* tail_or_null = n % simd::width<S> != 0 ? tail : nullptr;
  Index i0 = 0;
  // Whole blocks with their groups unrolled, so that the partial sums stay in registers.
  for (; i0 + B <= rows; i0 += B) {
    RowSums<S> sums;
    unrolled<B / 4>([&](auto g) {
      constexpr Index first = 4 * decltype(g)::value;
      Accumulators<S> acc;
      group(std::integral_constant<int, 4>(), i0 + first, acc, tail + first);
      sums.add4(acc);
    });
    sums.store(out + i0, B, tail_or_null, biases + i0, delta ? delta + i0 : nullptr, learning_rate,
               delta ? updated_biases + i0 : nullptr, scale);
  }
  if (i0 < rows) {  // the last, partial block
    const Index count = rows - i0;
    RowSums<S> sums;
    for (Index g = 0; g < count; g += 4) {
      Accumulators<S> acc;
      switch (std::min<Index>(4, count - g)) {
        case 4: group(std::integral_constant<int, 4>(), i0 + g, acc, tail + g); break;
        case 3: group(std::integral_constant<int, 3>(), i0 + g, acc, tail + g); break;
        case 2: group(std::integral_constant<int, 2>(), i0 + g, acc, tail + g); break;
        default: group(std::integral_constant<int, 1>(), i0 + g, acc, tail + g); break;
      }
      sums.add4(acc);
    }
    sums.store(out + i0, count, tail_or_null, biases + i0, delta ? delta + i0 : nullptr, learning_rate,
               delta ? updated_biases + i0 : nullptr, scale);
  }
}
}  // namespace detail

// out_i = w_iᵀa + b_i for the `rows` rows of W (row i at w + i·stride, n columns). `out` must have
// room for `rows` rounded up to a multiple of RowSums<S>::rows_per_block (see RowSums::store).
template <class S>
inline void dot_rows(const S* __restrict w, Index stride, Index rows, const S* __restrict a, Index n,
                     const S* __restrict biases, S* __restrict out) {
  detail::for_row_groups<S>(rows, n, biases, nullptr, S(0), nullptr, S(1), out,
                            [&](auto R, Index i, detail::Accumulators<S>& acc, S* tail) {
                              detail::dot_group<decltype(R)::value>(w + i * stride, stride, a, n, acc, tail);
                            });
}

// out_q,i = w_iᵀa_q + b_i for the rows i of [first, first + rows) and Q samples a[q] at once (for
// prediction), into out[q] + i (each padded as for dot_rows), a block of RowSums' rows at a time.
// `w_tail` holds each row's last n mod W columns as one zero-padded packet (null when n is a whole
// number of packets), `a_tail[q]` the sample's. Each block's rows are read once for the Q samples;
// a sample's results are the same bit for bit whatever Q, whichever samples share the call and
// however the rows are split between calls (at block boundaries). Not inlined: its registers are
// then allocated the same way wherever it is called from (inlined, GCC kept the accumulators in
// memory in some callers, at a third of the speed).
template <int Q, class S>
FNN_NOINLINE void dot_blocks_samples(const S* __restrict w, Index stride, Index first, Index rows,
                                     const S* __restrict w_tail, const S* const (&a)[Q],
                                     const simd::Packet<S> (&a_tail)[Q], Index n, const S* __restrict biases,
                                     S* const (&out)[Q]) {
  constexpr Index B = RowSums<S>::rows_per_block, W = simd::width<S>;
  const Index whole = n / W * W;
  for (Index i0 = first; i0 < first + rows; i0 += B) {
    const Index count = std::min(B, first + rows - i0);
    RowSums<S> sums[Q];
    for (Index g = 0; g < count; g += 4) {
      const S* group = w + (i0 + g) * stride;
      const S* group_tail = w_tail ? w_tail + (i0 + g) * W : nullptr;
      switch (std::min<Index>(4, count - g)) {
        case 4: detail::dot_group_samples<4, Q>(group, stride, group_tail, a, a_tail, whole, sums); break;
        case 3: detail::dot_group_samples<3, Q>(group, stride, group_tail, a, a_tail, whole, sums); break;
        case 2: detail::dot_group_samples<2, Q>(group, stride, group_tail, a, a_tail, whole, sums); break;
        default: detail::dot_group_samples<1, Q>(group, stride, group_tail, a, a_tail, whole, sums); break;
      }
    }
    for (int q = 0; q < Q; ++q) sums[q].store(out[q] + i0, count, nullptr, biases + i0);
  }
}

// The last n mod W entries of a, zero-padded to W entries at `rest`: a sample's share of a row's
// tail packet.
template <class S>
inline void copy_tail(const S* __restrict a, Index n, S* __restrict rest) {
  constexpr Index W = simd::width<S>;
  const Index whole = n / W * W;
  for (Index c = 0; c < W; ++c) rest[c] = whole + c < n ? a[whole + c] : S(0);
}

// Layer 1's step for the `rows` rows of W⁽¹⁾ fused with the next sample's forward product:
// w_i ← update(w_i, δ_i, x), then out_i = scale·w_iᵀx_next + b_i (`out` padded as for dot_rows).
// With `learning_rate`, plain SGD's bias step b_i ← b_i − α·δ_i goes in too (RowSums::store); an
// optimiser updates the biases before (learning_rate 0). `scale` is W⁽¹⁾'s scale after this step.
template <class S, class Update>
inline void update_rows_then_dot_rows(const Update& update, S scale, S learning_rate, const S* __restrict delta,
                                      S* __restrict w, Index stride, Index rows, const S* __restrict x,
                                      const S* __restrict x_next, Index n, S* __restrict biases, S* __restrict out) {
  const S* bias_delta = learning_rate != S(0) ? delta : nullptr;
  detail::for_row_groups<S>(rows, n, biases, bias_delta, learning_rate, biases, scale, out,
                            [&](auto R, Index i, detail::Accumulators<S>& acc, S* tail) {
                              constexpr int Rc = decltype(R)::value;
                              decltype(update.row(S(0))) steps[Rc];
                              for (int r = 0; r < Rc; ++r) steps[r] = update.row(delta[i + r]);
                              detail::update_then_dot_group<Rc>(steps, w + i * stride, stride, x, x_next, n, acc, tail);
                            });
}

// w_i ← update(w_i, δ_i, x) for the `rows` rows, and plain SGD's b_i ← b_i − α·δ_i (none with
// learning_rate 0): layer 1's step for the last sample of an epoch, which has no next sample.
template <class S, class Update>
inline void update_rows(const Update& update, S learning_rate, const S* __restrict delta, S* __restrict w, Index stride,
                        Index rows, const S* __restrict x, Index n, S* __restrict biases) {
  using namespace simd;
  constexpr Index W = width<S>;
  for (Index i = 0; i < rows; ++i) {
    if (learning_rate != S(0)) biases[i] -= learning_rate * delta[i];
    const auto step = update.row(delta[i]);
    S* row = w + i * stride;
    Index c = 0;
    if constexpr (!std::is_same_v<Update, LazySgdUpdate<S>>)  // (SGD's scalar fma, as before)
      for (; c + W <= n; c += W) pstoreu(row + c, step(ploadu<Packet<S>>(row + c), ploadu<Packet<S>>(x + c), row + c));
    for (; c < n; ++c) row[c] = step(row[c], x[c], row + c);
  }
}

// v ← s·v for the `rows` rows: folds a scale into the weights.
template <class S>
inline void scale_rows(S scale, S* __restrict w, Index stride, Index rows, Index n) {
  for (Index i = 0; i < rows; ++i)
    for (Index c = 0; c < n; ++c) w[i * stride + c] *= scale;
}

// Softmax with cross-entropy (4.38) for one sample whose `units` outputs fit in one packet, in
// registers from z to δ: returns the loss (log Σ exp z)·Σy − yᵀz and stores δ⁽ᴸ⁾ = ŷ·Σy − y as a
// whole packet to `delta`, which must have room for one (lanes past `units` get 0). Only for
// builds whose packets have lane masks (packet_softmax_fits).
template <class S>
constexpr bool has_lane_masks = row_sums_detail::Lanes<S>::folds;

template <class S>
inline bool packet_softmax_fits(Index units) {
  return has_lane_masks<S> && units <= simd::width<S>;
}

template <class S>
inline S softmax_cross_entropy_packet(const S* __restrict z, Index units, const S* __restrict target,
                                      S* __restrict delta) {
  if constexpr (has_lane_masks<S>) {
    using namespace simd;
    using L = row_sums_detail::Lanes<S>;
    // z is read as a whole packet (its producer stored one, which a masked load would not
    // forward); lanes past `units` are replaced here.
    const Packet<S> pz = ploadu<Packet<S>>(z);
    const Packet<S> shifted_in = L::first_or(pz, units, -std::numeric_limits<S>::infinity());
    const S top = Eigen::internal::predux_max(shifted_in);
    const Packet<S> e = Eigen::internal::pexp(psub(shifted_in, pset1<Packet<S>>(top)));  // 0 past `units`
    const S sum = predux(e);
    const Packet<S> y = L::load_first(target, units);
    const S target_sum = predux(y);
    const Packet<S> y_hat = pmul(e, pset1<Packet<S>>(S(1) / sum));
    pstoreu(delta, psub(pmul(y_hat, pset1<Packet<S>>(target_sum)), y));
    return (top + std::log(sum)) * target_sum - predux(pmul(y, L::first_or(pz, units, S(0))));
  } else {
    (void)z, (void)units, (void)target, (void)delta;
    return S(0);  // never called: packet_softmax_fits is false
  }
}

// out_i = exp(z_i − shift) for i < n, returning Σ out_i. Whole packets throughout: the tail is
// padded with −∞ (whose exponential is 0) rather than left to scalar calls of exp.
template <class S>
inline S exp_shifted(const S* __restrict z, S shift, S* __restrict out, Index n) {
  using namespace simd;
  constexpr Index W = width<S>;
  const Packet<S> pshift = pset1<Packet<S>>(shift);
  Packet<S> acc = pset1<Packet<S>>(S(0));
  Index i = 0;
  for (; i + W <= n; i += W) {
    const Packet<S> e = Eigen::internal::pexp(psub(ploadu<Packet<S>>(z + i), pshift));
    pstoreu(out + i, e);
    acc = padd(acc, e);
  }
  if (i < n) {
    alignas(64) S tail[W];
    for (Index j = 0; j < W; ++j) tail[j] = i + j < n ? z[i + j] : -std::numeric_limits<S>::infinity();
    const Packet<S> e = Eigen::internal::pexp(psub(ploadu<Packet<S>>(tail), pshift));
    pstoreu(tail, e);
    acc = padd(acc, e);
    for (Index j = 0; i + j < n; ++j) out[i + j] = tail[j];
  }
  return predux(acc);
}

}  // namespace fnn
