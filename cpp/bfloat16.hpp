// bfloat16 copies of float32 matrices, the operands of the bfloat16 products: the top 16 bits
// of a float, rounded to nearest even (as the AVX512-BF16 instruction VCVTNEPS2BF16 rounds), so
// a copy made here equals one made by the CPU. Written as integer arithmetic that the compiler
// vectorises on every instruction set; NaN stays NaN.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

#include "types.hpp"

namespace fnn {

using bfloat16 = Eigen::bfloat16;

inline std::uint16_t bfloat16_bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
  const std::uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return static_cast<std::uint16_t>(nan ? (u >> 16) | 0x40u : rounded);
}

// Rounds `rows` × `cols` floats (row stride `from_stride`) into bfloat16 (row stride `to_stride`).
inline void round_to_bfloat16(const float* from, Index from_stride, bfloat16* to, Index to_stride, Index rows,
                              Index cols) {
  for (Index r = 0; r < rows; ++r) {
    const float* in = from + r * from_stride;
    std::uint16_t* out = reinterpret_cast<std::uint16_t*>(to + r * to_stride);
    for (Index c = 0; c < cols; ++c) out[c] = bfloat16_bits(in[c]);
  }
}

// Rounds the rows `order[first … first+rows)` of X (identity order if null) into rows `to …` of
// `into`: a step's bfloat16 a⁽⁰⁾, gathered and rounded in one pass.
template <class X>
void gather_bfloat16(const X& x, const std::int64_t* order, Index first, Index rows, RowMatrix<bfloat16>& into,
                     Index to) {
  for (Index r = 0; r < rows; ++r) {
    const Index n = order ? static_cast<Index>(order[first + r]) : first + r;
    round_to_bfloat16(x.data() + n * x.outerStride(), 0, into.data() + (to + r) * into.outerStride(), 0, 1, x.cols());
  }
}

// The same for Eigen blocks of the same shape.
template <class From, class To>
void round_to_bfloat16(const From& from, To&& to) {
  round_to_bfloat16(from.data(), from.outerStride(), to.data(), to.outerStride(), from.rows(), from.cols());
}

// bfloat16 copies of a mini-batch step's operands: a⁽⁰⁾, the hidden a⁽ˡ⁾, every δ⁽ˡ⁾ and W⁽ˡ⁾,
// shaped like the float32 originals so that a slice's block has the same offsets in both.
struct BfloatOperands {
  RowMatrix<bfloat16> input;
  std::vector<RowMatrix<bfloat16>> activation, delta, weights;

  BfloatOperands() = default;
  template <class Net>
  BfloatOperands(const Net& net, Index capacity) : input(capacity, net.inputs()) {
    for (const auto& layer : net.layers) {
      activation.emplace_back(capacity, layer.units);
      delta.emplace_back(capacity, layer.net_inputs());
      weights.emplace_back(layer.net_inputs(), layer.fan_in);
    }
  }
};

// The bfloat16 instructions of this CPU that oneDNN's kernels use: "amx_bf16", "avx512_bf16",
// or "" when it has neither (then bfloat16 products are refused: emulated they would be slower
// than float32). Both need the operating system to save the AVX-512 registers (XCR0).
inline std::string bfloat16_instructions() {
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(1, 0, &a, &b, &c, &d) || !(c & (1u << 27))) return "";  // OSXSAVE
  unsigned xcr0_low = 0, xcr0_high = 0;
  __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  if ((xcr0_low & 0xe6u) != 0xe6u) return "";                                    // the OS keeps the AVX-512 state
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 16))) return "";  // AVX512F
  const bool amx = d & (1u << 22);
  unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
  const bool avx512_bf16 = __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) && (a1 & (1u << 5));
  if (amx && (xcr0_low & (3u << 17)) == (3u << 17)) return "amx_bf16";
  if (avx512_bf16) return "avx512_bf16";
#endif
  return "";
}

}  // namespace fnn
