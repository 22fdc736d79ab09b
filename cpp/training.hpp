// The loops that Python calls once per epoch (or once per evaluation): Algorithm 4.1's SGD epoch,
// the risk (4.39) and its gradient, and inference. All work on fixed-size chunks of rows through
// one Workspace, so memory stays bounded however many samples there are.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "helpers.hpp"
#include "input_scaling.hpp"
#include "network.hpp"
#include "optimisers.hpp"
#include "sgd_mini_batch.hpp"
#include "sample_forward.hpp"
#include "sgd_per_sample.hpp"
#include "stop_poller.hpp"
#include "threads.hpp"

namespace fnn {

// An optimiser's step (optimisers.hpp) for a batch of B rows: the mean gradient δᵀa/B, Σδ/B,
// ∂L/∂γ/B into buffers shaped like the parameters, then the rule applied to each array.
// With clipping (`deferred`), the visitor only fills the buffers; apply_all then scales them and
// applies the rule once the whole gradient, hence its norm, is known.
template <class S, class Rule>
struct RuleStep {
  const Rule& rule;
  const std::vector<LayerState<S>>& state;
  const std::vector<Layer<S>>& grads;  // views of the buffers
  Index rows;
  bool deferred;

  template <class Delta, class APrev>
  void layer(std::size_t l, const Layer<S>& layer, const Delta& delta, const APrev& a_prev, RowVector<S>& scratch) {
    const S mean = S(1) / static_cast<S>(rows);
    const Layer<S>& g = grads[l];
    gemm<S>(true, false, mean, delta, a_prev, S(0), g.W());
    g.b().setZero();
    add_column_sums(delta, mean, g.b(), scratch);
    if (!deferred) apply_layer(l, layer);
  }
  template <class Grad>
  void slopes(std::size_t l, const Layer<S>& layer, const Grad& grad) {
    grads[l].gamma_i() = grad / static_cast<S>(rows);
    if (!deferred) apply_slopes(l, layer);
  }

  void apply_layer(std::size_t l, const Layer<S>& layer) const {
    apply_rows(rule.bind(state[l].weights, true), layer.weights, grads[l].weights, 0, layer.net_inputs(), layer.fan_in,
               layer.fan_in);
    apply_rows(rule.bind(state[l].biases, false), layer.biases, grads[l].biases, 0, 1, layer.net_inputs(),
               layer.net_inputs());
  }
  void apply_slopes(std::size_t l, const Layer<S>& layer) const {
    apply_rows(rule.bind(state[l].slopes, false), layer.slopes, grads[l].slopes, 0, 1, layer.n_slopes, layer.n_slopes);
  }
  // Clipping: every array's gradient scaled by one factor, then the rule.
  void apply_all(const Network<S>& net) const {
    double total = 0;
    for (const Layer<S>& g : grads) {
      total += sum_of_squares(g.weights, 1, g.net_inputs() * g.fan_in, 0);
      total += sum_of_squares(g.biases, 1, g.net_inputs(), 0);
      if (g.slopes) total += sum_of_squares(g.slopes, 1, g.n_slopes, 0);
    }
    const S factor = clip_factor(total, rule.clip_norm);
    for (std::size_t l = 0; l < grads.size(); ++l) {
      const Layer<S>& g = grads[l];
      scale_block(factor, g.weights, 1, g.net_inputs() * g.fan_in, 0);
      scale_block(factor, g.biases, 1, g.net_inputs(), 0);
      apply_layer(l, net.layers[l]);
      if (g.slopes) {
        scale_block(factor, g.slopes, 1, g.n_slopes, 0);
        apply_slopes(l, net.layers[l]);
      }
    }
  }
};

// Sums (4.61), (4.62) and the PReLU slope gradient over rows into arrays shaped like the parameters.
template <class S>
struct GradientSum {
  const std::vector<Layer<S>>& grads;
  bool first = true;  // the first chunk's sums overwrite the buffers: no pass to zero W's first

  template <class Delta, class APrev>
  void layer(std::size_t l, const Layer<S>&, const Delta& delta, const APrev& a_prev, RowVector<S>& scratch) {
    gemm<S>(true, false, S(1), delta, a_prev, first ? S(0) : S(1), grads[l].W());
    if (first) grads[l].b().setZero();
    add_column_sums(delta, S(1), grads[l].b(), scratch);
  }
  template <class Grad>
  void slopes(std::size_t l, const Layer<S>&, const Grad& grad) {
    if (first)
      grads[l].gamma_i() = grad;
    else
      grads[l].gamma_i().noalias() += grad;
  }
};

// Slices worth cutting a mini-batch step into: each slice's forward products must be about a
// million multiply-adds or more, to outweigh the barriers between them and the start of a team
// (so a 64-64-10 network at B = 32 is one slice, 784-256-256-10 at B = 32 two).
template <class S>
int mini_batch_slices(const Network<S>& net, Index rows, int requested) {
  const Index per_slice_minimum = Index(1) << 20;  // multiply-adds of one step's forward pass
  return static_cast<int>(
      std::max<Index>(1, std::min<Index>(requested, parameter_count(net) * rows / per_slice_minimum)));
}

// One epoch of SGD, or of another update rule, over the samples in `order`, cut for `threads`
// threads (the weights depend on that number and the data, never on how many threads actually
// run). `should_stop` is asked through a StopPoller.
template <class S, class Rule, class StopCheck>
EpochResult train_epoch_with(const Network<S>& net, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T,
                             const S* sample_weight, const std::int64_t* order, Index n, Rule rule, Index batch,
                             int threads, ThreadPolicy& policy, StopCheck&& should_stop,
                             bool bfloat16_products = false) {
  if (bfloat16_products && batch < 2)
    throw std::invalid_argument("bfloat16 products run in the mini-batch kernel: batch_size must be at least 2");
  // (Clipping needs each step's whole gradient, which the per-sample kernel never forms.)
  if (batch == 1 && !clips(rule)) {
    const int training_threads = per_sample_threads(net, threads);
    // A network trained on one thread leaves the others idle: one of them stages the samples,
    // when they are too many to stay in cache.
    const Index row_bytes = (X.cols() + T.cols()) * static_cast<Index>(sizeof(S));
    const bool staging = training_threads == 1 && threads > 1 && n * row_bytes >= (Index(2) << 20);
    return train_epoch_per_sample(net, X, T, sample_weight, order, n, rule, training_threads, staging, policy,
                                  should_stop);
  }
  // (One slice on one thread when not worth more.) oneDNN's bfloat16 products round a result in
  // ways that depend on the product's width, so that a slice's result would change with the
  // slicing: their steps are cut into at least two slices, and one thread or two give the same
  // weights (one thread takes both slices in turn).
  return train_epoch_sliced(
      net, X, T, sample_weight, order, n, rule, batch,
      mini_batch_slices(net, std::min(batch, n), bfloat16_products ? std::max(2, threads) : threads), policy,
      should_stop, bfloat16_products, threads);
}

template <class S, class StopCheck>
EpochResult train_epoch(const Network<S>& net, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T,
                        const S* sample_weight, const std::int64_t* order, Index n, const OptimiserSettings& settings,
                        const std::vector<LayerState<S>>& state, int threads, ThreadPolicy& policy,
                        StopCheck&& should_stop, bool bfloat16_products = false) {
  return with_rule<S>(settings, &state, [&](const auto& rule) {
    return train_epoch_with(net, X, T, sample_weight, order, n, rule, settings.batch_size, threads, policy, should_stop,
                            bfloat16_products);
  });
}

// OpenBLAS picks its kernels by a product's size, and they round a row's sums differently: the
// same sample's prediction could differ in the last bit with the number of rows predicted with it.
// Calls of up to kExactEvaluationRows rows (scikit-learn's checks, served models, most scoring
// calls) are therefore evaluated one sample at a time by the per-sample kernel's products
// (SampleForward), whose sums do not depend on the other rows, and a sample's prediction is the
// same in every such call, whatever the thread count. W's blocks of rows meet a pass of samples
// while in cache, which is as fast as OpenBLAS's products on layers of hundreds of inputs (and
// faster for a few rows: no packing). Larger calls (batch scoring, where BLAS products of whole
// chunks are up to 1.5 times as fast on layers of tens of inputs) take BLAS products.
// Without AVX-512 (AVX2's 16 registers hold the sums of two samples, not four), OpenBLAS's products
// are 1.5 times as fast as the per-sample ones on layers of hundreds of inputs: there, networks of
// more than kExactEvaluationParameters take BLAS products at every size, as smaller ones do above
// kExactEvaluationRows rows.
inline constexpr Index kExactEvaluationRows = 512;
inline constexpr Index kExactEvaluationParameters = Index(1) << 13;

template <class S>
bool exact_evaluation(const Network<S>& net, Index n) {
  return n <= kExactEvaluationRows &&
         (SampleForward<S>::together >= 4 || parameter_count(net) <= kExactEvaluationParameters);
}

// Runs body(workspace, first row, rows) over the chunks of `n` rows, the chunks shared among up to
// `threads` OpenMP threads, each with its own workspace of a chunk's rows and single-threaded
// matrix products: evaluation then leaves no BLAS worker spinning against the per-sample kernel's
// threads. Each thread gets at least about a million multiply-adds, or starting it costs more
// than it saves.
template <class S, class Body>
void for_each_chunk(const Network<S>& net, Index n, Index chunk, int threads, const ThreadPolicy& policy, Body&& body) {
  const Index chunks = (n + chunk - 1) / chunk;
  const Index worth = std::max<Index>(1, n * parameter_count(net) / (Index(1) << 20));
  threads = policy.team(static_cast<int>(std::max<Index>(1, std::min<Index>({Index(threads), chunks, worth}))));
  set_gemm_threads(1);
  if (threads == 1) {  // no OpenMP region: even a team of one costs a one-row prediction a futex call
    Workspace<S> ws = net.make_workspace(std::min(chunk, n));
    for (Index c = 0; c < chunks; ++c) body(ws, c * chunk, std::min(chunk, n - c * chunk));
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    team_size();
    Workspace<S> ws = net.make_workspace(std::min(chunk, n));
#pragma omp for schedule(static)
    for (Index c = 0; c < chunks; ++c) {
      const Index first = c * chunk;
      body(ws, first, std::min(chunk, n - first));
    }
  }
}

// Σ of the loss over the rows `rows[0 … n)` of X (all rows if null), with no regularisation term.
// Per-chunk sums are added in chunk order, so the result does not depend on the thread count.
template <class S>
double loss_sum(const Network<S>& net, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T, const S* sample_weight,
                const std::int64_t* rows, Index n, Index chunk, int threads, const ThreadPolicy& policy) {
  std::vector<double> partial((n + chunk - 1) / chunk, 0.0);
  for_each_chunk(net, n, chunk, threads, policy, [&](Workspace<S>& ws, Index first, Index count) {
    gather(ws, X, &T, sample_weight, rows, first, count);
    net.forward(ws, count);
    partial[first / chunk] = static_cast<double>(net.loss(ws, count, false, sample_weight != nullptr));
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

// Σ of the loss and, into `grads` (zeroed first), Σ of its gradient over the rows `rows[0 … n)`
// of X (all rows if null).
template <class S>
double loss_and_gradient_sums(const Network<S>& net, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T,
                              const S* sample_weight, const std::int64_t* order, Index n, Workspace<S>& ws,
                              const std::vector<Layer<S>>& grads) {
  if (n == 0) {
    for (const auto& g : grads) {
      g.W().setZero();
      g.b().setZero();
      if (g.slopes) g.gamma_i().setZero();
    }
  }
  GradientSum<S> sum{grads};
  double total = 0;
  for (Index first = 0; first < n; first += ws.capacity) {
    const Index rows = std::min(ws.capacity, n - first);
    gather(ws, X, &T, sample_weight, order, first, rows);
    net.forward(ws, rows);
    total += static_cast<double>(net.loss(ws, rows, true, sample_weight != nullptr));
    net.backward(ws, rows, sum);
    sum.first = false;
  }
  return total;
}

// One update from gradient sums over `count` samples: the mean gradient (`grads` is scaled in
// place), clipped and handed to the rule as the mini-batch kernels do it. It is the step of
// data-parallel training, whose sums add up several processes' parts of one batch. Plain SGD takes
// the rule of its clipped form, W ← W − α(g + λW), the same step up to rounding.
template <class S, class Rule>
void apply_gradient_step(const Network<S>& net, Rule rule, const std::vector<LayerState<S>>& state,
                         const std::vector<Layer<S>>& grads) {
  rule.begin_step();
  const RuleStep<S, Rule> step{rule, state, grads, 1, clips(rule)};
  if (step.deferred) return step.apply_all(net);
  for (std::size_t l = 0; l < grads.size(); ++l) {
    step.apply_layer(l, net.layers[l]);
    if (grads[l].slopes) step.apply_slopes(l, net.layers[l]);
  }
}

template <class S>
void apply_gradient_sums(const Network<S>& net, const std::vector<Layer<S>>& grads, double count,
                         const OptimiserSettings& settings, const std::vector<LayerState<S>>& state) {
  const S learning_rate = static_cast<S>(settings.learning_rate), l2 = static_cast<S>(settings.l2);
  const S mean = static_cast<S>(1.0 / count);
  for (const Layer<S>& g : grads) {
    scale_block(mean, g.weights, 1, g.net_inputs() * g.fan_in, 0);
    scale_block(mean, g.biases, 1, g.net_inputs(), 0);
    if (g.slopes) scale_block(mean, g.slopes, 1, g.n_slopes, 0);
  }
  with_rule<S>(settings, &state, [&](const auto& rule) {
    if constexpr (std::decay_t<decltype(rule)>::plain)
      apply_gradient_step(net, GradientRule<S>{learning_rate, l2, &state, S(0)}, state, grads);
    else
      apply_gradient_step(net, rule, state, grads);
  });
}

// ŷ = a⁽ᴸ⁾ for the rows `rows[0 … n)` of X (all rows if null), written into the n rows of `out`.
// The inputs are scaled by `scaling` as they are read, if it is given.
template <class S>
void predict(const Network<S>& net, const ConstMatrixMap<S>& X, const std::int64_t* rows, Index n, MatrixMap<S>& out,
             Index chunk, int threads, const ThreadPolicy& policy, InputScaling<S> scaling = {}) {
  if (exact_evaluation(net, n)) {  // see SampleForward
    // Passes of samples shared by the calling thread with helpers that wake in time (not an OpenMP
    // team, whose end waits for every thread: see Helpers), each thread given a million
    // multiply-adds at least, while the judge finds they pay. A sample's output is the same
    // whichever thread computes it.
    const Index pass = SampleForward<S>::samples_per_pass, passes = (n + pass - 1) / pass;
    const Index worth = std::max<Index>(1, n * parameter_count(net) / (Index(1) << 20));
    const Index wanted = std::min<Index>({Index(threads), Index(team_limit()), passes, worth});
    const int team = policy.team(static_cast<int>(std::max<Index>(1, wanted)));
    const bool welcome = team > 1 && policy.helper_judge.welcome();
    std::optional<SampleForward<S>> forward[Helpers::most + 1];  // one per thread, made by it
    const auto start = WaitClock::now();
    const bool helped = Helpers::instance().run(passes, welcome ? team - 1 : 0, [&](Index p, int worker) {
      if (!forward[worker]) forward[worker].emplace(net, n, scaling);
      const Index first = p * pass;
      (*forward[worker])(
          std::min(pass, n - first),
          [&](Index s) { return X.data() + (rows ? rows[first + s] : first + s) * X.outerStride(); },
          [&](Index s) { return out.row(first + s); });
    });
    if (team > 1)
      policy.helper_judge.note(helped, static_cast<long long>(n),
                               std::chrono::duration<double>(WaitClock::now() - start).count());
    return;
  }
  for_each_chunk(net, n, chunk, threads, policy, [&](Workspace<S>& ws, Index first, Index count) {
    if (!rows && !scaling) {  // consecutive rows: read them where they are
      net.forward_from(X.middleRows(first, count), ws, true);
    } else {
      gather<S>(ws, X, nullptr, nullptr, rows, first, count);
      if (scaling) scaling.apply_to_rows(ws.input.topRows(count));
      net.forward(ws, count, true);
    }
    out.middleRows(first, count) = ws.activation.back().topRows(count);
  });
}

// predict with bfloat16 products: W⁽ˡ⁾ rounded once per call, each chunk's a⁽ˡ⁻¹⁾ as it is made;
// z, a and ŷ are float32. Chunks are not padded as predict's are (a row's prediction may change in
// the last bits with the rows predicted with it).
inline void predict_bfloat16(const Network<float>& net, const ConstMatrixMap<float>& X, const std::int64_t* rows,
                             Index n, MatrixMap<float>& out, Index chunk, int threads, const ThreadPolicy& policy,
                             InputScaling<float> scaling = {}) {
  const std::size_t L = net.layers.size();
  std::vector<RowMatrix<bfloat16>> weights;
  for (const auto& layer : net.layers) {
    weights.emplace_back(layer.net_inputs(), layer.fan_in);
    round_to_bfloat16(layer.W(), weights.back());
  }
  for_each_chunk(net, n, chunk, threads, policy, [&](Workspace<float>& ws, Index first, Index count) {
    gather<float>(ws, X, nullptr, nullptr, rows, first, count);
    if (scaling) scaling.apply_to_rows(ws.input.topRows(count));
    RowMatrix<bfloat16> a_low(count, net.inputs());
    round_to_bfloat16(ws.input.topRows(count), a_low);
    for (std::size_t l = 0; l < L; ++l) {
      const Layer<float>& layer = net.layers[l];
      auto z = ws.net_input[l].topRows(count);
      onednn::gemm_bfloat16(false, true, 1.0f, a_low, weights[l], 0.0f, z, layer.biases);
      if (l + 1 < L) {
        auto a = ws.activation[l].topRows(count);
        activate(layer, 0, z, a);
        a_low.resize(count, layer.units);
        round_to_bfloat16(a, a_low);
      }
    }
    auto y_hat = ws.activation.back().topRows(count);
    output_activation<float>(net.output, ws.net_input.back().topRows(count), y_hat, true);
    out.middleRows(first, count) = y_hat;
  });
}

}  // namespace fnn
