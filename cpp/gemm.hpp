// Matrix products of the mini-batch path: C ← α·op(A)·op(B) + β·C on row-major blocks.
// With scipy-openblas32 (PyPI's build of OpenBLAS, whose kernels are chosen for the CPU at run
// time) the product runs on OpenBLAS's own threads, about 1.4× faster than Eigen's kernels on
// these shapes; without it, Eigen computes the same expression. β folds the update's weight
// decay into the product: W ← (1 − αλ)W − (α/B)·δᵀA in one pass over W.
#pragma once

#include "types.hpp"

#ifdef FNN_USE_OPENBLAS
#include <cblas.h>
#endif

namespace fnn {

inline constexpr bool gemm_uses_openblas() {
#ifdef FNN_USE_OPENBLAS
  return true;
#else
  return false;
#endif
}

inline void set_gemm_threads(int threads) {
#ifdef FNN_USE_OPENBLAS
  if (scipy_openblas_get_num_threads() != threads) scipy_openblas_set_num_threads(threads);
#else
  Eigen::setNbThreads(threads);
#endif
}

template <class S, class A, class B, class C>
void gemm(bool transpose_a, bool transpose_b, S alpha, const A& a, const B& b, S beta, C&& c) {
  static_assert(A::IsRowMajor && B::IsRowMajor && std::decay_t<C>::IsRowMajor, "gemm takes row-major blocks");
  const Index k = transpose_a ? a.rows() : a.cols();
  if (c.rows() == 0 || c.cols() == 0) return;
#ifdef FNN_USE_OPENBLAS
  const auto ta = transpose_a ? CblasTrans : CblasNoTrans;
  const auto tb = transpose_b ? CblasTrans : CblasNoTrans;
  const auto m = static_cast<blasint>(c.rows()), n = static_cast<blasint>(c.cols()), kk = static_cast<blasint>(k);
  const auto lda = static_cast<blasint>(a.outerStride()), ldb = static_cast<blasint>(b.outerStride()),
             ldc = static_cast<blasint>(c.outerStride());
  if constexpr (std::is_same_v<S, float>)
    scipy_cblas_sgemm(CblasRowMajor, ta, tb, m, n, kk, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  else
    scipy_cblas_dgemm(CblasRowMajor, ta, tb, m, n, kk, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
#else
  (void)k;
  if (beta == S(0))
    c.setZero();
  else if (beta != S(1))
    c *= beta;
  if (transpose_a && transpose_b)
    c.noalias() += alpha * a.transpose() * b.transpose();
  else if (transpose_a)
    c.noalias() += alpha * a.transpose() * b;
  else if (transpose_b)
    c.noalias() += alpha * a * b.transpose();
  else
    c.noalias() += alpha * a * b;
#endif
}

}  // namespace fnn
