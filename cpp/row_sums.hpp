// The sums of several rows' dot products at once. A dot product in packets ends with one packet
// of partial sums per row whose lanes still have to be added; reducing each row's packet on its
// own costs a chain of shuffles per row, which dominated the per-sample kernel's forward products.
// RowSums folds the packets of up to W rows (W lanes per packet) together instead: a fold adds the
// two halves of each 2h-lane group of packet a into the first half and those of packet b into the
// second, so W rows cost W − 1 folds (one shuffle, two blends and one add each) and end as a single
// packet whose lane r holds row r's sum, ready to be stored at once.
// A row's sum is the same fixed tree over its own lanes whichever rows share its block, so results
// do not depend on how rows are grouped or split between threads.
#pragma once

#include <Eigen/Core>

#include "types.hpp"

#if defined(EIGEN_VECTORIZE_AVX) || defined(EIGEN_VECTORIZE_AVX512)
#include <immintrin.h>
#endif

namespace fnn {

namespace row_sums_detail {

// Bit l is set when lane l lies in the second half of its group of 2h lanes.
template <int lanes, int h>
constexpr unsigned upper_halves() {
  unsigned mask = 0;
  for (int l = 0; l < lanes; ++l)
    if ((l / h) % 2 == 1) mask |= 1u << l;
  return mask;
}

// Per packet type: swap<h> exchanges the two halves of every group of 2h lanes; blend<h>(a, b)
// takes a's lanes in the first halves and b's in the second; natural_order undoes the bit-reversed
// order in which the folds leave the rows; load_first / store_first touch only the first `count`
// lanes, and first_or(x, count, fill) keeps x's first `count` lanes and puts fill in the others.
// Keyed by the scalar type, whose packet is this build's widest (__m512 with AVX-512, __m256 with
// AVX2): a vector type as a template argument would lose its alignment attribute. Types without
// these keep folds = false and reduce each row on its own.
template <class S>
struct Lanes {
  static constexpr bool folds = false;
};

#ifdef EIGEN_VECTORIZE_AVX512
template <>
struct Lanes<float> {
  static constexpr bool folds = true;
  template <int h>
  static __m512 swap(__m512 x) {
    if constexpr (h == 8) return _mm512_shuffle_f32x4(x, x, _MM_SHUFFLE(1, 0, 3, 2));
    if constexpr (h == 4) return _mm512_shuffle_f32x4(x, x, _MM_SHUFFLE(2, 3, 0, 1));
    if constexpr (h == 2) return _mm512_permute_ps(x, _MM_SHUFFLE(1, 0, 3, 2));
    if constexpr (h == 1) return _mm512_permute_ps(x, _MM_SHUFFLE(2, 3, 0, 1));
  }
  template <int h>
  static __m512 blend(__m512 a, __m512 b) {
    return _mm512_mask_blend_ps(static_cast<__mmask16>(upper_halves<16, h>()), a, b);
  }
  static __m512 natural_order(__m512 x) {
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15), x);
  }
  static __mmask16 first(Index count) { return static_cast<__mmask16>((1u << count) - 1); }
  static __m512 load_first(const float* p, Index count) { return _mm512_maskz_loadu_ps(first(count), p); }
  static void store_first(float* p, __m512 x, Index count) { _mm512_mask_storeu_ps(p, first(count), x); }
  static __m512 first_or(__m512 x, Index count, float fill) {
    return _mm512_mask_blend_ps(first(count), _mm512_set1_ps(fill), x);
  }
};

template <>
struct Lanes<double> {
  static constexpr bool folds = true;
  template <int h>
  static __m512d swap(__m512d x) {
    if constexpr (h == 4) return _mm512_shuffle_f64x2(x, x, _MM_SHUFFLE(1, 0, 3, 2));
    if constexpr (h == 2) return _mm512_shuffle_f64x2(x, x, _MM_SHUFFLE(2, 3, 0, 1));
    if constexpr (h == 1) return _mm512_permute_pd(x, 0x55);
  }
  template <int h>
  static __m512d blend(__m512d a, __m512d b) {
    return _mm512_mask_blend_pd(static_cast<__mmask8>(upper_halves<8, h>()), a, b);
  }
  static __m512d natural_order(__m512d x) {
    return _mm512_permutexvar_pd(_mm512_setr_epi64(0, 4, 2, 6, 1, 5, 3, 7), x);
  }
  static __mmask8 first(Index count) { return static_cast<__mmask8>((1u << count) - 1); }
  static __m512d load_first(const double* p, Index count) { return _mm512_maskz_loadu_pd(first(count), p); }
  static void store_first(double* p, __m512d x, Index count) { _mm512_mask_storeu_pd(p, first(count), x); }
  static __m512d first_or(__m512d x, Index count, double fill) {
    return _mm512_mask_blend_pd(first(count), _mm512_set1_pd(fill), x);
  }
};
#elif defined(EIGEN_VECTORIZE_AVX2)
template <>
struct Lanes<float> {
  static constexpr bool folds = true;
  template <int h>
  static __m256 swap(__m256 x) {
    if constexpr (h == 4) return _mm256_permute2f128_ps(x, x, 0x01);
    if constexpr (h == 2) return _mm256_permute_ps(x, _MM_SHUFFLE(1, 0, 3, 2));
    if constexpr (h == 1) return _mm256_permute_ps(x, _MM_SHUFFLE(2, 3, 0, 1));
  }
  template <int h>
  static __m256 blend(__m256 a, __m256 b) {
    return _mm256_blend_ps(a, b, upper_halves<8, h>());
  }
  static __m256 natural_order(__m256 x) {
    return _mm256_permutevar8x32_ps(x, _mm256_setr_epi32(0, 4, 2, 6, 1, 5, 3, 7));
  }
  static __m256i first(Index count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static __m256 load_first(const float* p, Index count) { return _mm256_maskload_ps(p, first(count)); }
  static void store_first(float* p, __m256 x, Index count) { _mm256_maskstore_ps(p, first(count), x); }
  static __m256 first_or(__m256 x, Index count, float fill) {
    return _mm256_blendv_ps(_mm256_set1_ps(fill), x, _mm256_castsi256_ps(first(count)));
  }
};

template <>
struct Lanes<double> {
  static constexpr bool folds = true;
  template <int h>
  static __m256d swap(__m256d x) {
    if constexpr (h == 2) return _mm256_permute2f128_pd(x, x, 0x01);
    if constexpr (h == 1) return _mm256_permute_pd(x, 0x5);
  }
  template <int h>
  static __m256d blend(__m256d a, __m256d b) {
    return _mm256_blend_pd(a, b, upper_halves<4, h>());
  }
  static __m256d natural_order(__m256d x) { return _mm256_permute4x64_pd(x, _MM_SHUFFLE(3, 1, 2, 0)); }
  static __m256i first(Index count) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(count), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static __m256d load_first(const double* p, Index count) { return _mm256_maskload_pd(p, first(count)); }
  static void store_first(double* p, __m256d x, Index count) { _mm256_maskstore_pd(p, first(count), x); }
  static __m256d first_or(__m256d x, Index count, double fill) {
    return _mm256_blendv_pd(_mm256_set1_pd(fill), x, _mm256_castsi256_pd(first(count)));
  }
};
#endif

}  // namespace row_sums_detail

// Collects the accumulator packets of a block's rows, four at a time (rows_per_block at most),
// and writes sum + tail + bias for each row of the block.
template <class S>
class RowSums {
  using P = typename Eigen::internal::packet_traits<S>::type;
  using L = row_sums_detail::Lanes<S>;
  static constexpr int W = Eigen::internal::unpacket_traits<P>::size;

 public:
  static constexpr bool folds = L::folds && W >= 4;
  static constexpr Index rows_per_block = folds ? W : 4;

  // Rows 4g … 4g+3 of the block, g counting the calls; the packets of rows past the block's end
  // may hold anything.
  void add4(const P (&acc)[4]) { add4(acc[0], acc[1], acc[2], acc[3]); }
  // (The packets by value: an array passed by reference has its address taken, and GCC then keeps
  // a caller's accumulators in memory as well as in registers, storing them at every step.)
  void add4(P acc0, P acc1, P acc2, P acc3) {
    if constexpr (folds) {
      partial_[groups_++] = fold<W / 4>(fold<W / 2>(acc0, acc1), fold<W / 2>(acc2, acc3));
    } else {
      const P acc[4] = {acc0, acc1, acc2, acc3};
      for (int r = 0; r < 4; ++r) sums_[4 * groups_ + r] = Eigen::internal::predux(acc[r]);
      ++groups_;
    }
  }

  // out_r = scale·(sum_r + tail_r) + b_r for the block's first `count` rows; `tail` (the products of
  // the columns past the last whole packet) may be null. With `delta`, the biases are first
  // updated, b_r ← b_r − α·δ_r, written to `updated_biases` and used. Biases go as packets:
  // a packet read of values just stored one by one waits for every one of those stores.
  // `out` must have room for a whole packet: it is stored as one (0 past `count`), because the
  // loads that soon read it would wait for a masked store to complete.
  void store(S* out, Index count, const S* tail, const S* biases, const S* delta = nullptr, S learning_rate = S(0),
             S* updated_biases = nullptr, S scale = S(1)) {
    using namespace Eigen::internal;
    if constexpr (folds) {
      // Whole packets where the block is whole: masked stores do not forward to later loads.
      auto load = [count](const S* p) { return count == W ? ploadu<P>(p) : L::load_first(p, count); };
      auto store = [count](S* p, const P& x) { count == W ? pstoreu(p, x) : L::store_first(p, x, count); };
      P level[W / 4];
      for (int g = 0; g < W / 4; ++g) level[g] = g < groups_ ? partial_[g] : pset1<P>(S(0));
      fold_down<W / 8>(level, W / 4);
      P sums = L::natural_order(level[0]);
      if (tail) sums = padd(sums, load(tail));
      P b = load(biases);
      if (delta) {
        b = psub(b, pmul(pset1<P>(learning_rate), load(delta)));
        store(updated_biases, b);
      }
      pstoreu(out, padd(pmul(pset1<P>(scale), sums), b));
    } else {
      for (Index r = 0; r < count; ++r) {
        const S b = delta ? biases[r] - learning_rate * delta[r] : biases[r];
        if (delta) updated_biases[r] = b;
        out[r] = scale * (sums_[r] + (tail ? tail[r] : S(0))) + b;
      }
    }
  }

 private:
  template <int h>
  static P fold(P a, P b) {
    return Eigen::internal::padd(L::template blend<h>(a, b), L::template swap<h>(L::template blend<h>(b, a)));
  }
  // Folds pairs of packets with halves h, h/2, …, 1 until one packet is left.
  template <int h>
  static void fold_down(P* packets, int count) {
    if constexpr (h >= 1) {
      for (int k = 0; k < count / 2; ++k) packets[k] = fold<h>(packets[2 * k], packets[2 * k + 1]);
      fold_down<h / 2>(packets, count / 2);
    }
  }

  int groups_ = 0;
  P partial_[folds ? W / 4 : 1];
  S sums_[folds ? 1 : rows_per_block];
};

}  // namespace fnn
