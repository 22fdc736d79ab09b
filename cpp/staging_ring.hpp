// Staging of shuffled samples by a second thread, for per-sample training of networks too small
// to split between two cores. Reading the rows of a large X in shuffled order costs a memory
// latency per sample that prefetching did not hide (an eighth to a sixth of a 64-32-10 network's
// step, measured); the idle core absorbs it instead: it copies the rows of the coming samples, in training order, into
// a small ring of chunks, and the training thread reads them from there, from a few pages that stay in its TLB, in an
// order the hardware prefetchers follow.
//
// One producer (the staging thread) and one consumer (the training thread). The producer writes a
// chunk into its slot, then publishes the chunk's number in the slot's tag (release); the
// consumer reads a chunk from its slot only if the tag says it is there (acquire), and otherwise
// reads that chunk's rows where they are in X: it never waits for the producer, which may have
// lost its core for milliseconds (to NumPy's BLAS threads spinning after a product, to another
// process). The producer skips the chunks the consumer has reached, and overwrites a slot only
// after the consumer is done with the chunk in it (a counter published with release), waiting
// for that by spinning briefly, then sleeping (waiting.hpp). Where a sample is read from never
// changes what is computed.
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

  // The staging thread's whole job: returns once every sample is staged or reached by the
  // consumer, or after stop().
  void produce() {
    const Index chunks = (n_ + chunk_ - 1) / chunk_;
    Index c = 0;
    prefetch_chunk(0);
    while (true) {
      c = std::max(c, reached_.load(std::memory_order_relaxed) + 1);  // behind the consumer: skip ahead
      if (c >= chunks) return;
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
      tags_[c % slots].value.store(c, std::memory_order_release);
      ++c;
    }
  }

  // Consumer: decides, for the chunk of sample k and any before it not yet decided, whether it is
  // read from its slot (staged) or from X, and asks for the lines of sample k.
  void wait_for(Index k) {
    const Index c = k / chunk_;
    while (decided_ < c) {
      ++decided_;
      reached_.store(decided_, std::memory_order_relaxed);
      staged_[decided_ % slots] = tags_[decided_ % slots].value.load(std::memory_order_acquire) == decided_;
    }
    prefetch_lines(x(k), X_.cols());
    prefetch_lines(target(k), T_.cols());
  }
  const S* x(Index k) const { return staged(k) ? inputs_.row(row_of(k)).data() : X_.row(source(k)).data(); }
  const S* target(Index k) const { return staged(k) ? targets_.row(row_of(k)).data() : T_.row(source(k)).data(); }
  S weight(Index k) const { return staged(k) ? weights_(row_of(k)) : sample_weight_[source(k)]; }
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
  Index source(Index k) const { return static_cast<Index>(order_[k]); }
  bool staged(Index k) const { return staged_[(k / chunk_) % slots]; }

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
  // A slot's tag: the number of the chunk last staged in it (−1: none yet).
  struct alignas(64) Tag {
    std::atomic<Index> value{-1};
  };
  Tag tags_[slots];
  // The consumer's decisions: chunks up to decided_ are decided, staged_ for the last `slots`.
  Index decided_ = -1;
  bool staged_[slots] = {false, false, false, false};
  alignas(64) std::atomic<Index> reached_{-1};  // the chunk the consumer has reached
  alignas(64) std::atomic<Index> done_{0};
  alignas(64) std::atomic<bool> stop_{false};
  Signal done_signal_;
};

}  // namespace fnn
