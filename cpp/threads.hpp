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

#if defined(__linux__)
#include <fcntl.h>
#include <pthread.h>
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

// The time this thread has spent runnable but waiting for a CPU (the second field of
// /proc/thread-self/schedstat): the direct measure of another process holding our core.
class RunDelay {
 public:
  RunDelay() {
#if defined(__linux__)
    fd_ = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
#endif
  }
  ~RunDelay() {
#if defined(__linux__)
    if (fd_ >= 0) close(fd_);
#endif
  }
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

// Kept by the thread that leads a team: the time it lost over a window, asleep in waits for the
// other threads (they were descheduled) or waiting for a CPU itself. More than a tenth of the
// window lost means the team does not have its cores.
class TeamMonitor {
 public:
  TeamMonitor() { restart(WaitClock::now()); }

  double slept = 0;  // waits of the leading thread add their sleep here

  // Whether the window that ends now lost too much; starts the next window. Windows shorter than
  // `minimum` say nothing (a single late wake-up would decide them).
  bool contended(WaitClock::time_point now, std::chrono::milliseconds minimum = std::chrono::milliseconds(2)) {
    const double window = std::chrono::duration<double>(now - start_).count();
    if (window < std::chrono::duration<double>(minimum).count()) return false;
    const double delay = run_delay_.seconds();
    const bool lost = (delay - delay_at_start_) + slept > 0.1 * window;
    restart(now, delay);
    return lost;
  }

 private:
  void restart(WaitClock::time_point now, double delay = -1) {
    start_ = now;
    delay_at_start_ = delay >= 0 ? delay : run_delay_.seconds();
    slept = 0;
  }

  RunDelay run_delay_;
  WaitClock::time_point start_;
  double delay_at_start_ = 0;
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

 private:
  std::atomic<WaitClock::rep> single_until_{0};
};

}  // namespace fnn
