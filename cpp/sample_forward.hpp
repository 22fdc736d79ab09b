// The forward pass of small networks for prediction, each sample by the per-sample kernel's products.
// Each net input is a dot product whose sum is a fixed tree over the sample's own lanes
// (dot_rows_samples, row_sums.hpp), and every sample's vectors sit in padded buffers alike: a
// sample's prediction is the same bit for bit whichever rows share its call, with no padding rows
// (a one-row call of a BLAS product of 16 rows costs several times the network's arithmetic).
// Several samples go through each layer together, sharing the reads of W.
#pragma once

#include <vector>

#include "losses.hpp"
#include "network.hpp"
#include "sgd_per_sample.hpp"
#include "vector_kernels.hpp"

namespace fnn {

template <class S>
class SampleForward {
 public:
  // Samples per pass through the layers: their accumulators (4 rows of W each) and the packets of
  // their inputs fit AVX-512's 32 registers for four, AVX2's 16 for two.
#ifdef EIGEN_VECTORIZE_AVX512
  static constexpr int together = 4;
#else
  static constexpr int together = 2;
#endif

  explicit SampleForward(const Network<S>& net) : net_(net) {
    constexpr Index W = simd::width<S>;
    for (int q = 0; q < together; ++q) {
      for (const auto& layer : net.layers) {
        net_input_[q].push_back(RowVector<S>::Zero(PerSampleBuffers<S>::padded(layer.net_inputs())));
        activation_[q].push_back(RowVector<S>::Zero(PerSampleBuffers<S>::padded(layer.units)));
      }
    }
    for (const auto& layer : net.layers) {  // each row's last fan_in mod W weights, as one packet
      const Index whole = layer.fan_in / W * W;
      RowVector<S> tail = RowVector<S>::Zero(whole < layer.fan_in ? layer.net_inputs() * W : 0);
      for (Index i = 0; i < layer.net_inputs() && whole < layer.fan_in; ++i)
        for (Index c = whole; c < layer.fan_in; ++c) tail[i * W + c - whole] = layer.weights[i * layer.fan_in + c];
      weight_tails_.push_back(std::move(tail));
    }
  }

  // ŷ of the samples x[0 … count) (each its m⁽⁰⁾ features; count ≤ together) into y_hat(q) for each:
  // z = W a + b (4.30), a = f(z) (4.31), then the output layer on the padded buffer, so that its
  // exponentials take the same path for every sample.
  template <class Out>
  void operator()(const S* const (&x)[together], int count, Out&& y_hat) {
    const std::size_t L = net_.layers.size();
    for (std::size_t l = 0; l < L; ++l) {
      const Layer<S>& layer = net_.layers[l];
      const S* tail = weight_tails_[l].size() ? weight_tails_[l].data() : nullptr;
      const S* a[together];
      S* z[together];
      for (int q = 0; q < together; ++q) {
        const int slot = q < count ? q : 0;  // missing samples repeat the first, their results unused
        a[q] = l == 0 ? x[slot] : activation_[slot][l - 1].data();
        z[q] = net_input_[q][l].data();
      }
      if (count == 1)  // (a one-row call: the same sums, for one sample)
        dot_rows_samples<1>(layer.weights, layer.fan_in, layer.net_inputs(), tail, {a[0]}, layer.fan_in, layer.biases,
                            {z[0]});
      else
        dot_rows_samples<together>(layer.weights, layer.fan_in, layer.net_inputs(), tail, a, layer.fan_in, layer.biases,
                                   z);
      if (l + 1 < L)
        for (int q = 0; q < count; ++q) activate_sample(layer, net_input_[q][l], activation_[q][l], 0, layer.units);
    }
    const Index units = net_.outputs();
    for (int q = 0; q < count; ++q) {
      auto z = net_input_[q].back().head(units);
      auto out = activation_[q].back().head(units);
      output_activation<S>(net_.output, z, out, true);
      y_hat(q) = out;
    }
  }

 private:
  const Network<S>& net_;
  std::vector<RowVector<S>> net_input_[together], activation_[together];
  std::vector<RowVector<S>> weight_tails_;  // per layer (empty when fan_in is whole packets)
};

}  // namespace fnn
