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
  template <class V>
  static Eigen::Map<Eigen::Array<S, per_line, 1>> line(V& v, Index i) {
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

// a⁽ˡ⁾ = f(z⁽ˡ⁾) for units [begin, end) of one sample: `activate` of every forward pass, except
// that element-wise activations go a cache line at a time (the vectors are padded): fixed-size
// code, without the set-up a dynamic block costs at every layer of every sample.
// (z and a: RowVector<S> or a Map of a padded row.)
template <class S, class Z, class A>
void activate_sample(const Layer<S>& layer, Z& z, A& a, Index begin, Index end) {
  if (end <= begin) return;
  const Index K = layer.pieces;
  if (layer.activation == Activation::prelu || layer.activation == Activation::maxout) {
    activate(layer, begin, z.segment(begin * K, (end - begin) * K), a.segment(begin, end - begin));
  } else {
    with_elementwise(layer.activation, [&](auto f) {
      for (Index i = begin; i < end; i += PerSampleBuffers<S>::per_line)
        PerSampleBuffers<S>::line(a, i) = decltype(f)::value(PerSampleBuffers<S>::line(z, i), layer.gamma);
    });
  }
}

// What the team shares during one epoch of train_epoch_per_sample: the data, the rule, the
// buffers of one sample, the barrier, the staging ring and the samples at which thread 0 has the
// team stop or hand its neurons over.
template <class S, class Rule, class Stop>
struct PerSampleEpoch {
  const Network<S>& net;
  const ConstMatrixMap<S>& X;
  const ConstMatrixMap<S>& T;
  const S* sample_weight;
  const std::int64_t* order;
  Index n;
  const Rule& rule;
  ThreadPolicy& policy;
  Stop& should_stop;
  Index L;
  S learning_rate;
  // Plain SGD: W ← (1 − αλ)W − αδaᵀ  ≡  W − α(δaᵀ + λW). (Other rules take λ themselves.)
  S decay;
  Index per_line;
  // The clock is read for the stop check every 64 samples of a small network (a read costs
  // about a tenth of a small step) and at every sample of a large one (64 steps may take seconds).
  Index check_mask;
  // Samples come in shuffled order: reading each row where it lies costs a memory latency per
  // sample that prefetching did not hide. Copying a chunk of rows at once overlaps those misses;
  // a chunk of about 32 KiB stays in L1/L2 next to the weights.
  Index chunk;
  int team;
  PerSampleBuffers<S> buf;
  Barrier barrier;
  EpochResult result;
  // Thread 0 decides at the end of a sample; every thread acts at the same later sample. (A flag
  // read after the forward pass could be seen one sample early by a thread that was descheduled
  // there, which would then leave while the others wait for it.)
  static constexpr Index never = std::numeric_limits<Index>::max();
  std::atomic<Index> stop_at{never}, single_at{never};
  bool interrupted = false;
  int workers = 1;  // training threads of the team OpenMP started
  int started = 1;
  // With a staging thread (the team's last), the training thread reads the samples from its ring;
  // without, the training threads stage chunks of rows themselves.
  std::unique_ptr<StagingRing<S>> staging;
  std::vector<long> team_ids;  // for reading each thread's scheduler statistics

  PerSampleEpoch(const Network<S>& net, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T, const S* sample_weight,
                 const std::int64_t* order, Index n, const Rule& rule, int threads, bool staging_thread,
                 ThreadPolicy& policy, Stop& should_stop)
      : net(net),
        X(X),
        T(T),
        sample_weight(sample_weight),
        order(order),
        n(n),
        rule(rule),
        policy(policy),
        should_stop(should_stop),
        L(static_cast<Index>(net.layers.size())),
        learning_rate(rule.learning_rate),
        decay(Rule::plain ? S(1) - learning_rate * rule.l2 : S(1)),
        per_line(64 / static_cast<Index>(sizeof(S))),
        check_mask(parameter_count(net) >= 65536 ? 0 : 63),
        chunk(std::max<Index>(
            1, std::min<Index>(256, (32 * 1024) / ((X.cols() + T.cols()) * static_cast<Index>(sizeof(S)))))),
        team(policy.team(threads + (staging_thread ? 1 : 0))),
        buf(net, team, chunk),
        barrier(team),
        team_ids(team, 0) {
    if (staging_thread && team > 1) staging = std::make_unique<StagingRing<S>>(X, T, sample_weight, order, n);
  }
};

// One training thread: its neurons of every layer (all of them once thread 0 carries on alone),
// its copy of the rule and of shared slopes, the staged chunk it reads, and the named steps of
// Algorithm 4.1 on one sample.
template <class S, class Rule, class Stop>
class SampleThread {
 public:
  using clock = std::chrono::steady_clock;
  using Epoch = PerSampleEpoch<S, Rule, Stop>;

  SampleThread(Epoch& e, int t)
      : e_(e),
        net_(e.net),
        buf_(e.buf),
        L_(e.L),
        t_(t),
        ring_(e.staging.get()),
        step_rule_(e.rule),
        split_(e.workers),
        poller_(e.should_stop),
        chunk_begin_(-e.chunk),
        scaled_decay_(e.decay >= S(0.5)),
        shared_(static_cast<std::size_t>(e.L)) {
    share_neurons();
    watch_ = t == 0 && (split_ > 1 || ring_);
    if (watch_)
      monitor_ = std::make_unique<TeamMonitor>(std::vector<long>(e.team_ids.begin(), e.team_ids.begin() + e.started));
    first_net_input();
    copy_shared_slopes();
  }

  void run() {
    // Samples come in shuffled order, so no hardware prefetcher can guess the next rows of X.
    for (Index k = 0; k < e_.n; ++k) {
      if (ring_) {
        ring_->wait_for(std::min(k + 1, e_.n - 1));  // this sample and the next one's input
      } else {
        if (k >= chunk_begin_ + e_.chunk) stage(k);
        prefetch_next_chunk(k);
      }
      forward();
      if (k >= e_.stop_at.load(std::memory_order_relaxed)) break;
      if (k >= e_.single_at.load(std::memory_order_relaxed) && split_ > 1) {
        // Every thread passed the forward pass's last barrier; the others leave, thread 0 takes all neurons.
        if (t_ != 0) {
          left_ = true;
          break;
        }
        split_ = 1;
        e_.barrier.set_threads(1);
        share_neurons();
      }
      if (!output(k)) break;  // every thread sees the same loss, so all leave together
      step_rule_.begin_step();
      for (Index l = L_ - 1; l >= 1; --l) backward(l);
      first_layer(k);
      if (ring_) ring_->done_with(k);
      if (t_ == 0) check_in(k);
    }
    if (!left_) fold_scale();
    if (t_ == 0) write_back_shared_slopes();
    if (ring_) ring_->stop();  // also when the loop was left early, so the staging thread returns
    // A short epoch has no check inside: judge it whole.
    if (watch_ && (split_ > 1 || ring_) && monitor_->contended_at_end(clock::now())) e_.policy.note_contention();
  }

 private:
  // This thread's neurons of every layer.
  void share_neurons() {
    mine_.clear();
    for (const auto& layer : net_.layers) mine_.push_back(share(layer.units, t_, split_, e_.per_line));
  }
  // This thread's rows of W⁽¹⁾ (K per neuron of a maxout layer).
  std::pair<Index, Index> first_rows() const {
    const Layer<S>& first = net_.layers.front();
    return {mine_[0].first * first.pieces, mine_[0].second * first.pieces};
  }

  // Rows of the current chunk are read from the staging copy; the one sample beyond it (the
  // next sample's forward product at a chunk's end) straight from X.
  const S* x_of(Index k) const {
    if (ring_) return ring_->x(k);
    return k >= chunk_begin_ && k < chunk_begin_ + e_.chunk ? buf_.inputs.row(k - chunk_begin_).data()
                                                            : e_.X.row(static_cast<Index>(e_.order[k])).data();
  }
  const S* target_of(Index k) const { return ring_ ? ring_->target(k) : buf_.targets.row(k - chunk_begin_).data(); }
  S weight_of(Index k) const { return ring_ ? ring_->weight(k) : buf_.sample_weight(k - chunk_begin_); }
  // Asks for the cache lines of sample `source`'s rows of X and T.
  void prefetch_sample(Index source) const {
    prefetch_lines(e_.X.row(source).data(), e_.X.cols());
    prefetch_lines(e_.T.row(source).data(), e_.T.cols());
  }
  // While chunk c is trained, each thread asks for one row per sample of the rows it will
  // stage for chunk c + 1, so their memory latency hides behind arithmetic.
  void prefetch_next_chunk(Index k) const {
    const Index next = chunk_begin_ + e_.chunk, j = k - chunk_begin_;
    if (next >= e_.n) return;
    const auto [p0, p1] = share(std::min(e_.chunk, e_.n - next), t_, split_, 1);
    if (p0 + j < p1) prefetch_sample(static_cast<Index>(e_.order[next + p0 + j]));
  }
  // Copies the shuffled rows of samples k … k+chunk−1 into the staging buffers, this thread's
  // share of them; the barriers keep the other thread from reading a row being replaced.
  void stage(Index k) {
    e_.barrier.wait();
    const Index rows = std::min(e_.chunk, e_.n - k);
    const auto [r0, r1] = share(rows, t_, split_, 1);
    // Ask for every line first, so that the rows' cache misses overlap instead of queueing
    // (only the first chunk's are not already on their way).
    for (Index r = r0; r < r1; ++r) prefetch_sample(static_cast<Index>(e_.order[k + r]));
    for (Index r = r0; r < r1; ++r) {
      const Index source = static_cast<Index>(e_.order[k + r]);
      // memcpy: an Eigen row assignment's set-up costs more than copying a short row.
      std::memcpy(buf_.inputs.row(r).data(), e_.X.row(source).data(), sizeof(S) * e_.X.cols());
      std::memcpy(buf_.targets.row(r).data(), e_.T.row(source).data(), sizeof(S) * e_.T.cols());
      if (e_.sample_weight) buf_.sample_weight(r) = e_.sample_weight[source];
    }
    chunk_begin_ = k;
    e_.barrier.wait();
  }
  // The staging thread's ring is left: this thread stages the rest of the epoch itself.
  void stage_here() {
    if (!ring_) return;
    ring_->stop();
    ring_ = nullptr;
    chunk_begin_ = -e_.chunk;
  }

  // Weight decay scales all of W⁽¹⁾ at every step. Held as W⁽¹⁾ = scale·V, that is one
  // multiplication of `scale` instead of one per weight: the step W ← decay·W − αδxᵀ becomes
  // scale ← decay·scale, V ← V − (α/scale)·δxᵀ (the same step, rounded differently), and the
  // forward product scale·(Vx) + b. The weights array holds V during the epoch; the scale is
  // folded back into this thread's rows of it when it falls below ½ (against underflow) and
  // at the end. A decay that halves W at every step (αλ ≥ ½, and 0 cannot be divided by) is
  // applied to the rows directly instead. Every thread applies the same sequence, so all
  // agree on the scale, and thread 0's serves all rows once it carries on alone.
  void fold_scale() {
    if (scale_ == S(1)) return;
    const Layer<S>& first = net_.layers.front();
    const auto [r0, r1] = first_rows();
    scale_rows(scale_, first.weights + r0 * first.fan_in, first.fan_in, r1 - r0, first.fan_in);
    scale_ = 1;
  }

  // z⁽¹⁾ of the first sample, for this thread's rows.
  void first_net_input() {
    if (e_.n == 0) return;
    const auto& first = net_.layers.front();
    const auto [r0, r1] = first_rows();
    dot_rows(first.weights + r0 * first.fan_in, first.fan_in, r1 - r0, e_.X.row(static_cast<Index>(e_.order[0])).data(),
             first.fan_in, first.biases + r0, buf_.net_input[0].data() + r0);
  }

  // The slopes of layer l from their gradients (one per slope, from g + first on): SGD's step
  // (no weight decay on slopes, as in (4.39)) or the optimiser's rule.
  void step_slopes(Index l, Index first, Index count, const S* g) {
    S* slopes = net_.layers[l].slopes;
    if constexpr (Rule::plain) {
      for (Index i = 0; i < count; ++i) slopes[first + i] -= e_.learning_rate * g[i];
    } else {
      const auto slope_rule = step_rule_.bind((*e_.rule.state)[l].slopes, false);
      for (Index i = 0; i < count; ++i)
        slopes[first + i] = slope_rule.template step<S>(slopes[first + i], g[i], first + i);
    }
  }
  // A slope shared by a whole layer: every thread keeps its own copy of it (and of its optimiser
  // state) and steps it from the same sum over the units, so all agree without waiting for one
  // of them to write it; thread 0 writes its copy back when the epoch ends.
  struct SharedSlope {
    bool used = false;
    S value = 0, first = 0, second = 0;
    ParameterState<S> state;  // pointing at first and second, where the rule keeps them
  };
  void copy_shared_slopes() {
    for (Index l = 0; l < L_; ++l) {
      const Layer<S>& layer = net_.layers[l];
      if (layer.activation != Activation::prelu || layer.n_slopes != 1) continue;
      SharedSlope& own = shared_[l];
      own.used = true;
      own.value = layer.slopes[0];
      if constexpr (!Rule::plain) {
        const ParameterState<S>& state = (*e_.rule.state)[l].slopes;
        if (state.first) own.first = state.first[0], own.state.first = &own.first;
        if (state.second) own.second = state.second[0], own.state.second = &own.second;
      }
    }
  }
  // Layer l as this thread sees it: with its own copy of a shared slope (in `view_`, which holds
  // one layer at a time; every other layer is seen where it is, without a copy).
  const Layer<S>& seen(Index l) {
    if (!shared_[l].used) return net_.layers[l];
    view_ = net_.layers[l];
    view_.slopes = &shared_[l].value;
    return view_;
  }
  void step_shared_slope(Index l) {
    S sum = 0;
    for (Index i = 0; i < net_.layers[l].units; ++i) sum += buf_.slope_terms[l](i);
    SharedSlope& own = shared_[l];
    if constexpr (Rule::plain)
      own.value -= e_.learning_rate * sum;
    else
      own.value = step_rule_.bind(own.state, false).template step<S>(own.value, sum, 0);
  }
  void write_back_shared_slopes() {
    for (Index l = 0; l < L_; ++l) {
      const SharedSlope& own = shared_[l];
      if (!own.used) continue;
      net_.layers[l].slopes[0] = own.value;
      if constexpr (!Rule::plain) {
        const ParameterState<S>& state = (*e_.rule.state)[l].slopes;
        if (state.first) state.first[0] = own.first;
        if (state.second) state.second[0] = own.second;
      }
    }
  }

  // ---- forward: a⁽ˡ⁾ = f(z⁽ˡ⁾) for own neurons, then z⁽ˡ⁺¹⁾ for own rows once a⁽ˡ⁾ is whole.
  void forward() {
    for (Index l = 0; l < L_; ++l) {
      const Layer<S>& layer = net_.layers[l];
      const auto [begin, end] = mine_[l];
      const Index K = layer.pieces;  // own rows of W⁽ˡ⁾: begin·K … end·K − 1
      if (l > 0) {
        dot_rows(layer.weights + begin * K * layer.fan_in, layer.fan_in, (end - begin) * K,
                 buf_.activation[l - 1].data(), layer.fan_in, layer.biases + begin * K,
                 buf_.net_input[l].data() + begin * K);
      }
      if (l + 1 < L_) activate_sample(seen(l), buf_.net_input[l], buf_.activation[l], begin, end);
      e_.barrier.wait();
    }
  }

  // ---- output layer, computed whole by every thread (a few exps) so none waits for another;
  // false when the loss is not finite.
  bool output(Index k) {
    auto& y_hat = buf_.y_hat[t_];
    auto& delta_out = buf_.delta_out[t_];
    S loss = output_sample<S>(net_.output, buf_.net_input[L_ - 1].data(), target_of(k), net_.outputs(), y_hat.data(),
                              delta_out.data());
    if (e_.sample_weight) {  // w scales the loss and δ⁽ᴸ⁾, and through it every gradient of the step
      const S w = weight_of(k);
      loss *= w;
      delta_out *= w;
    }
    if (!std::isfinite(loss)) {
      if (t_ == 0) e_.result.diverged = true;
      return false;
    }
    if (t_ == 0) {
      e_.result.loss_sum += static_cast<double>(loss);
      e_.result.samples += 1;
      e_.result.steps += 1;
    }
    return true;
  }

  // ---- backward through layer l ≥ 1 (L down to 2 in the chapter's numbering): own columns of
  // W⁽ˡ⁾ (= own neurons of layer l−1), fused with their update; then δ⁽ˡ⁻¹⁾ of own neurons.
  void backward(Index l) {
    const Layer<S>& layer = net_.layers[l];
    const Layer<S>& below = net_.layers[l - 1];
    const S* delta = l == L_ - 1 ? buf_.delta_out[t_].data() : buf_.delta[l].data();
    const auto [c0, c1] = mine_[l - 1];
    const Index width = c1 - c0;
    const Index r0 = mine_[l].first * layer.pieces, r1 = mine_[l].second * layer.pieces;  // own net inputs
    if constexpr (Rule::plain) {
      if (width > 0)
        backprop_and_update_rows(delta, SgdUpdate<S>{e_.decay, e_.learning_rate}, layer.weights + c0, layer.fan_in,
                                 layer.net_inputs(), buf_.activation[l - 1].data() + c0,
                                 buf_.grad_activation[l - 1].data() + c0, width);
      for (Index i = r0; i < r1; ++i) layer.biases[i] -= e_.learning_rate * delta[i];
    } else {
      const auto& state = (*e_.rule.state)[l];
      const auto weight_rule = step_rule_.bind(state.weights, true);
      if (width > 0)
        backprop_and_update_rows(delta, RuleUpdate<S, decltype(weight_rule)>{&weight_rule, layer.weights},
                                 layer.weights + c0, layer.fan_in, layer.net_inputs(),
                                 buf_.activation[l - 1].data() + c0, buf_.grad_activation[l - 1].data() + c0, width);
      const auto bias_rule = step_rule_.bind(state.biases, false);
      for (Index i = r0; i < r1; ++i) layer.biases[i] = bias_rule.template step<S>(layer.biases[i], delta[i], i);
    }
    delta_below(l - 1, c0, c1);
    if (l > 1) e_.barrier.wait();  // layer l−1 needs all of δ⁽ˡ⁻¹⁾
    if (below.activation != Activation::prelu || below.n_slopes != 1) return;
    // A shared slope, from every thread's units: each thread steps its copy once all the
    // terms are in (for l − 1 ≥ 1 the barrier above saw to that). They are written again
    // only after the next sample's first forward barrier, when every thread has summed.
    if (l == 1 && split_ > 1) e_.barrier.wait();
    step_shared_slope(l - 1);
  }

  // δ⁽ˡ⁾ of units [c0, c1) from ∂L/∂a⁽ˡ⁾ (4.59), with the activation's own rule: element-wise, a
  // maxout's winning piece (4.27), or PReLU's slopes, which are then stepped (per unit) or
  // their terms kept for the shared slope's sum.
  void delta_below(Index l, Index c0, Index c1) {
    if (c1 <= c0) return;
    const Layer<S>& layer = seen(l);
    const S* z = buf_.net_input[l].data();
    const S* grad_a = buf_.grad_activation[l].data();
    S* delta = buf_.delta[l].data();
    if (layer.activation == Activation::maxout) {
      const Index K = layer.pieces;
      std::fill(delta + c0 * K, delta + c1 * K, S(0));
      for (Index i = c0; i < c1; ++i) delta[i * K + maxout_winner(z + i * K, K)] = grad_a[i];
    } else if (layer.activation == Activation::prelu) {
      // ∂L/∂γᵢ = ∂L/∂aᵢ·min(0, zᵢ), and δ with the slopes of the forward pass.
      S* terms = buf_.slope_terms[l].data();
      for (Index i = c0; i < c1; ++i) terms[i] = grad_a[i] * std::min(z[i], S(0));
      prelu_delta_block(layer, c0, buf_.net_input[l].segment(c0, c1 - c0), buf_.grad_activation[l].segment(c0, c1 - c0),
                        buf_.delta[l].segment(c0, c1 - c0));
      if (layer.n_slopes > 1) step_slopes(l, c0, c1 - c0, terms + c0);
    } else {
      for (Index i = c0; i < c1; i += e_.per_line)
        Network<S>::elementwise_delta(layer, buf_.line(buf_.net_input[l], i), buf_.line(buf_.activation[l], i),
                                      buf_.line(buf_.grad_activation[l], i), buf_.line(buf_.delta[l], i));
    }
  }

  // ---- layer 1: update own rows, and while each row is in cache, start the next sample.
  // With a single layer, z⁽¹⁾ is the output that every thread just read whole: wait first.
  void first_layer(Index k) {
    if (L_ == 1) e_.barrier.wait();
    const Layer<S>& first = net_.layers.front();
    const S* delta = L_ == 1 ? buf_.delta_out[t_].data() : buf_.delta[0].data();
    const S* x = x_of(k);
    const auto [r0, r1] = first_rows();  // own rows
    S* own = first.weights + r0 * first.fan_in;
    auto step_rows = [&](const auto& update, S bias_learning_rate) {
      if (k + 1 < e_.n) {
        update_rows_then_dot_rows(update, scale_, bias_learning_rate, delta + r0, own, first.fan_in, r1 - r0, x,
                                  x_of(k + 1), first.fan_in, first.biases + r0, buf_.net_input[0].data() + r0);
      } else {
        update_rows(update, bias_learning_rate, delta + r0, own, first.fan_in, r1 - r0, x, first.fan_in,
                    first.biases + r0);
      }
    };
    if constexpr (Rule::plain) {
      if (scaled_decay_)
        scale_ *= e_.decay;
      else
        scale_rows(e_.decay, own, first.fan_in, r1 - r0, first.fan_in);
      step_rows(LazySgdUpdate<S>{e_.learning_rate / scale_}, e_.learning_rate);
      if (scale_ < S(0.5)) fold_scale();
    } else {
      const auto& state = (*e_.rule.state)[0];
      const auto bias_rule = step_rule_.bind(state.biases, false);
      for (Index i = r0; i < r1; ++i) first.biases[i] = bias_rule.template step<S>(first.biases[i], delta[i], i);
      const auto weight_rule = step_rule_.bind(state.weights, true);
      step_rows(RuleUpdate<S, decltype(weight_rule)>{&weight_rule, first.weights}, S(0));
    }
  }

  // Thread 0 after sample k: Ctrl-C, and whether the team should hand its work to thread 0
  // (contention, or the tests' switch), each acted on by all at the next sample.
  void check_in(Index k) {
    if ((k & e_.check_mask) == e_.check_mask) {
      const auto now = clock::now();
      if (poller_.due(now)) {
        if (poller_.stop_requested()) {
          e_.interrupted = true;
          e_.stop_at.store(k + 1, std::memory_order_relaxed);  // seen by all after the next barrier
        }
        if (watch_ && (split_ > 1 || ring_) && monitor_->contended(now)) {
          e_.policy.note_contention();
          stage_here();                                          // the staging thread returns
          e_.single_at.store(k + 1, std::memory_order_relaxed);  // seen by all after the next barrier
        }
      }
    }
    if (k == e_.policy.switch_at) {
      stage_here();
      e_.single_at.store(k + 1, std::memory_order_relaxed);
    }
  }

  Epoch& e_;
  const Network<S>& net_;
  PerSampleBuffers<S>& buf_;
  const Index L_;
  const int t_;
  StagingRing<S>* ring_;
  Rule step_rule_;  // each thread advances its own copy through the same steps
  int split_;       // threads sharing the neurons; 1 once thread 0 carries on alone
  std::vector<std::pair<Index, Index>> mine_;
  bool watch_ = false;
  std::unique_ptr<TeamMonitor> monitor_;
  StopPoller<Stop> poller_;  // asked by thread 0
  Index chunk_begin_;
  const bool scaled_decay_;
  S scale_ = 1;
  std::vector<SharedSlope> shared_;
  Layer<S> view_;
  bool left_ = false;  // this thread handed its neurons to thread 0
};

// `threads` training threads (1 and 2 give the same weights bit for bit), plus a staging thread
// if asked. The team is what OpenMP starts, and at most what `policy` allows on a busy machine;
// should the team lose its cores during the epoch (TeamMonitor), the other threads leave and
// thread 0 carries on with all neurons: the weights stay those of any thread count.
template <class S, class Rule, class StopCheck>
EpochResult train_epoch_per_sample(const Network<S>& net, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T,
                                   const S* sample_weight, const std::int64_t* order, Index n, const Rule& rule,
                                   int threads, bool staging_thread, ThreadPolicy& policy, StopCheck&& should_stop) {
#ifndef _OPENMP
  staging_thread = false;
#endif
  using Stop = std::remove_reference_t<StopCheck>;
  PerSampleEpoch<S, Rule, Stop> epoch(net, X, T, sample_weight, order, n, rule, threads, staging_thread, policy,
                                      should_stop);
#pragma omp parallel num_threads(epoch.team) if (epoch.team > 1)
  {
    epoch.team_ids[thread_number()] = thread_id();
#pragma omp single
    {
      epoch.started = team_size();
      if (epoch.staging && epoch.started < 2) epoch.staging.reset();  // nobody would fill the ring
      epoch.workers = epoch.staging ? 1 : epoch.started;
      epoch.barrier.set_threads(epoch.workers);
    }  // (OpenMP's barrier: every thread sees the roles and the ids)
    const int t = thread_number();
    if (epoch.staging && t == epoch.workers)
      epoch.staging->produce();
    else if (t < epoch.workers)
      SampleThread<S, Rule, Stop>(epoch, t).run();
  }
  epoch.result.interrupted = epoch.interrupted;
  return epoch.result;
}

}  // namespace fnn
