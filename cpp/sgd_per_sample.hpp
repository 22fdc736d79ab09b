// Algorithm 4.1 with one sample per update, the chapter's own algorithm. Batch 1 is bound by
// memory traffic, not arithmetic: each weight is read for the forward pass and read and written
// for the update. So this kernel
//   - fuses backpropagation with the update row by row: the old row feeds (W⁽ˡ⁾)ᵀδ⁽ˡ⁾, then the
//     row is updated while it is still in L1;
//   - never forms (W⁽¹⁾)ᵀδ⁽¹⁾, which nothing uses;
//   - fuses layer 1's update with the next sample's forward product, row by row, so W⁽¹⁾
//     (usually most of the weights) is streamed once per sample instead of twice, and holds
//     W⁽¹⁾ as scale·V so that weight decay costs one multiplication per step;
//   - on several threads, gives each thread a fixed range of every layer's neurons for the
//     whole epoch inside one parallel region: rows of W⁽ˡ⁾ for the forward pass, the matching
//     columns of W⁽ˡ⁺¹⁾ for backpropagation, so the two never need a reduction, and the
//     threads meet only at spin barriers between layers;
//   - runs every activation of the chapter: a maxout unit's K net inputs are K consecutive rows
//     of W⁽ˡ⁾, owned with the unit; PReLU slopes are stepped by the thread owning their unit,
//     right after its δ, and a shared slope by every thread on its own copy, from the units'
//     terms summed in unit order;
//   - reads the shuffled samples from a staging copy, made by the training threads a chunk at a
//     time or, for a network trained on one thread, by a second thread (staging_ring.hpp).
// Every sum is formed in the same order whatever the thread count, so 1 and 2 threads give
// the same weights bit for bit.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "network.hpp"
#include "optimisers.hpp"
#include "staging_ring.hpp"
#include "stop_poller.hpp"
#include "threads.hpp"
#include "vector_kernels.hpp"

namespace fnn {

template <class S>
Index parameter_count(const Network<S>& net) {
  Index parameters = 0;
  for (const auto& layer : net.layers) parameters += layer.net_inputs() * (layer.fan_in + 1);
  return parameters;
}

// Threads worth using: a barrier costs about as much as a few thousand multiply-adds, so small
// networks run faster on one thread.
template <class S>
int per_sample_threads(const Network<S>& net, int requested) {
#ifdef _OPENMP
  const Index per_thread_minimum = 24 * 1024;
  return static_cast<int>(std::max<Index>(1, std::min<Index>(requested, parameter_count(net) / per_thread_minimum)));
#else
  (void)net;
  (void)requested;
  return 1;  // without OpenMP the parallel region runs once, so one thread must do all the rows
#endif
}

// The contiguous share [begin, end) of `n` neurons for thread t of `threads`, cut at multiples of
// a cache line so that no two threads write the same line.
inline std::pair<Index, Index> share(Index n, int t, int threads, Index per_line) {
  auto cut = [&](int k) {
    if (k >= threads) return n;
    const Index raw = n * k / threads;
    return std::min(n, (raw / per_line) * per_line);
  };
  return {cut(t), cut(t + 1)};
}

// Vectors of one sample (a maxout layer's net input and δ have K entries per unit). Each has room
// for whole packets past its last entry (a multiple of 64 bytes), so that the vector kernels store
// whole packets: a masked or partial store would not forward to the loads that read the values
// right after. The padding holds zeros.
template <class S>
struct PerSampleBuffers {
  std::vector<RowVector<S>> net_input, activation, delta, grad_activation;  // per layer
  // A PReLU layer's ∂L/∂aᵢ·min(0, zᵢ) per unit: the gradients of its own slopes, or the terms
  // that thread 0 sums in unit order for its one shared slope.
  std::vector<RowVector<S>> slope_terms;
  std::vector<RowVector<S>> y_hat, delta_out;  // per thread: the output layer is computed by each
  RowMatrix<S> inputs, targets;                // the current chunk's rows of X and T, in sample order
  RowVector<S> sample_weight;                  // and their weights, when the data are weighted

  static constexpr int per_line = 64 / static_cast<int>(sizeof(S));
  static Index padded(Index units) { return (units + per_line - 1) / per_line * per_line; }
  // The cache line of v from entry i (a multiple of per_line) as a fixed-size array: Eigen
  // evaluates fixed-size expressions as straight-line packet code, without the set-up that a
  // dynamic size costs on every call. Entries past the vector's end fall in the padding.
  static Eigen::Map<Eigen::Array<S, per_line, 1>> line(RowVector<S>& v, Index i) {
    return Eigen::Map<Eigen::Array<S, per_line, 1>>(v.data() + i);
  }

  PerSampleBuffers(const Network<S>& net, int threads, Index chunk)
      : inputs(chunk, net.inputs()), targets(chunk, net.outputs()), sample_weight(chunk) {
    for (const auto& layer : net.layers) {
      for (auto* v : {&net_input, &delta}) v->push_back(RowVector<S>::Zero(padded(layer.net_inputs())));
      for (auto* v : {&activation, &grad_activation}) v->push_back(RowVector<S>::Zero(padded(layer.units)));
      slope_terms.push_back(RowVector<S>::Zero(layer.activation == Activation::prelu ? layer.units : 0));
    }
    for (int t = 0; t < threads; ++t) {
      y_hat.push_back(RowVector<S>::Zero(padded(net.outputs())));
      delta_out.push_back(RowVector<S>::Zero(padded(net.outputs())));
    }
  }
};

// a⁽ˡ⁾ = f(z⁽ˡ⁾) for units [begin, end) of one sample: element-wise activations a cache line at
// a time (the vectors are padded), PReLU (4.22) with its slopes, maxout (4.27) over K pieces.
template <class S>
void activate(const Layer<S>& layer, RowVector<S>& z, RowVector<S>& a, Index begin, Index end) {
  if (end <= begin) return;
  if (layer.activation == Activation::prelu) {
    prelu_block(layer, begin, z.segment(begin, end - begin), a.segment(begin, end - begin));
  } else if (layer.activation == Activation::maxout) {
    const Index K = layer.pieces;
    for (Index i = begin; i < end; ++i) a[i] = z[i * K + maxout_winner(z.data() + i * K, K)];
  } else {
    with_elementwise(layer.activation, [&](auto f) {
      for (Index i = begin; i < end; i += PerSampleBuffers<S>::per_line)
        PerSampleBuffers<S>::line(a, i) = decltype(f)::value(PerSampleBuffers<S>::line(z, i), layer.gamma);
    });
  }
}

// `threads` training threads (1 and 2 give the same weights bit for bit), plus a staging thread
// if asked. The team is what OpenMP starts, and at most what `policy` allows on a busy machine;
// should the team lose its cores during the epoch (TeamMonitor), the other threads leave and
// thread 0 carries on with all neurons: the weights stay those of any thread count.
template <class S, class Rule, class StopCheck>
EpochResult train_epoch_per_sample(const Network<S>& net, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T,
                                   const S* sample_weight, const std::int64_t* order, Index n, const Rule& rule,
                                   int threads, bool staging_thread, ThreadPolicy& policy, StopCheck&& should_stop) {
  using clock = std::chrono::steady_clock;
  const Index L = static_cast<Index>(net.layers.size());
  const S learning_rate = rule.learning_rate;
  // Plain SGD: W ← (1 − αλ)W − αδaᵀ  ≡  W − α(δaᵀ + λW). (Other rules take λ themselves.)
  const S decay = Rule::plain ? S(1) - learning_rate * rule.l2 : S(1);
  const Index per_line = 64 / static_cast<Index>(sizeof(S));
  // The clock is read for the stop check every 64 samples of a small network (a read costs
  // about a tenth of a small step) and at every sample of a large one (64 steps may take seconds).
  const Index check_mask = parameter_count(net) >= 65536 ? 0 : 63;
  // Samples come in shuffled order: reading each row where it lies costs a memory latency per
  // sample that prefetching did not hide. Copying a chunk of rows at once overlaps those misses;
  // a chunk of about 32 KiB stays in L1/L2 next to the weights.
  const Index row_bytes = (X.cols() + T.cols()) * static_cast<Index>(sizeof(S));
  const Index chunk = std::max<Index>(1, std::min<Index>(256, (32 * 1024) / row_bytes));
#ifndef _OPENMP
  staging_thread = false;
#endif
  const int team = policy.team(threads + (staging_thread ? 1 : 0));
  PerSampleBuffers<S> buf(net, team, chunk);
  Barrier barrier(team);
  EpochResult result;
  // Thread 0 decides at the end of a sample; every thread acts at the same later sample. (A flag
  // read after the forward pass could be seen one sample early by a thread that was descheduled
  // there, which would then leave while the others wait for it.)
  constexpr Index never = std::numeric_limits<Index>::max();
  std::atomic<Index> stop_at{never}, single_at{never};
  bool interrupted = false;
  int workers = 1;  // training threads of the team OpenMP started
  // With a staging thread (the team's last), the training thread reads the samples from its ring;
  // without, the training threads stage chunks of rows themselves.
  std::unique_ptr<StagingRing<S>> staging;
  if (staging_thread && team > 1) staging = std::make_unique<StagingRing<S>>(X, T, sample_weight, order, n);

  std::vector<long> team_ids(team, 0);  // for reading each thread's scheduler statistics
  int started = 1;

#pragma omp parallel num_threads(team) if (team > 1)
  {
    team_ids[thread_number()] = thread_id();
#pragma omp single
    {
      started = team_size();
      if (staging && started < 2) staging.reset();  // nobody would fill the ring
      workers = staging ? 1 : started;
      barrier.set_threads(workers);
    }  // (OpenMP's barrier: every thread sees the roles and the ids)
    const int t = thread_number();
    if (staging && t == workers) {
      staging->produce();
    } else if (t < workers) {
      StagingRing<S>* ring = staging.get();
      Rule step_rule = rule;  // each thread advances its own copy through the same steps
      int split = workers;    // threads sharing the neurons; 1 once thread 0 carries on alone
      // This thread's neurons of every layer.
      std::vector<std::pair<Index, Index>> mine;
      auto share_neurons = [&] {
        mine.clear();
        for (const auto& layer : net.layers) mine.push_back(share(layer.units, t, split, per_line));
      };
      share_neurons();
      const bool watch = t == 0 && (split > 1 || ring);
      std::unique_ptr<TeamMonitor> monitor;
      if (watch)
        monitor = std::make_unique<TeamMonitor>(std::vector<long>(team_ids.begin(), team_ids.begin() + started));
      StopPoller poller(should_stop);  // asked by thread 0

      Index chunk_begin = -chunk;
      // Rows of the current chunk are read from the staging copy; the one sample beyond it (the
      // next sample's forward product at a chunk's end) straight from X.
      auto x_of = [&](Index k) {
        if (ring) return ring->x(k);
        return k >= chunk_begin && k < chunk_begin + chunk ? buf.inputs.row(k - chunk_begin).data()
                                                           : X.row(static_cast<Index>(order[k])).data();
      };
      auto target_of = [&](Index k) { return ring ? ring->target(k) : buf.targets.row(k - chunk_begin).data(); };
      auto weight_of = [&](Index k) { return ring ? ring->weight(k) : buf.sample_weight(k - chunk_begin); };
      // Asks for the cache lines of sample `source`'s rows of X and T.
      auto prefetch_sample = [&](Index source) {
        prefetch_lines(X.row(source).data(), X.cols());
        prefetch_lines(T.row(source).data(), T.cols());
      };
      // While chunk c is trained, each thread asks for one row per sample of the rows it will
      // stage for chunk c + 1, so their memory latency hides behind arithmetic.
      auto prefetch_next_chunk = [&](Index k) {
        const Index next = chunk_begin + chunk, j = k - chunk_begin;
        if (next >= n) return;
        const auto [p0, p1] = share(std::min(chunk, n - next), t, split, 1);
        if (p0 + j < p1) prefetch_sample(static_cast<Index>(order[next + p0 + j]));
      };
      // Copies the shuffled rows of samples k … k+chunk−1 into the staging buffers, this thread's
      // share of them; the barriers keep the other thread from reading a row being replaced.
      auto stage = [&](Index k) {
        barrier.wait();
        const Index rows = std::min(chunk, n - k);
        const auto [r0, r1] = share(rows, t, split, 1);
        // Ask for every line first, so that the rows' cache misses overlap instead of queueing
        // (only the first chunk's are not already on their way).
        for (Index r = r0; r < r1; ++r) prefetch_sample(static_cast<Index>(order[k + r]));
        for (Index r = r0; r < r1; ++r) {
          const Index source = static_cast<Index>(order[k + r]);
          // memcpy: an Eigen row assignment's set-up costs more than copying a short row.
          std::memcpy(buf.inputs.row(r).data(), X.row(source).data(), sizeof(S) * X.cols());
          std::memcpy(buf.targets.row(r).data(), T.row(source).data(), sizeof(S) * T.cols());
          if (sample_weight) buf.sample_weight(r) = sample_weight[source];
        }
        chunk_begin = k;
        barrier.wait();
      };

      // Weight decay scales all of W⁽¹⁾ at every step. Held as W⁽¹⁾ = scale·V, that is one
      // multiplication of `scale` instead of one per weight: the step W ← decay·W − αδxᵀ becomes
      // scale ← decay·scale, V ← V − (α/scale)·δxᵀ (the same step, rounded differently), and the
      // forward product scale·(Vx) + b. The weights array holds V during the epoch; the scale is
      // folded back into this thread's rows of it when it falls below ½ (against underflow) and
      // at the end. A decay that halves W at every step (αλ ≥ ½, and 0 cannot be divided by) is
      // applied to the rows directly instead. Every thread applies the same sequence, so all
      // agree on the scale, and thread 0's serves all rows once it carries on alone.
      const bool scaled_decay = decay >= S(0.5);
      S scale = 1;
      auto fold_scale = [&] {
        if (scale == S(1)) return;
        const Layer<S>& first = net.layers.front();
        const Index r0 = mine[0].first * first.pieces, r1 = mine[0].second * first.pieces;
        scale_rows(scale, first.weights + r0 * first.fan_in, first.fan_in, r1 - r0, first.fan_in);
        scale = 1;
      };

      // z⁽¹⁾ of the first sample, for this thread's rows.
      if (n > 0) {
        const auto& first = net.layers.front();
        const Index r0 = mine[0].first * first.pieces, r1 = mine[0].second * first.pieces;
        dot_rows(first.weights + r0 * first.fan_in, first.fan_in, r1 - r0, X.row(static_cast<Index>(order[0])).data(),
                 first.fan_in, first.biases + r0, buf.net_input[0].data() + r0);
      }

      // The slopes of layer l from their gradients (one per slope, from g + first on): SGD's step
      // (no weight decay on slopes, as in (4.39)) or the optimiser's rule.
      auto step_slopes = [&](Index l, Index first, Index count, const S* g, const Rule& current) {
        S* slopes = net.layers[l].slopes;
        if constexpr (Rule::plain) {
          for (Index i = 0; i < count; ++i) slopes[first + i] -= learning_rate * g[i];
        } else {
          const auto slope_rule = current.bind((*rule.state)[l].slopes, false);
          for (Index i = 0; i < count; ++i)
            slopes[first + i] = slope_rule.template step<S>(slopes[first + i], g[i], first + i);
        }
      };
      // A slope shared by a whole layer: every thread keeps its own copy of it (and of its optimiser
      // state) and steps it from the same sum over the units, so all agree without waiting for one
      // of them to write it; thread 0 writes its copy back when the epoch ends.
      struct SharedSlope {
        bool used = false;
        S value = 0, first = 0, second = 0;
        ParameterState<S> state;  // pointing at first and second, where the rule keeps them
      };
      std::vector<SharedSlope> shared(static_cast<std::size_t>(L));
      for (Index l = 0; l < L; ++l) {
        const Layer<S>& layer = net.layers[l];
        if (layer.activation != Activation::prelu || layer.n_slopes != 1) continue;
        SharedSlope& own = shared[l];
        own.used = true;
        own.value = layer.slopes[0];
        if constexpr (!Rule::plain) {
          const ParameterState<S>& state = (*rule.state)[l].slopes;
          if (state.first) own.first = state.first[0], own.state.first = &own.first;
          if (state.second) own.second = state.second[0], own.state.second = &own.second;
        }
      }
      // Layer l as this thread sees it: with its own copy of a shared slope (in `view`, which holds
      // one layer at a time; every other layer is seen where it is, without a copy).
      Layer<S> view;
      auto seen = [&](Index l) -> const Layer<S>& {
        if (!shared[l].used) return net.layers[l];
        view = net.layers[l];
        view.slopes = &shared[l].value;
        return view;
      };
      auto step_shared_slope = [&](Index l, const Rule& current) {
        S sum = 0;
        for (Index i = 0; i < net.layers[l].units; ++i) sum += buf.slope_terms[l](i);
        SharedSlope& own = shared[l];
        if constexpr (Rule::plain)
          own.value -= learning_rate * sum;
        else
          own.value = current.bind(own.state, false).template step<S>(own.value, sum, 0);
      };
      auto write_back_shared_slopes = [&] {
        for (Index l = 0; l < L; ++l) {
          const SharedSlope& own = shared[l];
          if (!own.used) continue;
          net.layers[l].slopes[0] = own.value;
          if constexpr (!Rule::plain) {
            const ParameterState<S>& state = (*rule.state)[l].slopes;
            if (state.first) state.first[0] = own.first;
            if (state.second) state.second[0] = own.second;
          }
        }
      };

      // δ⁽ˡ⁾ of units [c0, c1) from ∂L/∂a⁽ˡ⁾ (4.59), with the activation's own rule: element-wise, a
      // maxout's winning piece (4.27), or PReLU's slopes, which are then stepped (per unit) or
      // their terms kept for the shared slope's sum.
      auto below_delta = [&](Index l, Index c0, Index c1, const Rule& current) {
        if (c1 <= c0) return;
        const Layer<S>& layer = seen(l);
        const S* z = buf.net_input[l].data();
        const S* grad_a = buf.grad_activation[l].data();
        S* delta = buf.delta[l].data();
        if (layer.activation == Activation::maxout) {
          const Index K = layer.pieces;
          std::fill(delta + c0 * K, delta + c1 * K, S(0));
          for (Index i = c0; i < c1; ++i) delta[i * K + maxout_winner(z + i * K, K)] = grad_a[i];
        } else if (layer.activation == Activation::prelu) {
          // ∂L/∂γᵢ = ∂L/∂aᵢ·min(0, zᵢ), and δ with the slopes of the forward pass.
          S* terms = buf.slope_terms[l].data();
          for (Index i = c0; i < c1; ++i) terms[i] = grad_a[i] * std::min(z[i], S(0));
          prelu_delta_block(layer, c0, buf.net_input[l].segment(c0, c1 - c0),
                            buf.grad_activation[l].segment(c0, c1 - c0), buf.delta[l].segment(c0, c1 - c0));
          if (layer.n_slopes > 1) step_slopes(l, c0, c1 - c0, terms + c0, current);
        } else {
          for (Index i = c0; i < c1; i += per_line)
            Network<S>::elementwise_delta(layer, buf.line(buf.net_input[l], i), buf.line(buf.activation[l], i),
                                          buf.line(buf.grad_activation[l], i), buf.line(buf.delta[l], i));
        }
      };

      bool left = false;  // this thread handed its neurons to thread 0
      // Samples come in shuffled order, so no hardware prefetcher can guess the next rows of X.
      for (Index k = 0; k < n; ++k) {
        if (ring) {
          ring->wait_for(std::min(k + 1, n - 1));  // this sample and the next one's input
        } else {
          if (k >= chunk_begin + chunk) stage(k);
          prefetch_next_chunk(k);
        }
        // ---- forward: a⁽ˡ⁾ = f(z⁽ˡ⁾) for own neurons, then z⁽ˡ⁺¹⁾ for own rows once a⁽ˡ⁾ is whole.
        for (Index l = 0; l < L; ++l) {
          const Layer<S>& layer = net.layers[l];
          const auto [begin, end] = mine[l];
          const Index K = layer.pieces;  // own rows of W⁽ˡ⁾: begin·K … end·K − 1
          if (l > 0) {
            dot_rows(layer.weights + begin * K * layer.fan_in, layer.fan_in, (end - begin) * K,
                     buf.activation[l - 1].data(), layer.fan_in, layer.biases + begin * K,
                     buf.net_input[l].data() + begin * K);
          }
          if (l + 1 < L) activate(seen(l), buf.net_input[l], buf.activation[l], begin, end);
          barrier.wait();
        }
        if (k >= stop_at.load(std::memory_order_relaxed)) break;
        if (k >= single_at.load(std::memory_order_relaxed) && split > 1) {
          // Every thread passed the barrier above; the others leave, thread 0 takes all neurons.
          if (t != 0) {
            left = true;
            break;
          }
          split = 1;
          barrier.set_threads(1);
          share_neurons();
        }

        // ---- output layer, computed whole by every thread (a few exps) so none waits for another.
        auto& y_hat = buf.y_hat[t];
        auto& delta_out = buf.delta_out[t];
        S loss = output_sample<S>(net.output, buf.net_input[L - 1].data(), target_of(k), net.outputs(), y_hat.data(),
                                  delta_out.data());
        if (sample_weight) {  // w scales the loss and δ⁽ᴸ⁾, and through it every gradient of the step
          const S w = weight_of(k);
          loss *= w;
          delta_out *= w;
        }
        if (!std::isfinite(loss)) {
          if (t == 0) result.diverged = true;
          break;  // every thread sees the same loss, so all leave together
        }
        if (t == 0) {
          result.loss_sum += static_cast<double>(loss);
          result.samples += 1;
          result.steps += 1;
        }
        step_rule.begin_step();

        // ---- backward, layer L down to 2: own columns of W⁽ˡ⁾ (= own neurons of layer l−1).
        for (Index l = L - 1; l >= 1; --l) {
          const Layer<S>& layer = net.layers[l];
          const Layer<S>& below = net.layers[l - 1];
          const S* delta = l == L - 1 ? delta_out.data() : buf.delta[l].data();
          const auto [c0, c1] = mine[l - 1];
          const Index width = c1 - c0;
          const Index r0 = mine[l].first * layer.pieces, r1 = mine[l].second * layer.pieces;  // own net inputs
          if constexpr (Rule::plain) {
            if (width > 0)
              backprop_and_update_rows(delta, SgdUpdate<S>{decay, learning_rate}, layer.weights + c0, layer.fan_in,
                                       layer.net_inputs(), buf.activation[l - 1].data() + c0,
                                       buf.grad_activation[l - 1].data() + c0, width);
            for (Index i = r0; i < r1; ++i) layer.biases[i] -= learning_rate * delta[i];
          } else {
            const auto& state = (*rule.state)[l];
            const auto weight_rule = step_rule.bind(state.weights, true);
            if (width > 0)
              backprop_and_update_rows(delta, RuleUpdate<S, decltype(weight_rule)>{&weight_rule, layer.weights},
                                       layer.weights + c0, layer.fan_in, layer.net_inputs(),
                                       buf.activation[l - 1].data() + c0, buf.grad_activation[l - 1].data() + c0,
                                       width);
            const auto bias_rule = step_rule.bind(state.biases, false);
            for (Index i = r0; i < r1; ++i) layer.biases[i] = bias_rule.template step<S>(layer.biases[i], delta[i], i);
          }
          below_delta(l - 1, c0, c1, step_rule);
          if (l > 1) barrier.wait();  // layer l−1 needs all of δ⁽ˡ⁻¹⁾
          if (below.activation != Activation::prelu || below.n_slopes != 1) continue;
          // A shared slope, from every thread's units: each thread steps its copy once all the
          // terms are in (for l − 1 ≥ 1 the barrier above saw to that). They are written again
          // only after the next sample's first forward barrier, when every thread has summed.
          if (l == 1 && split > 1) barrier.wait();
          step_shared_slope(l - 1, step_rule);
        }

        // ---- layer 1: update own rows, and while each row is in cache, start the next sample.
        // With a single layer, z⁽¹⁾ is the output that every thread just read whole: wait first.
        if (L == 1) barrier.wait();
        {
          const Layer<S>& first = net.layers.front();
          const S* delta = L == 1 ? delta_out.data() : buf.delta[0].data();
          const S* x = x_of(k);
          const Index r0 = mine[0].first * first.pieces, r1 = mine[0].second * first.pieces;  // own rows
          S* own = first.weights + r0 * first.fan_in;
          auto step_rows = [&](const auto& update, S bias_learning_rate) {
            if (k + 1 < n) {
              update_rows_then_dot_rows(update, scale, bias_learning_rate, delta + r0, own, first.fan_in, r1 - r0, x,
                                        x_of(k + 1), first.fan_in, first.biases + r0, buf.net_input[0].data() + r0);
            } else {
              update_rows(update, bias_learning_rate, delta + r0, own, first.fan_in, r1 - r0, x, first.fan_in,
                          first.biases + r0);
            }
          };
          if constexpr (Rule::plain) {
            if (scaled_decay)
              scale *= decay;
            else
              scale_rows(decay, own, first.fan_in, r1 - r0, first.fan_in);
            step_rows(LazySgdUpdate<S>{learning_rate / scale}, learning_rate);
            if (scale < S(0.5)) fold_scale();
          } else {
            const auto& state = (*rule.state)[0];
            const auto bias_rule = step_rule.bind(state.biases, false);
            for (Index i = r0; i < r1; ++i) first.biases[i] = bias_rule.template step<S>(first.biases[i], delta[i], i);
            const auto weight_rule = step_rule.bind(state.weights, true);
            step_rows(RuleUpdate<S, decltype(weight_rule)>{&weight_rule, first.weights}, S(0));
          }
        }
        if (ring) ring->done_with(k);

        if (t == 0 && (k & check_mask) == check_mask) {
          const auto now = clock::now();
          if (poller.due(now)) {
            if (poller.stop_requested()) {
              interrupted = true;
              stop_at.store(k + 1, std::memory_order_relaxed);  // seen by all after the next barrier
            }
            if (watch && (split > 1 || ring) && monitor->contended(now)) {
              policy.note_contention();
              if (ring) {  // stage the rest of the epoch here; the staging thread returns
                ring->stop();
                ring = nullptr;
                chunk_begin = -chunk;
              }
              single_at.store(k + 1, std::memory_order_relaxed);  // seen by all after the next barrier
            }
          }
        }
        if (k == policy.switch_at && t == 0) {
          if (ring) {
            ring->stop();
            ring = nullptr;
            chunk_begin = -chunk;
          }
          single_at.store(k + 1, std::memory_order_relaxed);
        }
      }
      if (!left) fold_scale();
      if (t == 0) write_back_shared_slopes();
      if (ring) ring->stop();  // also when the loop was left early, so the staging thread returns
      // A short epoch has no check inside: judge it whole.
      if (watch && (split > 1 || ring) && monitor->contended_at_end(clock::now())) policy.note_contention();
    }
  }
  result.interrupted = interrupted;
  return result;
}

}  // namespace fnn
