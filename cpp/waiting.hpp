// Waits between the engine's threads that spin briefly, then sleep. The per-sample kernel meets at
// a barrier several times per microsecond-scale step, far below a futex round trip, so a wait
// first spins; but a thread the OS has descheduled (another process wants the core) may not come
// for milliseconds, and spinning then only steals the core it needs. So a wait spins for at most
// `spin_limit`, then blocks in the kernel (a futex on Linux) until it is woken.
#pragma once

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <thread>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define FNN_PAUSE() _mm_pause()
#else
#define FNN_PAUSE() ((void)0)
#endif

namespace fnn {

using WaitClock = std::chrono::steady_clock;

// Long enough to cover a partner's step on an idle machine (a few microseconds), short enough that
// a descheduled partner costs its waiter little CPU.
inline constexpr std::chrono::microseconds spin_limit{50};

namespace detail {

inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) {
#if defined(__linux__)
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t), "futex word layout");
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
#else
  (void)word;
  (void)expected;
  std::this_thread::sleep_for(std::chrono::microseconds(50));  // no futex: a short sleep per check
#endif
}

inline void futex_wake_all(std::atomic<std::uint32_t>& word) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
#else
  (void)word;
#endif
}

}  // namespace detail

// A counter that waiters watch: notify() bumps it (after the state they wait for has changed) and
// wakes any that sleep. A waiter announces itself in `sleepers_` before it checks the state a last
// time, and the notifier reads `sleepers_` after bumping the counter; both sequentially consistent,
// so either the waiter sees the new state or the notifier sees the sleeper (no lost wake-up).
class Signal {
 public:
  void notify() {
    sequence_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) detail::futex_wake_all(sequence_);
  }

  // Returns once ready() holds; adds the time spent asleep to *slept, if given.
  template <class Ready>
  void wait(Ready&& ready, double* slept = nullptr) {
    if (ready()) return;
    const auto start = WaitClock::now();
    for (unsigned i = 1;; ++i) {
      FNN_PAUSE();
      if (ready()) return;
      if ((i & 31) == 0 && WaitClock::now() - start > spin_limit) break;
    }
    const auto asleep = WaitClock::now();
    for (;;) {
      const std::uint32_t seen = sequence_.load(std::memory_order_seq_cst);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      const bool done = ready();
      if (!done) detail::futex_wait(sequence_, seen);
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);
      if (done || ready()) break;
    }
    if (slept) *slept += std::chrono::duration<double>(WaitClock::now() - asleep).count();
  }

 private:
  alignas(64) std::atomic<std::uint32_t> sequence_{0};
  alignas(64) std::atomic<int> sleepers_{0};
};

// A barrier for the threads of one parallel region. The number of threads may be lowered between
// two waits by the one thread that goes on (the others having left the region).
class Barrier {
 public:
  explicit Barrier(int threads) : threads_(threads) {}

  // Only while no other thread is inside wait() or will call it again.
  void set_threads(int threads) { threads_ = threads; }

  void wait() {
    if (threads_ == 1) return;
    const std::uint32_t generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == threads_ - 1) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.store(generation + 1, std::memory_order_release);
      signal_.notify();
    } else {
      signal_.wait([&] { return generation_.load(std::memory_order_acquire) != generation; });
    }
  }

 private:
  int threads_;
  alignas(64) std::atomic<int> arrived_{0};
  alignas(64) std::atomic<std::uint32_t> generation_{0};
  Signal signal_;
};

}  // namespace fnn
