// Layout types shared by the engine. NumPy arrays are C-ordered, so every matrix is row-major:
// a column-major Eigen type on a NumPy buffer would force a silent copy.
#pragma once

#include <Eigen/Core>

// Inlining directives for the kernels whose register allocation depends on them (vector_kernels.hpp).
#if defined(_MSC_VER)
#define FNN_NOINLINE __declspec(noinline)
#define FNN_ALWAYS_INLINE __forceinline
#else
#define FNN_NOINLINE __attribute__((noinline))
#define FNN_ALWAYS_INLINE inline __attribute__((always_inline))
#endif

namespace fnn {

using Index = Eigen::Index;

template <class S>
using RowMatrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class S>
using RowVector = Eigen::Matrix<S, 1, Eigen::Dynamic>;
template <class S>
using ColVector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

template <class S>
using MatrixMap = Eigen::Map<RowMatrix<S>>;
template <class S>
using ConstMatrixMap = Eigen::Map<const RowMatrix<S>>;
template <class S>
using RowVectorMap = Eigen::Map<RowVector<S>>;

// A view of `rows` consecutive rows of a row-major buffer.
template <class S>
using RowBlock = Eigen::Block<RowMatrix<S>, Eigen::Dynamic, Eigen::Dynamic, true>;

}  // namespace fnn
