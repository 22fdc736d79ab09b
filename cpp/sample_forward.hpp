// One sample's forward pass by the per-sample kernel's products, for prediction with small networks.
// Each net input is a dot product whose sum is a fixed tree over the sample's own lanes (dot_rows,
// row_sums.hpp), and every vector sits in the same padded, aligned buffer for every sample: a
// sample's prediction is the same bit for bit whichever rows share its call, with no padding rows
// (a one-row call of a BLAS product of 16 rows costs several times the network's arithmetic).
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
  explicit SampleForward(const Network<S>& net) : net_(net) {
    for (const auto& layer : net.layers) {
      net_input_.push_back(RowVector<S>::Zero(PerSampleBuffers<S>::padded(layer.net_inputs())));
      activation_.push_back(RowVector<S>::Zero(PerSampleBuffers<S>::padded(layer.units)));
    }
  }

  // ŷ of the sample x (its m⁽⁰⁾ features) into y_hat: z = W a + b (4.30) by dot_rows, a = f(z) (4.31),
  // then the output layer on the padded buffer (so its exponentials take the same path for every sample).
  template <class Out>
  void operator()(const S* x, Out&& y_hat) {
    const std::size_t L = net_.layers.size();
    for (std::size_t l = 0; l < L; ++l) {
      const Layer<S>& layer = net_.layers[l];
      const S* a = l == 0 ? x : activation_[l - 1].data();
      dot_rows(layer.weights, layer.fan_in, layer.net_inputs(), a, layer.fan_in, layer.biases, net_input_[l].data());
      if (l + 1 < L) activate_sample(layer, net_input_[l], activation_[l], 0, layer.units);
    }
    const Index units = net_.outputs();
    auto z = net_input_.back().head(units);
    auto out = activation_.back().head(units);
    output_activation<S>(net_.output, z, out, true);
    y_hat = out;
  }

 private:
  const Network<S>& net_;
  std::vector<RowVector<S>> net_input_, activation_;
};

}  // namespace fnn
