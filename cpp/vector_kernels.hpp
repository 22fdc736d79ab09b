// Vector loops of the per-sample kernel. Eigen's expressions cost tens of cycles of set-up per
// call, which dominates rows of 10-100 entries, so these use Eigen's packet primitives directly
// (the widest SIMD the build targets) with accumulators kept in registers. Every reduction adds
// in an order fixed by the code alone (two packets, Eigen's fixed horizontal tree, then the
// tail), never by the data's alignment, so results do not depend on where NumPy put the arrays.
#pragma once

#include <Eigen/Core>
#include <limits>
#include <type_traits>

#include "types.hpp"

namespace fnn {

namespace simd {
using Eigen::internal::padd;
using Eigen::internal::pload1;
using Eigen::internal::ploadu;
using Eigen::internal::pmadd;
using Eigen::internal::pmul;
using Eigen::internal::predux;
using Eigen::internal::pset1;
using Eigen::internal::pstoreu;
using Eigen::internal::psub;
template <class S>
using Packet = typename Eigen::internal::packet_traits<S>::type;
template <class S>
constexpr Index width = Eigen::internal::unpacket_traits<Packet<S>>::size;
}  // namespace simd

// aᵀb
template <class S>
inline S dot(const S* __restrict a, const S* __restrict b, Index n) {
  using namespace simd;
  constexpr Index W = width<S>;
  Packet<S> acc0 = pset1<Packet<S>>(S(0)), acc1 = acc0;
  Index i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    acc0 = pmadd(ploadu<Packet<S>>(a + i), ploadu<Packet<S>>(b + i), acc0);
    acc1 = pmadd(ploadu<Packet<S>>(a + i + W), ploadu<Packet<S>>(b + i + W), acc1);
  }
  if (i + W <= n) {
    acc0 = pmadd(ploadu<Packet<S>>(a + i), ploadu<Packet<S>>(b + i), acc0);
    i += W;
  }
  S total = predux(padd(acc0, acc1));
  for (; i < n; ++i) total += a[i] * b[i];
  return total;
}

// Backpropagation through one row w of W⁽ˡ⁾ and its update, in one pass:
// grad += g·w (the old w, (4.59)); w ← decay·w − step·a  (step = α·g).
template <class S>
inline void backprop_and_update_row(S g, S decay, S step, S* __restrict w, const S* __restrict a, S* __restrict grad,
                                    Index n) {
  using namespace simd;
  constexpr Index W = width<S>;
  const Packet<S> pg = pset1<Packet<S>>(g), pdecay = pset1<Packet<S>>(decay), pstep = pset1<Packet<S>>(step);
  Index i = 0;
  for (; i + W <= n; i += W) {
    const Packet<S> old = ploadu<Packet<S>>(w + i);
    pstoreu(grad + i, pmadd(pg, old, ploadu<Packet<S>>(grad + i)));
    pstoreu(w + i, psub(pmul(pdecay, old), pmul(pstep, ploadu<Packet<S>>(a + i))));
  }
  for (; i < n; ++i) {
    const S old = w[i];
    grad[i] += g * old;
    w[i] = decay * old - step * a[i];
  }
}

// w ← decay·w − step·x, then return wᵀx_next: layer 1's update fused with the next sample's
// forward product, so the row is read and written once.
template <class S>
inline S update_row_then_dot(S decay, S step, S* __restrict w, const S* __restrict x, const S* __restrict x_next,
                             Index n) {
  using namespace simd;
  constexpr Index W = width<S>;
  const Packet<S> pdecay = pset1<Packet<S>>(decay), pstep = pset1<Packet<S>>(step);
  Packet<S> acc0 = pset1<Packet<S>>(S(0)), acc1 = acc0;
  Index i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const Packet<S> w0 = psub(pmul(pdecay, ploadu<Packet<S>>(w + i)), pmul(pstep, ploadu<Packet<S>>(x + i)));
    const Packet<S> w1 = psub(pmul(pdecay, ploadu<Packet<S>>(w + i + W)), pmul(pstep, ploadu<Packet<S>>(x + i + W)));
    pstoreu(w + i, w0);
    pstoreu(w + i + W, w1);
    acc0 = pmadd(w0, ploadu<Packet<S>>(x_next + i), acc0);
    acc1 = pmadd(w1, ploadu<Packet<S>>(x_next + i + W), acc1);
  }
  if (i + W <= n) {
    const Packet<S> w0 = psub(pmul(pdecay, ploadu<Packet<S>>(w + i)), pmul(pstep, ploadu<Packet<S>>(x + i)));
    pstoreu(w + i, w0);
    acc0 = pmadd(w0, ploadu<Packet<S>>(x_next + i), acc0);
    i += W;
  }
  S total = predux(padd(acc0, acc1));
  for (; i < n; ++i) {
    w[i] = decay * w[i] - step * x[i];
    total += w[i] * x_next[i];
  }
  return total;
}

// out[k] = Σ of the lanes of packet k, for four packets. With AVX-512 floats the four horizontal
// sums share one transpose (a quarter of the shuffles of four separate reductions); elsewhere
// each packet is reduced on its own. Either way the order is fixed by the code alone.
template <class P, class S>
inline void predux4(const P (&acc)[4], S* out) {
#ifdef EIGEN_VECTORIZE_AVX512
  if constexpr (std::is_same<P, Eigen::internal::Packet16f>::value) {
    using namespace Eigen::internal;
    PacketBlock<Packet16f, 4> block;
    for (int k = 0; k < 4; ++k) block.packet[k] = acc[k];
    ptranspose(block);  // now lane 4q + k of every packet belongs to packet k
    const Packet16f sum = padd(padd(block.packet[0], block.packet[1]), padd(block.packet[2], block.packet[3]));
    const Packet8f half = predux_half_dowto4(sum);  // lanes i + (i + 8): groups of 4 stay aligned
    const __m128 q = _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
    // Lane by lane from the register: scalar reads of a just-stored vector would stall on store
    // forwarding.
    out[0] = _mm_cvtss_f32(q);
    out[1] = _mm_cvtss_f32(_mm_movehdup_ps(q));
    out[2] = _mm_cvtss_f32(_mm_movehl_ps(q, q));
    out[3] = _mm_cvtss_f32(_mm_shuffle_ps(q, q, 3));
    return;
  }
#endif
  for (int k = 0; k < 4; ++k) out[k] = simd::predux(acc[k]);
}

// update_row_then_dot for four rows of W at once (row r at w + r·stride, its step steps[r]):
// x and x_next are loaded once for the four rows, and the four dot products are reduced together.
template <class S>
inline void update_rows_then_dot4(S decay, const S* steps, S* __restrict w, Index stride, const S* __restrict x,
                                  const S* __restrict x_next, Index n, S* out) {
  using namespace simd;
  constexpr Index W = width<S>;
  const Packet<S> pdecay = pset1<Packet<S>>(decay);
  Packet<S> pstep[4], acc[4];
  for (int r = 0; r < 4; ++r) {
    pstep[r] = pset1<Packet<S>>(steps[r]);
    acc[r] = pset1<Packet<S>>(S(0));
  }
  Index i = 0;
  for (; i + W <= n; i += W) {
    const Packet<S> px = ploadu<Packet<S>>(x + i), pnext = ploadu<Packet<S>>(x_next + i);
    for (int r = 0; r < 4; ++r) {
      S* row = w + r * stride + i;
      const Packet<S> updated = psub(pmul(pdecay, ploadu<Packet<S>>(row)), pmul(pstep[r], px));
      pstoreu(row, updated);
      acc[r] = pmadd(updated, pnext, acc[r]);
    }
  }
  predux4(acc, out);
  for (; i < n; ++i)
    for (int r = 0; r < 4; ++r) {
      S& weight = w[r * stride + i];
      weight = decay * weight - steps[r] * x[i];
      out[r] += weight * x_next[i];
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

// w ← decay·w − step·x
template <class S>
inline void update_row(S decay, S step, S* __restrict w, const S* __restrict x, Index n) {
  for (Index i = 0; i < n; ++i) w[i] = decay * w[i] - step * x[i];
}

}  // namespace fnn
