// Staging of shuffled samples by a second thread, for per-sample training of networks too small
// to split between two cores. Reading the rows of a large X in shuffled order costs a memory
// latency per sample that prefetching did not hide (an eighth to a sixth of a 64-32-10 network's
// step, measured); the idle core absorbs it instead: it copies the rows of the coming samples, in training order, into
// a small ring of chunks, and the training thread reads them from there, from a few pages that stay in its TLB, in an
// order the hardware prefetchers follow.
//
// One producer (the staging thread) and one consumer (the training thread) share two counters:
// chunks staged, and chunks the consumer is done with. Each side publishes with release and reads
// with acquire, so the rows written before a chunk is marked staged are seen by the consumer, and
// a slot is overwritten only after the consumer has marked it done. Either side waits for the
// other by spinning briefly, then sleeping (waiting.hpp): the other may have lost its core.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

#include "types.hpp"
#include "waiting.hpp"

namespace fnn {

// Asks for every cache line that `count` values from `begin` touch. NumPy aligns its arrays to
// 16 bytes, not to a line, so a row of 64 floats usually spans five lines, not four.
template <class S>
inline void prefetch_lines(const S* begin, Index count) {
  const auto first = reinterpret_cast<std::uintptr_t>(begin) & ~std::uintptr_t(63);
  const auto last = reinterpret_cast<std::uintptr_t>(begin + count) - 1;
  for (std::uintptr_t line = first; line <= last; line += 64) __builtin_prefetch(reinterpret_cast<const void*>(line));
}

template <class S>
class StagingRing {
 public:
  static constexpr Index slots = 4;

  StagingRing(const ConstMatrixMap<S>& X, const ConstMatrixMap<S>& T, const S* sample_weight, const std::int64_t* order,
              Index n)
      : X_(X),
        T_(T),
        sample_weight_(sample_weight),
        order_(order),
        n_(n),
        // About 8 KiB of rows per chunk: four chunks ahead are tens of samples, far more than a
        // memory latency, while the ring stays in L1 and L2.
        chunk_(std::clamp<Index>(8192 / ((X.cols() + T.cols()) * static_cast<Index>(sizeof(S))), 4, 256)),
        inputs_(slots * chunk_, X.cols()),
        targets_(slots * chunk_, T.cols()),
        weights_(sample_weight ? slots * chunk_ : 0) {}

  // The staging thread's whole job: returns once every sample is staged, or after stop().
  void produce() {
    const Index chunks = (n_ + chunk_ - 1) / chunk_;
    prefetch_chunk(0);
    for (Index c = 0; c < chunks; ++c) {
      prefetch_chunk(c + 1);  // its misses overlap with this chunk's copying and the wait below
      done_signal_.wait(
          [&] { return stop_.load(std::memory_order_relaxed) || c - done_.load(std::memory_order_acquire) < slots; });
      if (stop_.load(std::memory_order_relaxed)) return;
      const Index begin = c * chunk_, rows = std::min(chunk_, n_ - begin), slot_row = (c % slots) * chunk_;
      for (Index r = 0; r < rows; ++r) {
        const Index source = static_cast<Index>(order_[begin + r]);
        std::memcpy(inputs_.row(slot_row + r).data(), X_.row(source).data(), sizeof(S) * X_.cols());
        std::memcpy(targets_.row(slot_row + r).data(), T_.row(source).data(), sizeof(S) * T_.cols());
        if (sample_weight_) weights_(slot_row + r) = sample_weight_[source];
      }
      staged_.store(c + 1, std::memory_order_release);
      staged_signal_.notify();
    }
  }

  // Consumer: waits until sample k is staged, and asks for the lines of sample k + 1 when it is.
  // Time spent asleep (the staging thread fell behind, which on its own it never does) is added
  // to *slept.
  void wait_for(Index k, double* slept) {
    const Index c = k / chunk_;
    if (c >= staged_seen_) {
      staged_signal_.wait(
          [&] {
            staged_seen_ = staged_.load(std::memory_order_acquire);
            return c < staged_seen_;
          },
          slept);
    }
    if (k + 1 < n_ && (k + 1) / chunk_ < staged_seen_) {
      prefetch_lines(x(k + 1), X_.cols());
      prefetch_lines(target(k + 1), T_.cols());
    }
  }
  const S* x(Index k) const { return inputs_.row(row_of(k)).data(); }
  const S* target(Index k) const { return targets_.row(row_of(k)).data(); }
  S weight(Index k) const { return weights_(row_of(k)); }
  // Consumer: sample k is no longer needed (nor any before it).
  void done_with(Index k) {
    if ((k + 1) % chunk_ == 0) {
      done_.store((k + 1) / chunk_, std::memory_order_release);
      done_signal_.notify();
    }
  }
  // Consumer: leaving early (or at the end); the producer stops waiting for free slots.
  void stop() {
    stop_.store(true, std::memory_order_relaxed);
    done_signal_.notify();
  }

 private:
  Index row_of(Index k) const { return ((k / chunk_) % slots) * chunk_ + k % chunk_; }

  void prefetch_chunk(Index c) const {
    for (Index k = c * chunk_; k < std::min(n_, (c + 1) * chunk_); ++k) {
      const Index source = static_cast<Index>(order_[k]);
      prefetch_lines(X_.row(source).data(), X_.cols());
      prefetch_lines(T_.row(source).data(), T_.cols());
    }
  }

  const ConstMatrixMap<S>& X_;
  const ConstMatrixMap<S>& T_;
  const S* sample_weight_;
  const std::int64_t* order_;
  const Index n_, chunk_;
  RowMatrix<S> inputs_, targets_;
  RowVector<S> weights_;
  Index staged_seen_ = 0;  // the consumer's last view of staged_
  alignas(64) std::atomic<Index> staged_{0};
  alignas(64) std::atomic<Index> done_{0};
  alignas(64) std::atomic<bool> stop_{false};
  Signal staged_signal_, done_signal_;
};

}  // namespace fnn
