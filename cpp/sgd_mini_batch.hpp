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

template <class S, class Rule, class StopCheck>
EpochResult train_epoch_sliced(const Network<S>& net, const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T,
                               const S* sample_weight, const std::int64_t* order, Index n, const Rule& rule,
                               Index batch, int slices, ThreadPolicy& policy, StopCheck&& should_stop,
                               bool bfloat16_products = false, int threads = 0) {
  using clock = std::chrono::steady_clock;
  const std::size_t L = net.layers.size();
  const Index per_line = 64 / static_cast<Index>(sizeof(S));
  const S learning_rate = rule.learning_rate;
  const S decay = Rule::plain ? S(1) - learning_rate * rule.l2 : S(1);
  constexpr bool single = std::is_same_v<S, float>;
  const bool low = single && bfloat16_products;
  // Weight decay W ← (1 − αλ)W would cost a pass over W per step (BLAS's β). W⁽ˡ⁾ is held as s·V
  // instead: decay multiplies s, the update adds −α/(B·s)·δᵀa to V, products take s as their α,
  // and fold() writes s back. (Not with bfloat16 copies: they are of W itself.)
  const bool lazy = !low && Rule::plain && rule.l2 != S(0) && decay > S(0.5);
  Workspace<S> ws = net.make_workspace(std::min(batch, n));
  BfloatOperands lo = low ? BfloatOperands(net, std::min(batch, n)) : BfloatOperands();
  // A product on the bfloat16 copies, and the rounding of a float32 block into its copy.
  auto gemm_low = [](bool ta, bool tb, S alpha, const auto& a, const auto& b, S beta, auto&& c,
                     const S* bias = nullptr) {
    if constexpr (single) onednn::gemm_bfloat16(ta, tb, alpha, a, b, beta, c, bias);
  };
  auto to_low = [](const auto& from, auto&& to) {
    if constexpr (single) round_to_bfloat16(from, to);
  };
  // An optimiser's rule takes the gradient from here (see step_weights below).
  const bool clipping = clips(rule);
  std::vector<double> norm_part(slices, 0.0);  // each slice's Σ g² when clipping
  std::vector<RowMatrix<S>> weight_gradient;
  std::vector<RowVector<S>> bias_gradient;
  if constexpr (!Rule::plain)
    for (const auto& layer : net.layers) {
      weight_gradient.emplace_back(layer.net_inputs(), layer.fan_in);
      bias_gradient.emplace_back(layer.net_inputs());
    }
  // PReLU: Σ over the rows of ∂L/∂a ⊙ min(0, z) per unit, and the slopes' gradient (per unit, or
  // one shared: the sum of the former over the units), which the update reads.
  std::vector<RowVector<S>> unit_slope_sums(L), slope_gradient(L);
  for (std::size_t l = 0; l < L; ++l)
    if (net.layers[l].activation == Activation::prelu) {
      unit_slope_sums[l].resize(net.layers[l].units);
      slope_gradient[l].resize(net.layers[l].n_slopes);
    }
  auto shared_slope = [&](std::size_t l) {
    return net.layers[l].activation == Activation::prelu && net.layers[l].n_slopes == 1;
  };
  // At most `threads` threads (when given: bfloat16 steps may have more slices than threads).
  const int team = policy.team(threads > 0 ? std::min(slices, threads) : slices);
  Barrier barrier(team);
  std::vector<double> loss_part(slices, 0.0);
  // Each slice's neurons of every layer, and their net inputs (K per neuron of a maxout layer).
  std::vector<std::vector<std::pair<Index, Index>>> owned(slices), inputs(slices);
  for (int s = 0; s < slices; ++s)
    for (const auto& layer : net.layers) {
      owned[s].push_back(share(layer.units, s, slices, per_line));
      inputs[s].emplace_back(owned[s].back().first * layer.pieces, owned[s].back().second * layer.pieces);
    }
  // The part of W⁽ˡ⁾ slice s updates: its rows of W⁽¹⁾ (l = 0), its columns of W⁽ˡ⁾ (l ≥ 1).
  auto weight_range = [&](int s, std::size_t l) { return l == 0 ? inputs[s][0] : owned[s][l - 1]; };
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
  const Index block_rows =
      policy.block_rows > 0 ? std::min<Index>(batch, policy.block_rows)
      : batch <= 512
          ? batch
          : std::min(batch, std::max<Index>(64, (Index(1) << 28) / std::max<Index>(1, parameter_count(net)) / 16 * 16));
  int workers = 1;
  set_gemm_threads(1);

  std::vector<long> team_ids(team, 0);  // for reading each thread's scheduler statistics

#pragma omp parallel num_threads(team) if (team > 1)
  {
    team_ids[thread_number()] = thread_id();
#pragma omp single
    {
      workers = team_size();
      barrier.set_threads(workers);
    }  // (OpenMP's barrier: every thread sees the team and the ids)
    const int t = thread_number();
    int split = workers;  // threads sharing the slices; 1 once thread 0 carries on alone
    // Runs body(s) for every slice this thread takes.
    auto each_slice = [&](auto&& body) {
      for (int s = t; s < slices; s += split) body(s);
    };
    std::vector<S> scale(L, S(1));  // every thread applies the same sequence, so all agree
    Rule step_rule = rule;          // likewise
    RowVector<S> scratch(ws.scratch.size());
    std::unique_ptr<TeamMonitor> monitor;
    if (t == 0 && split > 1)
      monitor = std::make_unique<TeamMonitor>(std::vector<long>(team_ids.begin(), team_ids.begin() + workers));
    StopPoller poller(should_stop);  // asked by thread 0

    // The weights slice s updates: its rows of W⁽¹⁾, its columns of W⁽ˡ⁾ for l ≥ 2.
    // (`all`: the layer's weights or their gradient, both shaped like W⁽ˡ⁾.)
    auto slice_of = [&](int s, std::size_t l, auto&& all) {
      const auto [k0, k1] = weight_range(s, l);
      return l == 0 ? all.block(k0, 0, k1 - k0, all.cols()) : all.block(0, k0, all.rows(), k1 - k0);
    };
    auto slice_weights = [&](int s, std::size_t l) { return slice_of(s, l, net.layers[l].W()); };
    auto refresh_low = [&](int s, std::size_t l) {  // the bfloat16 copy of slice s's updated weights
      if (low) to_low(slice_weights(s, l), slice_of(s, l, lo.weights[l]));
    };
    auto fold = [&](std::size_t l) {
      if (scale[l] != S(1)) each_slice([&](int s) { slice_weights(s, l) *= scale[l]; });
      scale[l] = S(1);
    };

    // Ctrl-C during a long step: thread 0 asks Python between blocks of rows and, if so, raises
    // `flag`; every thread then skips the rest of the step's work (but not its barriers), and
    // puts back its own weights as they were before the step, from the backup.
    auto poll = [&](std::atomic<bool>& flag) {
      if (t == 0 && poller.poll(std::chrono::milliseconds(20))) {
        interrupted = true;
        flag.store(true, std::memory_order_relaxed);
      }
    };
    auto abandoned = [&] {
      return abandon_forward.load(std::memory_order_relaxed) || abandon_backward.load(std::memory_order_relaxed);
    };
    // The PReLU slopes slice s updates in layer l: those of its units, or the shared one (slice 0).
    auto owned_slopes = [&](int s, std::size_t l) -> std::pair<Index, Index> {
      const Layer<S>& layer = net.layers[l];
      if (layer.activation != Activation::prelu) return {0, 0};
      if (layer.n_slopes == 1) return {0, s == 0 ? 1 : 0};
      return owned[s][l];
    };
    std::vector<RowMatrix<S>> backup_weights;
    std::vector<RowVector<S>> backup_biases, backup_slopes;
    std::vector<S> backup_scale;
    auto take_backup = [&] {
      backup_weights.clear();
      backup_biases.clear();
      backup_slopes.clear();
      each_slice([&](int s) {
        for (std::size_t l = 0; l < L; ++l) {
          backup_weights.emplace_back(slice_weights(s, l));
          const auto [b0, b1] = inputs[s][l];
          backup_biases.emplace_back(net.layers[l].b().segment(b0, b1 - b0));
          const auto [g0, g1] = owned_slopes(s, l);
          backup_slopes.emplace_back(RowVectorMap<S>(net.layers[l].slopes + g0, g1 - g0));
        }
      });
      backup_scale = scale;
    };
    auto restore_backup = [&] {
      std::size_t i = 0;
      each_slice([&](int s) {
        for (std::size_t l = 0; l < L; ++l, ++i) {
          slice_weights(s, l) = backup_weights[i];
          const auto [b0, b1] = inputs[s][l];
          net.layers[l].b().segment(b0, b1 - b0) = backup_biases[i];
          const auto [g0, g1] = owned_slopes(s, l);
          RowVectorMap<S>(net.layers[l].slopes + g0, g1 - g0) = backup_slopes[i];
        }
      });
      scale = backup_scale;
    };

    // An optimiser's step on slice s's weights (or biases) of layer l, from their gradient: right
    // after the gradient in a short step, while it is still in cache (nothing else reads these
    // weights in this step: another slice's (4.59) reads only its own columns); after the whole
    // backward pass in a long one, which Ctrl-C may abandon half way, or when clipping, which
    // needs the whole gradient's norm.
    auto step_weights = [&](int s, std::size_t l) {
      if constexpr (!Rule::plain) {
        const Layer<S>& layer = net.layers[l];
        const auto [k0, k1] = weight_range(s, l);
        const Index offset = l == 0 ? k0 * layer.fan_in : k0;
        apply_rows(step_rule.bind((*rule.state)[l].weights, true), layer.weights + offset,
                   weight_gradient[l].data() + offset, offset, l == 0 ? k1 - k0 : layer.net_inputs(),
                   l == 0 ? layer.fan_in : k1 - k0, layer.fan_in);
      }
    };
    // The slopes slice s owns in layer l, from their gradient: SGD's step (no weight decay on
    // slopes, as in (4.39)), or the optimiser's rule.
    auto step_slopes = [&](int s, std::size_t l) {
      const auto [g0, g1] = owned_slopes(s, l);
      if (g1 == g0) return;
      if constexpr (Rule::plain) {
        RowVectorMap<S>(net.layers[l].slopes + g0, g1 - g0) -= learning_rate * slope_gradient[l].segment(g0, g1 - g0);
      } else {
        apply_rows(step_rule.bind((*rule.state)[l].slopes, false), net.layers[l].slopes + g0,
                   slope_gradient[l].data() + g0, g0, 1, g1 - g0, g1 - g0);
      }
    };
    auto step_biases = [&](int s, std::size_t l) {
      if constexpr (!Rule::plain) {
        const auto [b0, b1] = inputs[s][l];
        apply_rows(step_rule.bind((*rule.state)[l].biases, false), net.layers[l].biases + b0,
                   bias_gradient[l].data() + b0, b0, 1, b1 - b0, b1 - b0);
      }
    };

    each_slice([&](int s) {
      for (std::size_t l = 0; l < L; ++l) refresh_low(s, l);
    });                 // (seen by all after the first step's first barrier)
    bool left = false;  // this thread handed its slices to thread 0
    Index step = 0;
    for (Index first = 0; first < n; first += batch, ++step) {
      const Index rows = std::min(batch, n - first);
      const bool long_step = rows > block_rows;
      barrier.wait();  // everyone is done with the previous batch's rows
      if (stop.load(std::memory_order_relaxed)) break;
      if (go_single.load(std::memory_order_relaxed) && split > 1) {
        if (t != 0) {
          left = true;
          break;
        }
        split = 1;
        barrier.set_threads(1);
      }
      each_slice([&](int s) {
        const auto [r0, r1] = share(rows, s, slices, 1);
        // (With bfloat16 products a⁽⁰⁾ is only an operand: rounded straight from X.)
        gather(ws, X, &T, sample_weight, order, first + r0, r1 - r0, r0, !low);
        if constexpr (single)
          if (low) gather_bfloat16(X, order, first + r0, r1 - r0, lo.input, r0);
      });
      barrier.wait();

      // ---- forward, each slice's neurons of each layer: z = a Wᵀ + b, then a = f(z), a block
      // of rows at a time in a long step.
      for (std::size_t l = 0; l < L; ++l) {
        const Layer<S>& layer = net.layers[l];
        for (Index r0 = 0; r0 < rows && !abandoned(); r0 += block_rows) {
          const Index count = std::min(block_rows, rows - r0);
          each_slice([&](int s) {
            const auto [c0, c1] = owned[s][l];   // the neurons
            const auto [n0, n1] = inputs[s][l];  // their net inputs
            if (c1 == c0) return;
            auto a_prev = l == 0 ? ws.input.middleRows(r0, count) : ws.activation[l - 1].middleRows(r0, count);
            auto z = ws.net_input[l].block(r0, n0, count, n1 - n0);
            if (low) {
              gemm_low(false, true, S(1), (l == 0 ? lo.input : lo.activation[l - 1]).middleRows(r0, count),
                       lo.weights[l].middleRows(n0, n1 - n0), S(0), z, layer.biases + n0);
            } else {
              z.rowwise() = layer.b().segment(n0, n1 - n0);
              gemm<S>(false, true, scale[l], a_prev, layer.W().middleRows(n0, n1 - n0), S(1), z);
            }
            if (l + 1 < L) {
              auto a = ws.activation[l].block(r0, c0, count, c1 - c0);
              if (layer.activation == Activation::prelu)
                prelu_block(layer, c0, z, a);
              else
                Network<S>::activate(layer, z, a);  // (maxout (4.27): the block's units whole)
              if (low) to_low(a, lo.activation[l].block(r0, c0, count, c1 - c0));
            }
          });
          if (long_step) poll(abandon_forward);
        }
        barrier.wait();
      }

      // ---- output layer and loss, each slice's rows of the batch.
      if (!abandoned()) {
        each_slice([&](int s) {
          const auto [r0, r1] = share(rows, s, slices, 1);
          if (r1 == r0) {
            loss_part[s] = 0;
            return;
          }
          auto z = ws.net_input.back().middleRows(r0, r1 - r0);
          auto y_hat = ws.activation.back().middleRows(r0, r1 - r0);
          auto target = ws.target.middleRows(r0, r1 - r0);
          auto delta = ws.delta.back().middleRows(r0, r1 - r0);
          output_activation<S>(net.output, z, y_hat);
          const S* weight = sample_weight ? ws.sample_weight.data() + r0 : nullptr;
          loss_part[s] = static_cast<double>(weighted_output_loss<S>(net.output, z, target, y_hat, &delta, weight));
          if (low) to_low(delta, lo.delta.back().middleRows(r0, r1 - r0));
        });
      }
      barrier.wait();
      // Everyone sees the same abandon_forward here: thread 0 raises it only before this barrier.
      if (abandon_forward.load(std::memory_order_relaxed)) break;
      double loss = 0;
      for (double part : loss_part) loss += part;  // same order in every thread
      if (!std::isfinite(loss)) {
        if (t == 0) result.diverged = true;
        break;
      }
      step_rule.begin_step();
      if (Rule::plain && long_step) take_backup();  // the updates below can no longer be left half done

      // ---- backward and update, layer L down to 1; a long step's products a block of rows at a
      // time: (4.59) rows of δ⁽ˡ⁻¹⁾, and the update's sum over the rows in blocks added in order.
      const S step_size = learning_rate / static_cast<S>(rows);
      for (std::size_t l = L; l-- > 0;) {
        const Layer<S>& layer = net.layers[l];
        const S before = scale[l];  // the weights before their update feed (4.59)
        if (lazy) scale[l] *= decay;
        each_slice([&](int s) {
          if (abandoned()) return;
          const auto [k0, k1] = weight_range(s, l);  // own rows (l = 0) or columns
          const Index width = k1 - k0;
          if (width == 0) return;
          if (l > 0) {
            // (4.59) for the slice's neurons of layer l−1, with the weights before their update.
            for (Index r0 = 0; r0 < rows && !abandoned(); r0 += block_rows) {
              const Index count = std::min(block_rows, rows - r0);
              auto grad_a = ws.grad_activation[l - 1].block(r0, k0, count, width);
              if (low)
                gemm_low(false, false, S(1), lo.delta[l].middleRows(r0, count), lo.weights[l].middleCols(k0, width),
                         S(0), grad_a);
              else
                gemm<S>(false, false, before, ws.delta[l].middleRows(r0, count), layer.W().middleCols(k0, width), S(0),
                        grad_a);
              if (long_step) poll(abandon_backward);
            }
          }
          // Plain SGD adds −α/B·δᵀa to W (or to V); an optimiser's gradient δᵀa/B goes to its buffer.
          const S alpha = !Rule::plain ? S(1) / static_cast<S>(rows) : lazy ? -step_size / scale[l] : -step_size;
          for (Index r0 = 0; r0 < rows && !abandoned(); r0 += block_rows) {
            const Index count = std::min(block_rows, rows - r0);
            const S beta = r0 > 0 ? S(1) : !Rule::plain ? S(0) : lazy ? S(1) : decay;
            auto delta = ws.delta[l].middleRows(r0, count);
            auto a_prev = l == 0 ? ws.input.middleRows(r0, count) : ws.activation[l - 1].middleRows(r0, count);
            auto target = [&] {
              if constexpr (Rule::plain)
                return slice_weights(s, l);
              else
                return slice_of(s, l, MatrixMap<S>(weight_gradient[l].data(), layer.net_inputs(), layer.fan_in));
            }();
            if (low && l == 0)
              gemm_low(true, false, alpha, lo.delta[0].middleRows(r0, count).middleCols(k0, width),
                       lo.input.middleRows(r0, count), beta, target);
            else if (low)
              gemm_low(true, false, alpha, lo.delta[l].middleRows(r0, count),
                       lo.activation[l - 1].middleRows(r0, count).middleCols(k0, width), beta, target);
            else if (l == 0)
              gemm<S>(true, false, alpha, delta.middleCols(k0, width), a_prev, beta, target);
            else
              gemm<S>(true, false, alpha, delta, a_prev.middleCols(k0, width), beta, target);
            if (long_step) poll(abandon_backward);
          }
          if (Rule::plain) refresh_low(s, l);  // (after (4.59) above, which needs the weights before)
          if (!Rule::plain && !long_step && !clipping) {
            step_weights(s, l);
            refresh_low(s, l);
          }
        });
        each_slice([&](int s) {
          const auto [b0, b1] = inputs[s][l];
          if (b1 > b0 && !abandoned()) {
            auto delta = ws.delta[l].topRows(rows).middleCols(b0, b1 - b0);
            if constexpr (Rule::plain) {
              add_column_sums(delta, -step_size, layer.b().segment(b0, b1 - b0), scratch);
            } else {
              bias_gradient[l].segment(b0, b1 - b0).setZero();
              add_column_sums(delta, S(1) / static_cast<S>(rows), bias_gradient[l].segment(b0, b1 - b0), scratch);
              if (!long_step && !clipping) step_biases(s, l);
            }
          }
          const auto [k0, k1] = l == 0 ? owned[s][0] : owned[s][l - 1];
          if (l > 0 && k1 > k0 && !abandoned()) {
            const Layer<S>& below = net.layers[l - 1];
            const Index width = k1 - k0;
            const auto [n0, n1] = inputs[s][l - 1];
            auto z = ws.net_input[l - 1].block(0, n0, rows, n1 - n0);
            auto a = ws.activation[l - 1].block(0, k0, rows, width);
            auto g = ws.grad_activation[l - 1].block(0, k0, rows, width);
            auto d = ws.delta[l - 1].block(0, n0, rows, n1 - n0);
            if (below.activation == Activation::maxout) {
              // The error flows only to the piece that won the max (the first one on ties).
              const Index K = below.pieces;
              d.setZero();
              for (Index r = 0; r < rows; ++r)
                for (Index i = 0; i < width; ++i) d(r, i * K + maxout_winner(&z(r, i * K), K)) = g(r, i);
            } else if (below.activation == Activation::prelu) {
              // ∂L/∂γᵢ = Σ ∂L/∂aᵢ·min(0, zᵢ) over the rows, and δ = ∂L/∂a ⊙ (1 if z > 0, else γᵢ),
              // with the slopes of the forward pass; then the slice's own slopes are updated.
              auto sums = unit_slope_sums[l - 1].segment(k0, width);
              sums.setZero();
              add_column_sums(g.cwiseProduct(z.cwiseMin(S(0))), S(1), sums, scratch);
              prelu_delta_block(below, k0, z, g, d);
              if (below.n_slopes > 1) {
                slope_gradient[l - 1].segment(k0, width) = sums / static_cast<S>(rows);
                if (Rule::plain || (!long_step && !clipping)) step_slopes(s, l - 1);
              }
            } else {
              Network<S>::elementwise_delta(below, z, a, g, d);
            }
            if (low) to_low(d, lo.delta[l - 1].block(0, n0, rows, n1 - n0));
          }
        });
        if (lazy && scale[l] < S(0.5)) fold(l);
        if (l > 0) barrier.wait();  // layer l−1 needs all of δ⁽ˡ⁻¹⁾
        if (l > 0 && shared_slope(l - 1) && !abandoned())
          each_slice([&](int s) {
            if (s != 0) return;  // (nobody reads this slope again before the next step's forward pass)
            S sum = 0;
            for (Index i = 0; i < net.layers[l - 1].units; ++i) sum += unit_slope_sums[l - 1](i);
            slope_gradient[l - 1](0) = sum / static_cast<S>(rows);
            if (Rule::plain || (!long_step && !clipping)) step_slopes(s, l - 1);
          });
      }
      if (long_step) {
        barrier.wait();  // thread 0's last word on abandon_backward reaches everyone
        if (abandon_backward.load(std::memory_order_relaxed)) {
          if constexpr (Rule::plain) restore_backup();
          break;
        }
      }
      if (!Rule::plain && (long_step || clipping)) {
        // (l = 0: the slice's rows of W⁽¹⁾; l ≥ 1: its columns of W⁽ˡ⁾, as in step_weights.)
        auto gradient_block = [&](int s, std::size_t l, auto&& body) {
          const Layer<S>& layer = net.layers[l];
          const auto [k0, k1] = weight_range(s, l);
          body(weight_gradient[l].data() + (l == 0 ? k0 * layer.fan_in : k0), l == 0 ? k1 - k0 : layer.net_inputs(),
               l == 0 ? layer.fan_in : k1 - k0, layer.fan_in);
          const auto [b0, b1] = inputs[s][l];
          body(bias_gradient[l].data() + b0, Index(1), b1 - b0, b1 - b0);
          const auto [g0, g1] = owned_slopes(s, l);
          if (g1 > g0) body(slope_gradient[l].data() + g0, Index(1), g1 - g0, g1 - g0);
        };
        S factor = 1;
        if (clipping) {  // Σ g² by slice, added in slice order: the same on any team
          each_slice([&](int s) {
            double sum = 0;
            for (std::size_t l = 0; l < L; ++l)
              gradient_block(
                  s, l, [&](const S* g, Index r, Index c, Index stride) { sum += sum_of_squares(g, r, c, stride); });
            norm_part[s] = sum;
          });
          barrier.wait();
          double total = 0;
          for (double part : norm_part) total += part;
          factor = clip_factor(total, rule.clip_norm);
        }
        each_slice([&](int s) {
          for (std::size_t l = 0; l < L; ++l) {
            gradient_block(s, l, [&](S* g, Index r, Index c, Index stride) { scale_block(factor, g, r, c, stride); });
            step_weights(s, l);
            refresh_low(s, l);
            if (inputs[s][l].second > inputs[s][l].first) step_biases(s, l);
            step_slopes(s, l);
          }
        });
      }
      if (t == 0) {
        result.loss_sum += loss;
        result.samples += rows;
        result.steps += 1;
      }

      if (t == 0) {
        const auto now = clock::now();
        if (poller.due(now)) {  // a step costs far more than reading the clock
          if (poller.stop_requested()) {
            interrupted = true;
            stop.store(true, std::memory_order_relaxed);  // seen by all after the next barrier
          }
          if (split > 1 && monitor->contended(now)) {
            policy.note_contention();
            go_single.store(true, std::memory_order_relaxed);
          }
        }
        if (step == policy.switch_at) go_single.store(true, std::memory_order_relaxed);
      }
    }
    if (!left) {
      for (std::size_t l = 0; l < L; ++l) fold(l);
      if (t == 0 && split > 1 && monitor->contended_at_end(clock::now())) policy.note_contention();
    }
  }
  result.interrupted = interrupted;
  return result;
}

}  // namespace fnn
