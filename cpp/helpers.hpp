// Threads that help a calling thread through work it can finish alone. The work is cut into parts,
// claimed one at a time from a shared counter by the caller and by whichever helpers wake in time;
// a helper that wakes after every part is claimed finds nothing to do and sleeps again. So the
// caller never waits for a helper that has not started, only for a part a helper is in the middle
// of. This is for calls too short for an OpenMP team (a prediction of up to 512 rows): the end of
// an OpenMP region waits for every thread of its team to arrive, and a thread descheduled because
// another holds its core (NumPy's OpenBLAS workers spin for ~0.1 s after each product) cost such
// a call a scheduler slice: 7.4 ms instead of 0.39 ms for 64 rows of 784-256-256-10. Whether
// helpers pay at all is judged by the caller from the calls' times (HelperJudge, threads.hpp).
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <system_error>
#include <type_traits>
#include <thread>

#include "threads.hpp"
#include "types.hpp"
#include "waiting.hpp"

namespace fnn {

class Helpers {
 public:
  static constexpr int most = 15;  // helpers at most (a call of 512 rows has 16 parts of 32)
  static constexpr Index most_parts = 0xfff;

  // The helpers of this process (made on first use, never destroyed: a helper may sleep in it at
  // exit).
  static Helpers& instance() {
    static Helpers* helpers = new Helpers;
    return *helpers;
  }

  // Calls part(p, worker) for every p in [0, parts) once, on the calling thread (worker 0) and on
  // up to `helpers` helpers (workers 1 …), and returns once all are done; returns whether helpers
  // were offered parts. A part must not depend on which worker runs it, nor on the others. An
  // exception thrown by a part is rethrown here (after every part claimed has ended). Runs alone
  // when another thread of the process is using the helpers, and in a child forked from this
  // process (it has no helpers).
  template <class Part>
  bool run(Index parts, int helpers, Part&& part) {
    helpers = static_cast<int>(std::min<Index>({helpers, most, parts - 1}));
    if (helpers < 1 || forked_child() || parts > most_parts || in_use_.exchange(true, std::memory_order_acquire)) {
      for (Index p = 0; p < parts; ++p) part(p, 0);
      return false;
    }
    struct Release {
      std::atomic<bool>& flag;
      ~Release() { flag.store(false, std::memory_order_release); }
    } release{in_use_};
    helpers = start(helpers);
    using Body = std::remove_reference_t<Part>;
    call_ = [](void* context, Index p, int worker) { (*static_cast<Body*>(context))(p, worker); };
    context_ = &part;
    failure_ = nullptr;
    finished_.store(0, std::memory_order_relaxed);
    const std::uint64_t job = (state_.load(std::memory_order_relaxed) >> 32) + 1;
    // (Sequentially consistent, with wake()'s look at sleepers_: see wait_for_job.)
    state_.store(job << 32 | std::uint64_t(helpers) << 24 | std::uint64_t(parts) << 12, std::memory_order_seq_cst);
    wake();
    std::exception_ptr failure;
    Index mine = 0;
    for (Index p; (p = claim(job, 0)) >= 0; ++mine) {
      try {
        part(p, 0);
      } catch (...) {
        if (!failure) failure = std::current_exception();
      }
      finished_.fetch_add(1, std::memory_order_acq_rel);
    }
    // Every part is claimed: wait for those a helper is in the middle of.
    parts_done_.wait([&] { return finished_.load(std::memory_order_acquire) == parts; });
    done_here_.fetch_add(mine, std::memory_order_relaxed);
    if (!failure) failure = failure_;
    if (failure) std::rethrow_exception(failure);
    return true;
  }

  // Parts done by the calling thread while helpers were offered parts too (for tests).
  long long done_here() const { return done_here_.load(std::memory_order_relaxed); }
  // Parts done by helpers since the helpers were made (for tests).
  long long done_by_helpers() const { return done_by_helpers_.load(std::memory_order_relaxed); }

 private:
  Helpers() = default;

  // The job's next part, claimed for `worker` (-1 when all are claimed, the job is over or does
  // not want this helper). The state holds the job's number (high 32 bits), the helpers it may
  // have (8), its parts (12) and the next part to claim (low 12): a claim is one
  // compare-and-swap, which fails for a helper that read the state of a job now over.
  Index claim(std::uint64_t job, int worker) {
    std::uint64_t state = state_.load(std::memory_order_acquire);
    for (;;) {
      const std::uint64_t next = state & 0xfff, parts = (state >> 12) & 0xfff, helpers = (state >> 24) & 0xff;
      if ((state >> 32) != job || next >= parts || std::uint64_t(worker) > helpers) return -1;
      if (state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel, std::memory_order_acquire))
        return static_cast<Index>(next);
    }
  }

  // Makes helpers up to `count` (only the thread holding in_use_ gets here); returns how many
  // there are up to `count` (fewer if the system would start no more threads).
  int start(int count) {
    while (started_ < count) {
      detail::team_started().store(true, std::memory_order_relaxed);  // a forked child has no helpers
      try {
        std::thread([this, worker = started_ + 1] { serve(worker); }).detach();
      } catch (const std::system_error&) {
        break;
      }
      ++started_;
    }
    return std::min(count, started_);
  }

  void wake() {
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      new_job_.notify_all();
    }
  }

  // A helper's life: wait for a job, take its parts while any are left, wait for the next.
  void serve(int worker) {
    std::uint64_t seen = 0;  // the last job this helper looked at
    for (;;) {
      const std::uint64_t job = wait_for_job(seen);
      seen = job;
      for (Index p; (p = claim(job, worker)) >= 0;) {
        try {
          call_(context_, p, worker);  // valid: the caller waits for this part before it returns
        } catch (...) {
          std::lock_guard<std::mutex> lock(mutex_);
          if (!failure_) failure_ = std::current_exception();
        }
        done_by_helpers_.fetch_add(1, std::memory_order_relaxed);
        finished_.fetch_add(1, std::memory_order_acq_rel);
        parts_done_.notify();
      }
    }
  }

  // The number of a job after `seen`: spins for a while (calls often come in runs), then sleeps.
  // (On a condition variable, not a Signal: a helper may sleep for hours, and Signal's wait polls
  // where there is no futex.)
  // A sleeper counts itself in sleepers_ before its last look at the state, and run() looks at
  // sleepers_ after storing a job, all sequentially consistent: either the helper sees the job or
  // run() sees the sleeper and wakes it.
  std::uint64_t wait_for_job(std::uint64_t seen) {
    auto job = [&] { return state_.load(std::memory_order_seq_cst) >> 32; };
    const auto start = WaitClock::now();
    for (unsigned i = 1; job() == seen; ++i) {
      FNN_PAUSE();
      if ((i & 31) == 0 && WaitClock::now() - start > spin_limit) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        new_job_.wait(lock, [&] { return job() != seen; });
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
      }
    }
    return job();
  }

  std::atomic<bool> in_use_{false};
  int started_ = 0;
  std::atomic<long long> done_here_{0};
  std::atomic<long long> done_by_helpers_{0};
  void (*call_)(void*, Index, int) = nullptr;
  void* context_ = nullptr;
  std::exception_ptr failure_;
  alignas(64) std::atomic<std::uint64_t> state_{0};
  alignas(64) std::atomic<Index> finished_{0};
  Signal parts_done_;
  std::mutex mutex_;
  std::condition_variable new_job_;
  std::atomic<int> sleepers_{0};
};

}  // namespace fnn
