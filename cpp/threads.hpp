// How many threads a kernel runs on: what it asks for, what the system gives, and what a busy
// machine allows. Threads are lent, not owned: another process may hold the other core, OpenMP
// may start fewer threads than asked (OMP_THREAD_LIMIT, OMP_DYNAMIC, nested regions), and a child
// forked after the parent ran a team has no team at all (libgomp would wait for its threads
// forever). Every kernel sizes its split from the team it got; the work is cut into as many
// slices as were asked for, so the weights depend on that number only, never on the team.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <algorithm>

#if defined(__linux__)
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

#include "waiting.hpp"

namespace fnn {

namespace detail {
inline std::atomic<bool>& team_started() {
  static std::atomic<bool> started{false};
  return started;
}
inline std::atomic<bool>& in_forked_child() {
  static std::atomic<bool> forked{false};
  return forked;
}
}  // namespace detail

// Called once when the engine is loaded: a child forked after this process ran a team of
// threads runs every kernel on one thread.
inline void install_fork_handler() {
#if defined(__linux__)
  pthread_atfork(nullptr, nullptr, [] {
    if (detail::team_started().load()) detail::in_forked_child().store(true);
  });
#endif
}

inline bool forked_child() { return detail::in_forked_child().load(std::memory_order_relaxed); }

// The threads an OpenMP region may have at most here: omp_get_max_threads() ignores
// OMP_THREAD_LIMIT, which caps every team.
inline int openmp_thread_limit() {
#ifdef _OPENMP
  if (forked_child()) return 1;
  const int limit = omp_get_thread_limit();
  const int most = omp_get_max_threads();
  return limit > 0 && limit < most ? limit : most;
#else
  return 1;
#endif
}

// The number of threads in the current region (1 outside one), noting that a team ran.
inline int team_size() {
#ifdef _OPENMP
  const int size = omp_get_num_threads();
  if (size > 1) detail::team_started().store(true, std::memory_order_relaxed);
  return size;
#else
  return 1;
#endif
}

inline int thread_number() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// The calling thread's id, for reading its scheduler statistics from another thread.
inline long thread_id() {
#if defined(__linux__)
  return static_cast<long>(syscall(SYS_gettid));
#else
  return 0;
#endif
}

// The time a thread has spent runnable but waiting for a CPU (the second field of
// /proc/self/task/<tid>/schedstat): the direct measure of another process holding our core.
class RunDelay {
 public:
  explicit RunDelay(long tid) {
#if defined(__linux__)
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", tid);
    fd_ = open(path, O_RDONLY | O_CLOEXEC);
#else
    (void)tid;
#endif
  }
  ~RunDelay() {
#if defined(__linux__)
    if (fd_ >= 0) close(fd_);
#endif
  }
  RunDelay(RunDelay&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RunDelay(const RunDelay&) = delete;
  RunDelay& operator=(const RunDelay&) = delete;

  double seconds() const {
#if defined(__linux__)
    char text[96];
    if (fd_ < 0) return 0;
    const ssize_t got = pread(fd_, text, sizeof text - 1, 0);
    if (got <= 0) return 0;
    text[got] = '\0';
    char* end = nullptr;
    std::strtoull(text, &end, 10);  // time on the CPU
    return static_cast<double>(std::strtoull(end, nullptr, 10)) * 1e-9;
#else
    return 0;
#endif
  }

 private:
  int fd_ = -1;
};

// Kept by the thread that leads a team: how long each thread of the team waited for a CPU over a
// window. A thread waiting at a barrier for a slower one is not evidence of anything (slices
// are rarely equal), nor is a kernel thread taking a core for a few milliseconds (seen here on
// an idle machine); a thread that was runnable but not running for a fifth of two windows in a
// row means another process holds the cores, and the team only makes its threads wait.
class TeamMonitor {
 public:
  explicit TeamMonitor(const std::vector<long>& team_ids) {
    for (long tid : team_ids) threads_.emplace_back(tid);
    start_ = WaitClock::now();
    for (const auto& t : threads_) delay_at_start_.push_back(t.seconds());
  }

  // Time the leading thread slept waiting for a thread that is normally far ahead of it (the
  // staging thread): lost time as well.
  double waited = 0;

  // Whether this window (ending now) and the one before each lost a fifth; starts the next.
  bool contended(WaitClock::time_point now) {
    judged_ = true;
    lost_windows_ = window_lost(now) ? lost_windows_ + 1 : 0;
    return lost_windows_ >= 2;
  }
  // At the end of a call too short to have had a window judged inside: whether it lost a fifth,
  // if it lasted 10 ms at least.
  bool contended_at_end(WaitClock::time_point now) {
    return !judged_ && now - start_ >= std::chrono::milliseconds(10) && window_lost(now);
  }

 private:
  bool window_lost(WaitClock::time_point now) {
    const double window = std::chrono::duration<double>(now - start_).count();
    double lost = waited;
    waited = 0;
    for (std::size_t i = 0; i < threads_.size(); ++i) {
      const double delay = threads_[i].seconds();
      lost = std::max(lost, delay - delay_at_start_[i]);
      delay_at_start_[i] = delay;
    }
    start_ = now;
    return window > 0 && lost > 0.2 * window;
  }

  std::vector<RunDelay> threads_;
  std::vector<double> delay_at_start_;
  WaitClock::time_point start_;
  int lost_windows_ = 0;
  bool judged_ = false;
};

// An engine's memory of contention across calls: once its team lost its cores, its kernels run
// on one thread for a while, then try the team again.
class ThreadPolicy {
 public:
  static constexpr std::chrono::seconds retry_after{2};

  // The team to start for work cut into `wanted` slices.
  int team(int wanted) const {
    if (wanted <= 1 || forked_child()) return 1;
    if (WaitClock::now().time_since_epoch().count() < single_until_.load(std::memory_order_relaxed)) return 1;
    return wanted;
  }
  void note_contention() {
    single_until_.store((WaitClock::now() + retry_after).time_since_epoch().count(), std::memory_order_relaxed);
  }
  bool contended() const { return team(2) == 1 && !forked_child(); }

  // For tests: the sample (or step) at which a team's kernels act as if they had found contention.
  long long switch_at = -1;
  // For tests: rows per block of a long mini-batch step (0: chosen from the network's size).
  long long block_rows = 0;

 private:
  std::atomic<WaitClock::rep> single_until_{0};
};

}  // namespace fnn
