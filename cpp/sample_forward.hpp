// The forward pass for prediction, each sample by the per-sample kernel's products. Each net input
// is a dot product whose sum is a fixed tree over the sample's own lanes (dot_blocks_samples,
// row_sums.hpp), and every sample's vectors sit in padded buffers alike: a sample's prediction is
// the same bit for bit whichever rows share its call, with no padding rows (a one-row call of a
// BLAS product of 16 rows costs several times the network's arithmetic).
// Samples go through the network in passes of up to samples_per_pass, layer by layer; within a
// layer, each block of W's rows (all of W when it fits L1) meets the pass's samples `together`
// at a time while it stays in cache, so W is read from memory once per pass, not once per sample.
// No weights are copied or transposed: users may write into the weight arrays between calls.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "input_scaling.hpp"
#include "losses.hpp"
#include "network.hpp"
#include "sgd_per_sample.hpp"
#include "vector_kernels.hpp"

namespace fnn {

template <class S>
class SampleForward {
 public:
  // Samples per group: their accumulators (4 rows of W each) and the packets of their inputs fit
  // AVX-512's 32 registers for four, AVX2's 16 for two.
#ifdef EIGEN_VECTORIZE_AVX512
  static constexpr int together = 4;
#else
  static constexpr int together = 2;
#endif
  // Samples per pass: their inputs (32 × 4 KB for a layer of 1,024 float32 inputs) stay in L2 with
  // a block of W's rows. Measured: 32 is as fast as 64 for layers of 784 inputs, and faster for
  // layers of 1,024-3,072 inputs at 256 rows (within 5% of OpenBLAS's products there, where 64
  // and more fall 10-20% behind).
  static constexpr Index samples_per_pass = 32;
  static constexpr Index l1_bytes = 32 << 10;  // a layer's W up to this size is one run of rows

  // For calls of up to `rows` samples at a time, whose inputs are scaled by `scaling` (if any).
  SampleForward(const Network<S>& net, Index rows, InputScaling<S> scaling = {}) : net_(net), scaling_(scaling) {
    constexpr Index W = simd::width<S>;
    const Index capacity = std::max<Index>(1, std::min(rows, samples_per_pass));
    for (const auto& layer : net.layers) {
      net_input_.push_back(RowMatrix<S>::Zero(capacity, PerSampleBuffers<S>::padded(layer.net_inputs())));
      activation_.push_back(RowMatrix<S>::Zero(capacity, PerSampleBuffers<S>::padded(layer.units)));
      const Index whole = layer.fan_in / W * W;  // each row's last fan_in mod W weights, as one packet
      RowVector<S> tail = RowVector<S>::Zero(whole < layer.fan_in ? layer.net_inputs() * W : 0);
      for (Index i = 0; i < layer.net_inputs() && whole < layer.fan_in; ++i)
        for (Index c = whole; c < layer.fan_in; ++c) tail[i * W + c - whole] = layer.weights[i * layer.fan_in + c];
      weight_tails_.push_back(std::move(tail));
    }
    input_tails_ = RowVector<S>::Zero(capacity * W);
  }

  // ŷ of `count` samples, sample s's m⁽⁰⁾ features at x(s) (scaled first, if so made), into
  // y_hat(s) (a row of m⁽ᴸ⁾): z = W a + b (4.30), a = f(z) (4.31), then the output layer on the
  // padded buffer, whole packets, the same path for every sample.
  template <class Input, class Out>
  void operator()(Index count, Input&& x, Out&& y_hat) {
    for (Index first = 0; first < count; first += samples_per_pass) {
      const Index samples = std::min(samples_per_pass, count - first);
      // The inputs are read in place only where every row starts a cache line: a packet load that
      // straddles two lines costs two, and NumPy's large arrays start 16 bytes into a line (the
      // products of a 784-input layer ran at 0.6-0.8 times the speed they have on aligned rows).
      bool in_place = !scaling_;
      for (Index s = 0; s < samples && in_place; ++s)
        in_place = reinterpret_cast<std::uintptr_t>(x(first + s)) % 64 == 0;
      const Index m = net_.inputs();
      if (!in_place && inputs_.rows() == 0)  // (made when first needed; only the first m columns are read)
        inputs_.resize(net_input_.front().rows(), PerSampleBuffers<S>::padded(m));
      for (Index s = 0; s < samples && !in_place; ++s) {
        if (scaling_)
          scaling_.apply(x(first + s), inputs_.row(s).data(), m);
        else
          std::copy(x(first + s), x(first + s) + m, inputs_.row(s).data());
      }
      auto input = [&](Index s) -> const S* { return in_place ? x(first + s) : inputs_.row(s).data(); };
      for (std::size_t l = 0; l < net_.layers.size(); ++l)
        layer_pass(l, samples, [&](Index s) { return l == 0 ? input(s) : activation_[l - 1].row(s).data(); });
      const Index units = net_.outputs();
      for (Index s = 0; s < samples; ++s) {
        predict_output_sample(net_.output, net_input_.back().row(s).data(), units, activation_.back().row(s).data());
        y_hat(first + s) = activation_.back().row(s).head(units);
      }
    }
  }

 private:
  // z⁽ˡ⁾ (and a⁽ˡ⁾ below the output layer) of the pass's first `samples` samples, a⁽ˡ⁻¹⁾ of
  // sample s at input(s).
  template <class Input>
  void layer_pass(std::size_t l, Index samples, Input&& input) {
    constexpr Index B = RowSums<S>::rows_per_block;
    constexpr int Q = together;
    const Layer<S>& layer = net_.layers[l];
    if (weight_tail(l))
      for (Index s = 0; s < samples; ++s) copy_tail(input(s), layer.fan_in, input_tails_.data() + s * simd::width<S>);
    // W's rows in runs met by every group of samples in turn: a layer whose W fits L1 as one run
    // (the fewest calls), a larger one a block of rows at a time (read from memory once per pass).
    const Index run = layer.net_inputs() * layer.fan_in * Index(sizeof(S)) <= l1_bytes ? layer.net_inputs() : B;
    for (Index i0 = 0; i0 < layer.net_inputs(); i0 += run) {
      const Index rows = std::min(run, layer.net_inputs() - i0);
      Index s = 0;
      for (; s + Q <= samples; s += Q) block<Q>(layer, l, i0, rows, s, input);
      detail::unrolled<Q - 1>([&](auto q) {  // the last samples, fewer than Q
        if (samples - s == decltype(q)::value + 1) block<decltype(q)::value + 1>(layer, l, i0, rows, s, input);
      });
    }
    if (l + 1 < net_.layers.size())
      for (Index s = 0; s < samples; ++s) {
        auto z = net_input_[l].row(s), a = activation_[l].row(s);
        activate_sample(layer, z, a, 0, layer.units);
      }
  }

  // The rows [i0, i0 + rows) of W⁽ˡ⁾ for the samples s, …, s + Qc − 1.
  template <int Qc, class Input>
  void block(const Layer<S>& layer, std::size_t l, Index i0, Index rows, Index s, Input&& input) {
    const S* a[Qc];
    S* z[Qc];
    simd::Packet<S> a_tail[Qc];
    for (int q = 0; q < Qc; ++q) {
      a[q] = input(s + q);
      z[q] = net_input_[l].row(s + q).data();
      a_tail[q] = simd::ploadu<simd::Packet<S>>(input_tails_.data() + (s + q) * simd::width<S>);
    }
    dot_blocks_samples<Qc>(layer.weights, layer.fan_in, i0, rows, weight_tail(l), a, a_tail, layer.fan_in, layer.biases,
                           z);
  }

  // Layer l's rows' last fan_in mod W weights, one packet per row (null when fan_in is whole packets).
  const S* weight_tail(std::size_t l) const { return weight_tails_[l].size() ? weight_tails_[l].data() : nullptr; }

  const Network<S>& net_;
  InputScaling<S> scaling_;
  RowMatrix<S> inputs_;  // a pass's a⁽⁰⁾ when scaled or not aligned to cache lines, rows padded to whole lines
  std::vector<RowMatrix<S>> net_input_, activation_;  // per layer: a pass's samples, padded rows
  std::vector<RowVector<S>> weight_tails_;            // per layer (empty when fan_in is whole packets)
  RowVector<S> input_tails_;  // per sample of a pass: its last fan_in mod W inputs, one packet each
};

}  // namespace fnn
