// Mini-batch SGD on several threads, each owning a fixed slice of every layer for the whole
// epoch, as the per-sample kernel does: the rows of W⁽ˡ⁾ (its neurons) for the forward product,
// the matching columns of W⁽ˡ⁺¹⁾ for backpropagation and the update, so no two threads write the
// same weights and nothing needs a reduction. Each slice is one single-threaded BLAS call; the
// threads meet at spin barriers between layers. On small batches this saves the hand-off that a
// multi-threaded BLAS pays inside every product (about a fifth of the time at B = 32).
//
// The work is cut into `slices` (the thread count asked for) whatever team runs it: a thread of a
// smaller team takes several slices in turn, so the weights depend on the number of slices only.
//
// A slice of a maxout layer (4.26)-(4.27) owns its neurons' K net inputs each (rows i·K … i·K+K−1
// of W⁽ˡ⁾), so its max and δ stay within the slice. PReLU layers (4.22) are element-wise but for
// their slopes γ: a slice updates the slopes of its own units right after their δ; a layer's one
// shared slope is updated by slice 0 once every slice has summed ∂L/∂γ over its units, the sum
// over the units then taken in unit order (so the slope, like everything else, does not depend
// on the slicing).
//
// With `bfloat16_products` (float32 networks), every product runs on bfloat16 copies of its
// operands, accumulated in float32 (onednn.hpp): each slice rounds what it wrote — its rows of
// the input, its block of a⁽ˡ⁾ and δ⁽ˡ⁾, its weights after their update — into the copies, which
// the barriers then show to the other slices. Everything else (activations, loss, δ⁽ᴸ⁾, the update
// of the float32 weights) stays float32.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "gemm.hpp"
#include "bfloat16.hpp"
#include "network.hpp"
#include "onednn.hpp"
#include "optimisers.hpp"
#include "reductions.hpp"
#include "sgd_per_sample.hpp"
#include "stop_poller.hpp"
#include "threads.hpp"
#include "waiting.hpp"

namespace fnn {

// What the team shares during one epoch of train_epoch_sliced: the data, the rule, the slices and
// the buffers they write, the barrier and the flags by which thread 0 steers the others.
template <class S, class Rule, class Stop>
struct SlicedEpoch {
  static constexpr bool single = std::is_same_v<S, float>;

  const Network<S>& net;
  const ConstMatrixMap<S>& X;
  const ConstMatrixMap<S>& T;
  const S* sample_weight;
  const std::int64_t* order;
  Index n;
  const Rule& rule;
  Index batch;
  int slices;
  ThreadPolicy& policy;
  Stop& should_stop;
  std::size_t L;
  Index per_line;
  S learning_rate;
  S decay;
  bool low;  // products on bfloat16 copies
  // Weight decay W ← (1 − αλ)W would cost a pass over W per step (BLAS's β). W⁽ˡ⁾ is held as s·V
  // instead: decay multiplies s, the update adds −α/(B·s)·δᵀa to V, products take s as their α,
  // and fold() writes s back. (Not with bfloat16 copies: they are of W itself.)
  bool lazy;
  Workspace<S> ws;
  BfloatOperands lo;
  // An optimiser's rule takes the gradient from here (see SliceThread::step_weights).
  bool clipping;
  std::vector<double> norm_part;  // each slice's Σ g² when clipping
  std::vector<RowMatrix<S>> weight_gradient;
  std::vector<RowVector<S>> bias_gradient;
  // PReLU: Σ over the rows of ∂L/∂a ⊙ min(0, z) per unit, and the slopes' gradient (per unit, or
  // one shared: the sum of the former over the units), which the update reads.
  std::vector<RowVector<S>> unit_slope_sums, slope_gradient;
  int team;
  Barrier barrier;
  std::vector<double> loss_part;
  // Each slice's neurons of every layer, and their net inputs (K per neuron of a maxout layer).
  std::vector<std::vector<std::pair<Index, Index>>> owned, inputs;
  EpochResult result;
  // Set by thread 0 at the end of a step, read by all after the next step's first barrier: every
  // thread reads them before the barriers that thread 0 must pass to set them again.
  std::atomic<bool> stop{false}, go_single{false};
  // Raised by thread 0 during a long step's forward pass or its backward pass: two flags, because
  // each is read at its own barrier, and thread 0 may raise the second while a slower thread is
  // still reading the first.
  std::atomic<bool> abandon_forward{false}, abandon_backward{false};
  bool interrupted = false;
  // A step of more rows than this runs its products a block of rows at a time, so that Ctrl-C is
  // heard within about 100 ms: blocks of about 2^28 multiply-adds. Steps of up to 512 rows are one
  // block (the weights of such steps are those of whole products).
  Index block_rows;
  int workers = 1;
  std::vector<long> team_ids;  // for reading each thread's scheduler statistics

  SlicedEpoch(const Network<S>& net, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T, const S* sample_weight,
              const std::int64_t* order, Index n, const Rule& rule, Index batch, int slices, ThreadPolicy& policy,
              Stop& should_stop, bool bfloat16_products, int threads)
      : net(net),
        X(X),
        T(T),
        sample_weight(sample_weight),
        order(order),
        n(n),
        rule(rule),
        batch(batch),
        slices(slices),
        policy(policy),
        should_stop(should_stop),
        L(net.layers.size()),
        per_line(64 / static_cast<Index>(sizeof(S))),
        learning_rate(rule.learning_rate),
        decay(Rule::plain ? S(1) - learning_rate * rule.l2 : S(1)),
        low(single && bfloat16_products),
        lazy(!low && Rule::plain && rule.l2 != S(0) && decay > S(0.5)),
        ws(net.make_workspace(std::min(batch, n))),
        lo(low ? BfloatOperands(net, std::min(batch, n)) : BfloatOperands()),
        clipping(clips(rule)),
        norm_part(slices, 0.0),
        unit_slope_sums(L),
        slope_gradient(L),
        // At most `threads` threads (when given: bfloat16 steps may have more slices than threads).
        team(policy.team(threads > 0 ? std::min(slices, threads) : slices)),
        barrier(team),
        loss_part(slices, 0.0),
        owned(slices),
        inputs(slices),
        block_rows(block_rows_for(net, batch, policy)),
        team_ids(team, 0) {
    if constexpr (!Rule::plain)
      for (const auto& layer : net.layers) {
        weight_gradient.emplace_back(layer.net_inputs(), layer.fan_in);
        bias_gradient.emplace_back(layer.net_inputs());
      }
    for (std::size_t l = 0; l < L; ++l)
      if (net.layers[l].activation == Activation::prelu) {
        unit_slope_sums[l].resize(net.layers[l].units);
        slope_gradient[l].resize(net.layers[l].n_slopes);
      }
    for (int s = 0; s < slices; ++s)
      for (const auto& layer : net.layers) {
        owned[s].push_back(share(layer.units, s, slices, per_line));
        inputs[s].emplace_back(owned[s].back().first * layer.pieces, owned[s].back().second * layer.pieces);
      }
  }

  static Index block_rows_for(const Network<S>& net, Index batch, const ThreadPolicy& policy) {
    if (policy.block_rows > 0) return std::min<Index>(batch, policy.block_rows);
    if (batch <= 512) return batch;
    return std::min(batch, std::max<Index>(64, (Index(1) << 28) / std::max<Index>(1, parameter_count(net)) / 16 * 16));
  }

  bool shared_slope(std::size_t l) const {
    return net.layers[l].activation == Activation::prelu && net.layers[l].n_slopes == 1;
  }
  // The part of W⁽ˡ⁾ slice s updates: its rows of W⁽¹⁾ (l = 0), its columns of W⁽ˡ⁾ (l ≥ 1).
  std::pair<Index, Index> weight_range(int s, std::size_t l) const { return l == 0 ? inputs[s][0] : owned[s][l - 1]; }
  // The PReLU slopes slice s updates in layer l: those of its units, or the shared one (slice 0).
  std::pair<Index, Index> owned_slopes(int s, std::size_t l) const {
    const Layer<S>& layer = net.layers[l];
    if (layer.activation != Activation::prelu) return {0, 0};
    if (layer.n_slopes == 1) return {0, s == 0 ? 1 : 0};
    return owned[s][l];
  }

  // A product on the bfloat16 copies, and the rounding of a float32 block into its copy.
  template <class A, class B, class C>
  static void gemm_low(bool ta, bool tb, S alpha, const A& a, const B& b, S beta, C&& c, const S* bias = nullptr) {
    if constexpr (single) onednn::gemm_bfloat16(ta, tb, alpha, a, b, beta, c, bias);
  }
  template <class From, class To>
  static void to_low(const From& from, To&& to) {
    if constexpr (single) round_to_bfloat16(from, to);
  }
};

// One thread of the team: the slices it takes (all of them once thread 0 carries on alone), its
// copy of the step's state, and the named steps of Algorithm 4.1 on a mini-batch.
template <class S, class Rule, class Stop>
class SliceThread {
 public:
  using clock = std::chrono::steady_clock;
  using Epoch = SlicedEpoch<S, Rule, Stop>;

  SliceThread(Epoch& e, int t)
      : e_(e),
        net_(e.net),
        ws_(e.ws),
        lo_(e.lo),
        t_(t),
        split_(e.workers),
        scale_(e.L, S(1)),
        step_rule_(e.rule),
        scratch_(e.ws.scratch.size()),
        poller_(e.should_stop) {
    if (t == 0 && split_ > 1)
      monitor_ = std::make_unique<TeamMonitor>(std::vector<long>(e.team_ids.begin(), e.team_ids.begin() + e.workers));
  }

  void run() {
    each_slice([&](int s) {
      for (std::size_t l = 0; l < e_.L; ++l) refresh_low(s, l);
    });  // (seen by all after the first step's first barrier)
    Index step = 0;
    for (Index first = 0; first < e_.n; first += e_.batch, ++step) {
      const Index rows = std::min(e_.batch, e_.n - first);
      const bool long_step = rows > e_.block_rows;
      e_.barrier.wait();  // everyone is done with the previous batch's rows
      if (e_.stop.load(std::memory_order_relaxed)) break;
      if (e_.go_single.load(std::memory_order_relaxed) && split_ > 1) {
        if (t_ != 0) {
          left_ = true;
          break;
        }
        split_ = 1;
        e_.barrier.set_threads(1);
      }
      gather(first, rows);
      e_.barrier.wait();
      forward(rows, long_step);
      output_and_loss(rows);
      e_.barrier.wait();
      // Everyone sees the same abandon_forward here: thread 0 raises it only before this barrier.
      if (e_.abandon_forward.load(std::memory_order_relaxed)) break;
      double loss = 0;
      for (double part : e_.loss_part) loss += part;  // same order in every thread
      if (!std::isfinite(loss)) {
        if (t_ == 0) e_.result.diverged = true;
        break;
      }
      step_rule_.begin_step();
      if (Rule::plain && long_step) take_backup();  // the updates below can no longer be left half done
      for (std::size_t l = e_.L; l-- > 0;) backward(l, rows, long_step);
      if (long_step) {
        e_.barrier.wait();  // thread 0's last word on abandon_backward reaches everyone
        if (e_.abandon_backward.load(std::memory_order_relaxed)) {
          if constexpr (Rule::plain) restore_backup();
          break;
        }
      }
      if (!Rule::plain && (long_step || e_.clipping)) deferred_updates();
      if (t_ == 0) report(step, loss, rows);
    }
    if (!left_) {
      for (std::size_t l = 0; l < e_.L; ++l) fold(l);
      if (t_ == 0 && split_ > 1 && monitor_->contended_at_end(clock::now())) e_.policy.note_contention();
    }
  }

 private:
  // Runs body(s) for every slice this thread takes.
  template <class Body>
  void each_slice(Body&& body) {
    for (int s = t_; s < e_.slices; s += split_) body(s);
  }

  // The weights slice s updates: its rows of W⁽¹⁾, its columns of W⁽ˡ⁾ for l ≥ 2.
  // (`all`: the layer's weights or their gradient, both shaped like W⁽ˡ⁾.)
  template <class All>
  auto slice_of(int s, std::size_t l, All&& all) {
    const auto [k0, k1] = e_.weight_range(s, l);
    return l == 0 ? all.block(k0, 0, k1 - k0, all.cols()) : all.block(0, k0, all.rows(), k1 - k0);
  }
  auto slice_weights(int s, std::size_t l) { return slice_of(s, l, net_.layers[l].W()); }
  void refresh_low(int s, std::size_t l) {  // the bfloat16 copy of slice s's updated weights
    if (e_.low) Epoch::to_low(slice_weights(s, l), slice_of(s, l, lo_.weights[l]));
  }
  void fold(std::size_t l) {
    if (scale_[l] != S(1)) each_slice([&](int s) { slice_weights(s, l) *= scale_[l]; });
    scale_[l] = S(1);
  }

  // Ctrl-C during a long step: thread 0 asks Python between blocks of rows and, if so, raises
  // `flag`; every thread then skips the rest of the step's work (but not its barriers), and
  // puts back its own weights as they were before the step, from the backup.
  void poll(std::atomic<bool>& flag) {
    if (t_ == 0 && poller_.poll(std::chrono::milliseconds(20))) {
      e_.interrupted = true;
      flag.store(true, std::memory_order_relaxed);
    }
  }
  bool abandoned() const {
    return e_.abandon_forward.load(std::memory_order_relaxed) || e_.abandon_backward.load(std::memory_order_relaxed);
  }
  void take_backup() {
    backup_weights_.clear();
    backup_biases_.clear();
    backup_slopes_.clear();
    each_slice([&](int s) {
      for (std::size_t l = 0; l < e_.L; ++l) {
        backup_weights_.emplace_back(slice_weights(s, l));
        const auto [b0, b1] = e_.inputs[s][l];
        backup_biases_.emplace_back(net_.layers[l].b().segment(b0, b1 - b0));
        const auto [g0, g1] = e_.owned_slopes(s, l);
        backup_slopes_.emplace_back(RowVectorMap<S>(net_.layers[l].slopes + g0, g1 - g0));
      }
    });
    backup_scale_ = scale_;
  }
  void restore_backup() {
    std::size_t i = 0;
    each_slice([&](int s) {
      for (std::size_t l = 0; l < e_.L; ++l, ++i) {
        slice_weights(s, l) = backup_weights_[i];
        const auto [b0, b1] = e_.inputs[s][l];
        net_.layers[l].b().segment(b0, b1 - b0) = backup_biases_[i];
        const auto [g0, g1] = e_.owned_slopes(s, l);
        RowVectorMap<S>(net_.layers[l].slopes + g0, g1 - g0) = backup_slopes_[i];
      }
    });
    scale_ = backup_scale_;
  }

  // An optimiser's step on slice s's weights (or biases) of layer l, from their gradient: right
  // after the gradient in a short step, while it is still in cache (nothing else reads these
  // weights in this step: another slice's (4.59) reads only its own columns); after the whole
  // backward pass in a long one, which Ctrl-C may abandon half way, or when clipping, which
  // needs the whole gradient's norm.
  void step_weights(int s, std::size_t l) {
    if constexpr (!Rule::plain) {
      const Layer<S>& layer = net_.layers[l];
      const auto [k0, k1] = e_.weight_range(s, l);
      const Index offset = l == 0 ? k0 * layer.fan_in : k0;
      apply_rows(step_rule_.bind((*e_.rule.state)[l].weights, true), layer.weights + offset,
                 e_.weight_gradient[l].data() + offset, offset, l == 0 ? k1 - k0 : layer.net_inputs(),
                 l == 0 ? layer.fan_in : k1 - k0, layer.fan_in);
    }
  }
  // The slopes slice s owns in layer l, from their gradient: SGD's step (no weight decay on
  // slopes, as in (4.39)), or the optimiser's rule.
  void step_slopes(int s, std::size_t l) {
    const auto [g0, g1] = e_.owned_slopes(s, l);
    if (g1 == g0) return;
    if constexpr (Rule::plain) {
      RowVectorMap<S>(net_.layers[l].slopes + g0, g1 - g0) -=
          e_.learning_rate * e_.slope_gradient[l].segment(g0, g1 - g0);
    } else {
      apply_rows(step_rule_.bind((*e_.rule.state)[l].slopes, false), net_.layers[l].slopes + g0,
                 e_.slope_gradient[l].data() + g0, g0, 1, g1 - g0, g1 - g0);
    }
  }
  void step_biases(int s, std::size_t l) {
    if constexpr (!Rule::plain) {
      const auto [b0, b1] = e_.inputs[s][l];
      apply_rows(step_rule_.bind((*e_.rule.state)[l].biases, false), net_.layers[l].biases + b0,
                 e_.bias_gradient[l].data() + b0, b0, 1, b1 - b0, b1 - b0);
    }
  }

  // ---- the step's rows, each slice's share: a⁽⁰⁾, the targets and the weights.
  void gather(Index first, Index rows) {
    each_slice([&](int s) {
      const auto [r0, r1] = share(rows, s, e_.slices, 1);
      // (With bfloat16 products a⁽⁰⁾ is only an operand: rounded straight from X.)
      fnn::gather(ws_, e_.X, &e_.T, e_.sample_weight, e_.order, first + r0, r1 - r0, r0, !e_.low);
      if constexpr (Epoch::single)
        if (e_.low) gather_bfloat16(e_.X, e_.order, first + r0, r1 - r0, lo_.input, r0);
    });
  }

  // ---- forward, each slice's neurons of each layer: z = a Wᵀ + b, then a = f(z), a block of
  // rows at a time in a long step.
  void forward(Index rows, bool long_step) {
    for (std::size_t l = 0; l < e_.L; ++l) {
      for (Index r0 = 0; r0 < rows && !abandoned(); r0 += e_.block_rows) {
        const Index count = std::min(e_.block_rows, rows - r0);
        each_slice([&](int s) { forward_block(s, l, r0, count); });
        if (long_step) poll(e_.abandon_forward);
      }
      e_.barrier.wait();
    }
  }
  void forward_block(int s, std::size_t l, Index r0, Index count) {
    const Layer<S>& layer = net_.layers[l];
    const auto [c0, c1] = e_.owned[s][l];   // the neurons
    const auto [n0, n1] = e_.inputs[s][l];  // their net inputs
    if (c1 == c0) return;
    auto a_prev = l == 0 ? ws_.input.middleRows(r0, count) : ws_.activation[l - 1].middleRows(r0, count);
    auto z = ws_.net_input[l].block(r0, n0, count, n1 - n0);
    if (e_.low) {
      Epoch::gemm_low(false, true, S(1), (l == 0 ? lo_.input : lo_.activation[l - 1]).middleRows(r0, count),
                      lo_.weights[l].middleRows(n0, n1 - n0), S(0), z, layer.biases + n0);
    } else {
      net_input(layer, n0, a_prev, z, scale_[l]);
    }
    if (l + 1 < e_.L) {
      auto a = ws_.activation[l].block(r0, c0, count, c1 - c0);
      activate(layer, c0, z, a);  // (maxout (4.27): the block's units whole)
      if (e_.low) Epoch::to_low(a, lo_.activation[l].block(r0, c0, count, c1 - c0));
    }
  }

  // ---- output layer and loss, each slice's rows of the batch.
  void output_and_loss(Index rows) {
    if (abandoned()) return;
    each_slice([&](int s) {
      const auto [r0, r1] = share(rows, s, e_.slices, 1);
      if (r1 == r0) {
        e_.loss_part[s] = 0;
        return;
      }
      auto z = ws_.net_input.back().middleRows(r0, r1 - r0);
      auto y_hat = ws_.activation.back().middleRows(r0, r1 - r0);
      auto target = ws_.target.middleRows(r0, r1 - r0);
      auto delta = ws_.delta.back().middleRows(r0, r1 - r0);
      output_activation<S>(net_.output, z, y_hat);
      const S* weight = e_.sample_weight ? ws_.sample_weight.data() + r0 : nullptr;
      e_.loss_part[s] = static_cast<double>(weighted_output_loss<S>(net_.output, z, target, y_hat, &delta, weight));
      if (e_.low) Epoch::to_low(delta, lo_.delta.back().middleRows(r0, r1 - r0));
    });
  }

  // ---- backward and update of layer l (L down to 1); a long step's products a block of rows at
  // a time: (4.59) rows of δ⁽ˡ⁻¹⁾, and the update's sum over the rows in blocks added in order.
  void backward(std::size_t l, Index rows, bool long_step) {
    const S before = scale_[l];  // the weights before their update feed (4.59)
    if (e_.lazy) scale_[l] *= e_.decay;
    each_slice([&](int s) {
      if (abandoned()) return;
      const auto [k0, k1] = e_.weight_range(s, l);  // own rows (l = 0) or columns
      if (k1 == k0) return;
      if (l > 0) propagate(s, l, rows, long_step, before);
      weight_step(s, l, rows, long_step);
    });
    each_slice([&](int s) {
      bias_step(s, l, rows, long_step);
      delta_below(s, l, rows, long_step);
    });
    if (e_.lazy && scale_[l] < S(0.5)) fold(l);
    if (l > 0) e_.barrier.wait();  // layer l−1 needs all of δ⁽ˡ⁻¹⁾
    if (l > 0 && e_.shared_slope(l - 1) && !abandoned())
      each_slice([&](int s) {
        if (s != 0) return;  // (nobody reads this slope again before the next step's forward pass)
        S sum = 0;
        for (Index i = 0; i < net_.layers[l - 1].units; ++i) sum += e_.unit_slope_sums[l - 1](i);
        e_.slope_gradient[l - 1](0) = sum / static_cast<S>(rows);
        if (Rule::plain || (!long_step && !e_.clipping)) step_slopes(s, l - 1);
      });
  }

  // (4.59) for slice s's neurons of layer l−1, with the weights before their update (`before`:
  // their scale).
  void propagate(int s, std::size_t l, Index rows, bool long_step, S before) {
    const Layer<S>& layer = net_.layers[l];
    const auto [k0, k1] = e_.weight_range(s, l);
    const Index width = k1 - k0;
    for (Index r0 = 0; r0 < rows && !abandoned(); r0 += e_.block_rows) {
      const Index count = std::min(e_.block_rows, rows - r0);
      auto grad_a = ws_.grad_activation[l - 1].block(r0, k0, count, width);
      if (e_.low)
        Epoch::gemm_low(false, false, S(1), lo_.delta[l].middleRows(r0, count), lo_.weights[l].middleCols(k0, width),
                        S(0), grad_a);
      else
        gemm<S>(false, false, before, ws_.delta[l].middleRows(r0, count), layer.W().middleCols(k0, width), S(0),
                grad_a);
      if (long_step) poll(e_.abandon_backward);
    }
  }

  // (4.62) for slice s's part of W⁽ˡ⁾: plain SGD adds −α/B·δᵀa to W (or to V); an optimiser's
  // gradient δᵀa/B goes to its buffer, and its rule steps right away in a short step.
  void weight_step(int s, std::size_t l, Index rows, bool long_step) {
    const Layer<S>& layer = net_.layers[l];
    const auto [k0, k1] = e_.weight_range(s, l);
    const Index width = k1 - k0;
    const S step_size = e_.learning_rate / static_cast<S>(rows);
    const S alpha = !Rule::plain ? S(1) / static_cast<S>(rows) : e_.lazy ? -step_size / scale_[l] : -step_size;
    for (Index r0 = 0; r0 < rows && !abandoned(); r0 += e_.block_rows) {
      const Index count = std::min(e_.block_rows, rows - r0);
      const S beta = r0 > 0 ? S(1) : !Rule::plain ? S(0) : e_.lazy ? S(1) : e_.decay;
      auto delta = ws_.delta[l].middleRows(r0, count);
      auto a_prev = l == 0 ? ws_.input.middleRows(r0, count) : ws_.activation[l - 1].middleRows(r0, count);
      auto target = [&] {
        if constexpr (Rule::plain)
          return slice_weights(s, l);
        else
          return slice_of(s, l, MatrixMap<S>(e_.weight_gradient[l].data(), layer.net_inputs(), layer.fan_in));
      }();
      if (e_.low && l == 0)
        Epoch::gemm_low(true, false, alpha, lo_.delta[0].middleRows(r0, count).middleCols(k0, width),
                        lo_.input.middleRows(r0, count), beta, target);
      else if (e_.low)
        Epoch::gemm_low(true, false, alpha, lo_.delta[l].middleRows(r0, count),
                        lo_.activation[l - 1].middleRows(r0, count).middleCols(k0, width), beta, target);
      else if (l == 0)
        gemm<S>(true, false, alpha, delta.middleCols(k0, width), a_prev, beta, target);
      else
        gemm<S>(true, false, alpha, delta, a_prev.middleCols(k0, width), beta, target);
      if (long_step) poll(e_.abandon_backward);
    }
    if (Rule::plain) refresh_low(s, l);  // (after (4.59), which needs the weights before)
    if (!Rule::plain && !long_step && !e_.clipping) {
      step_weights(s, l);
      refresh_low(s, l);
    }
  }

  // (4.61) for slice s's biases of layer l: SGD's step, or the optimiser's gradient (and step).
  void bias_step(int s, std::size_t l, Index rows, bool long_step) {
    const auto [b0, b1] = e_.inputs[s][l];
    if (b1 == b0 || abandoned()) return;
    auto delta = ws_.delta[l].topRows(rows).middleCols(b0, b1 - b0);
    if constexpr (Rule::plain) {
      const S step_size = e_.learning_rate / static_cast<S>(rows);
      add_column_sums(delta, -step_size, net_.layers[l].b().segment(b0, b1 - b0), scratch_);
    } else {
      e_.bias_gradient[l].segment(b0, b1 - b0).setZero();
      add_column_sums(delta, S(1) / static_cast<S>(rows), e_.bias_gradient[l].segment(b0, b1 - b0), scratch_);
      if (!long_step && !e_.clipping) step_biases(s, l);
    }
  }

  // δ⁽ˡ⁻¹⁾ of slice s's neurons from ∂L/∂a⁽ˡ⁻¹⁾ (4.63): the derivative of their activation, the
  // winning piece of a maxout unit, or PReLU's, whose slopes' gradient is summed here too.
  void delta_below(int s, std::size_t l, Index rows, bool long_step) {
    if (l == 0) return;
    const auto [k0, k1] = e_.owned[s][l - 1];
    if (k1 == k0 || abandoned()) return;
    const Layer<S>& below = net_.layers[l - 1];
    const Index width = k1 - k0;
    const auto [n0, n1] = e_.inputs[s][l - 1];
    auto z = ws_.net_input[l - 1].block(0, n0, rows, n1 - n0);
    auto a = ws_.activation[l - 1].block(0, k0, rows, width);
    auto g = ws_.grad_activation[l - 1].block(0, k0, rows, width);
    auto d = ws_.delta[l - 1].block(0, n0, rows, n1 - n0);
    if (below.activation == Activation::maxout) {
      // The error flows only to the piece that won the max (the first one on ties).
      const Index K = below.pieces;
      d.setZero();
      for (Index r = 0; r < rows; ++r)
        for (Index i = 0; i < width; ++i) d(r, i * K + maxout_winner(&z(r, i * K), K)) = g(r, i);
    } else if (below.activation == Activation::prelu) {
      // ∂L/∂γᵢ = Σ ∂L/∂aᵢ·min(0, zᵢ) over the rows, and δ = ∂L/∂a ⊙ (1 if z > 0, else γᵢ),
      // with the slopes of the forward pass; then the slice's own slopes are updated.
      auto sums = e_.unit_slope_sums[l - 1].segment(k0, width);
      sums.setZero();
      add_column_sums(g.cwiseProduct(z.cwiseMin(S(0))), S(1), sums, scratch_);
      prelu_delta_block(below, k0, z, g, d);
      if (below.n_slopes > 1) {
        e_.slope_gradient[l - 1].segment(k0, width) = sums / static_cast<S>(rows);
        if (Rule::plain || (!long_step && !e_.clipping)) step_slopes(s, l - 1);
      }
    } else {
      Network<S>::elementwise_delta(below, z, a, g, d);
    }
    if (e_.low) Epoch::to_low(d, lo_.delta[l - 1].block(0, n0, rows, n1 - n0));
  }

  // An optimiser's steps after the whole backward pass (a long step, or clipping: every slice's
  // gradient scaled by the factor of the whole gradient's norm first).
  void deferred_updates() {
    S factor = 1;
    if (e_.clipping) {  // Σ g² by slice, added in slice order: the same on any team
      each_slice([&](int s) {
        double sum = 0;
        for (std::size_t l = 0; l < e_.L; ++l)
          gradient_blocks(s, l,
                          [&](const S* g, Index r, Index c, Index stride) { sum += sum_of_squares(g, r, c, stride); });
        e_.norm_part[s] = sum;
      });
      e_.barrier.wait();
      double total = 0;
      for (double part : e_.norm_part) total += part;
      factor = clip_factor(total, e_.rule.clip_norm);
    }
    each_slice([&](int s) {
      for (std::size_t l = 0; l < e_.L; ++l) {
        gradient_blocks(s, l, [&](S* g, Index r, Index c, Index stride) { scale_block(factor, g, r, c, stride); });
        step_weights(s, l);
        refresh_low(s, l);
        if (e_.inputs[s][l].second > e_.inputs[s][l].first) step_biases(s, l);
        step_slopes(s, l);
      }
    });
  }
  // body(gradient, rows, columns, stride) for each block of slice s's gradient in layer l (l = 0:
  // its rows of W⁽¹⁾; l ≥ 1: its columns of W⁽ˡ⁾, as in step_weights), its biases' and slopes'.
  template <class Body>
  void gradient_blocks(int s, std::size_t l, Body&& body) {
    const Layer<S>& layer = net_.layers[l];
    const auto [k0, k1] = e_.weight_range(s, l);
    body(e_.weight_gradient[l].data() + (l == 0 ? k0 * layer.fan_in : k0), l == 0 ? k1 - k0 : layer.net_inputs(),
         l == 0 ? layer.fan_in : k1 - k0, layer.fan_in);
    const auto [b0, b1] = e_.inputs[s][l];
    body(e_.bias_gradient[l].data() + b0, Index(1), b1 - b0, b1 - b0);
    const auto [g0, g1] = e_.owned_slopes(s, l);
    if (g1 > g0) body(e_.slope_gradient[l].data() + g0, Index(1), g1 - g0, g1 - g0);
  }

  // Thread 0 after each step: the result, Ctrl-C, and whether the team should hand its work to
  // thread 0 (contention, or the tests' switch).
  void report(Index step, double loss, Index rows) {
    e_.result.loss_sum += loss;
    e_.result.samples += rows;
    e_.result.steps += 1;
    const auto now = clock::now();
    if (poller_.due(now)) {  // a step costs far more than reading the clock
      if (poller_.stop_requested()) {
        e_.interrupted = true;
        e_.stop.store(true, std::memory_order_relaxed);  // seen by all after the next barrier
      }
      if (split_ > 1 && monitor_->contended(now)) {
        e_.policy.note_contention();
        e_.go_single.store(true, std::memory_order_relaxed);
      }
    }
    if (step == e_.policy.switch_at) e_.go_single.store(true, std::memory_order_relaxed);
  }

  Epoch& e_;
  const Network<S>& net_;
  Workspace<S>& ws_;
  BfloatOperands& lo_;
  const int t_;
  int split_;             // threads sharing the slices; 1 once thread 0 carries on alone
  std::vector<S> scale_;  // every thread applies the same sequence, so all agree
  Rule step_rule_;        // likewise
  RowVector<S> scratch_;
  std::unique_ptr<TeamMonitor> monitor_;
  StopPoller<Stop> poller_;  // asked by thread 0
  bool left_ = false;        // this thread handed its slices to thread 0
  std::vector<RowMatrix<S>> backup_weights_;
  std::vector<RowVector<S>> backup_biases_, backup_slopes_;
  std::vector<S> backup_scale_;
};

template <class S, class Rule, class StopCheck>
EpochResult train_epoch_sliced(const Network<S>& net, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T,
                               const S* sample_weight, const std::int64_t* order, Index n, const Rule& rule,
                               Index batch, int slices, ThreadPolicy& policy, StopCheck&& should_stop,
                               bool bfloat16_products = false, int threads = 0) {
  using Stop = std::remove_reference_t<StopCheck>;
  SlicedEpoch<S, Rule, Stop> epoch(net, X, T, sample_weight, order, n, rule, batch, slices, policy, should_stop,
                                   bfloat16_products, threads);
  set_gemm_threads(1);
#pragma omp parallel num_threads(epoch.team) if (epoch.team > 1)
  {
    epoch.team_ids[thread_number()] = thread_id();
#pragma omp single
    {
      epoch.workers = team_size();
      epoch.barrier.set_threads(epoch.workers);
    }  // (OpenMP's barrier: every thread sees the team and the ids)
    SliceThread<S, Rule, Stop>(epoch, thread_number()).run();
  }
  epoch.result.interrupted = epoch.interrupted;
  return epoch.result;
}

}  // namespace fnn
