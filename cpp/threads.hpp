// How many threads a kernel runs on: what it asks for, what the system gives, and what a busy
// machine allows. Threads are lent, not owned: another process may hold the other core, OpenMP
// may start fewer threads than asked (OMP_THREAD_LIMIT, OMP_DYNAMIC, nested regions), and a child
// forked after the parent ran a team has no team at all (libgomp would wait for its threads
// forever). Every kernel sizes its split from the team it got; the work is cut into as many
// slices as were asked for, so the weights depend on that number only, never on the team.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <dirent.h>
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

// The threads any team may have (OMP_THREAD_LIMIT), helpers (helpers.hpp) included: a num_threads
// clause overrides OMP_NUM_THREADS but not this. 1 without OpenMP, where the engine is one thread.
inline int team_limit() {
#ifdef _OPENMP
  return forked_child() ? 1 : omp_get_thread_limit();
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

namespace detail {

#if defined(__linux__)
// The text of a small /proc file ("" if it cannot be read).
inline std::size_t read_proc(const char* path, char* text, std::size_t size) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const ssize_t got = read(fd, text, size - 1);
  close(fd);
  text[got > 0 ? got : 0] = '\0';
  return got > 0 ? static_cast<std::size_t>(got) : 0;
}

// Calls visit(tid) for every thread of this process.
template <class Visit>
void each_thread_of_this_process(Visit&& visit) {
  DIR* tasks = opendir("/proc/self/task");
  if (!tasks) return;
  while (const dirent* entry = readdir(tasks))
    if (entry->d_name[0] >= '0' && entry->d_name[0] <= '9') visit(std::strtol(entry->d_name, nullptr, 10));
  closedir(tasks);
}
#endif

// CPU seconds used so far by the threads of this process that are not in `team`: NumPy's BLAS
// threads, which spin on the cores for about 0.1 s after each call, another Python thread's work.
inline double cpu_of_other_threads(const std::vector<long>& team) {
  double total = 0;
#if defined(__linux__)
  each_thread_of_this_process([&](long tid) {
    if (std::find(team.begin(), team.end(), tid) != team.end()) return;
    char path[64], text[96];
    std::snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", tid);
    if (read_proc(path, text, sizeof text)) total += static_cast<double>(std::strtoull(text, nullptr, 10)) * 1e-9;
  });
#else
  (void)team;
#endif
  return total;
}

// Threads runnable on the machine now that belong to other processes: the kernel's count of
// runnable threads (/proc/loadavg's "R/T") less this process's own runnable threads (the caller
// among them, and any BLAS threads of this process still spinning). -1 where unknown.
inline int runnable_in_other_processes() {
#if defined(__linux__)
  char text[128];
  if (!read_proc("/proc/loadavg", text, sizeof text)) return -1;
  const char* slash = std::strchr(text, '/');
  if (!slash) return -1;
  const char* start = slash;
  while (start > text && start[-1] != ' ') --start;
  const long runnable = std::strtol(start, nullptr, 10);
  long own = 0;
  each_thread_of_this_process([&](long tid) {
    char path[64], stat[512];
    std::snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
    if (!read_proc(path, stat, sizeof stat)) return;
    const char* state = std::strrchr(stat, ')');  // the name in parentheses may hold anything
    if (state && state[1] == ' ' && state[2] == 'R') ++own;
  });
  // While a thread of this process spins beside the caller (NumPy's BLAS pool after a product),
  // it and the caller hold the cores, and any other process's thread that wakes meanwhile waits
  // in the run queue: counted as runnable here, seen in two looks in a row, though it needs the
  // core for a moment. Then nothing can be told from the count; the team monitor judges instead.
  if (own > 1) return 0;
  return static_cast<int>(std::max(0L, runnable - own));
#else
  return -1;
#endif
}

// Processors online (the machine's, not this process's affinity: /proc/loadavg counts for the
// whole machine).
inline int processors_online() {
#if defined(__linux__)
  return static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
#else
  return 1;
#endif
}

}  // namespace detail

// Kept by the thread that leads a team: how long each thread of the team waited for a CPU over a
// window. A thread waiting at a barrier for a slower one is not evidence of anything (slices
// are rarely equal), nor is a kernel thread taking a core for a few milliseconds (seen here on
// an idle machine). A thread that was runnable but not running for a fifth of two windows in a
// row means another process holds the cores, and the team only makes its threads wait. When the
// time was taken by this process's own other threads instead, it is most often NumPy's BLAS
// threads spinning for about 0.1 s after the user's last product: that passes by itself, and
// holding the engine to one thread for seconds because of it halved the speed of every fit that
// followed NumPy work. Only when this process's own threads hold the cores for five windows in a
// row (another fit on a second Python thread, say) does the team give way to them.
class TeamMonitor {
 public:
  static constexpr int foreign_windows = 2;
  static constexpr int own_windows = 5;

  explicit TeamMonitor(const std::vector<long>& team_ids) : team_ids_(team_ids) {
    for (long tid : team_ids) threads_.emplace_back(tid);
    start_ = WaitClock::now();
    for (const auto& t : threads_) delay_at_start_.push_back(t.seconds());
    others_at_start_ = detail::cpu_of_other_threads(team_ids_);
  }

  // Time the leading thread slept waiting for a thread that is normally far ahead of it (the
  // staging thread): lost time as well.
  double waited = 0;

  // Whether this window (ending now) and those before it lost enough to give up the team; starts
  // the next.
  bool contended(WaitClock::time_point now) {
    judged_ = true;
    const Loss loss = window_loss(now);
    lost_windows_ = loss == Loss::none ? 0 : lost_windows_ + 1;
    foreign_lost_windows_ = loss == Loss::to_other_process ? foreign_lost_windows_ + 1 : 0;
    return foreign_lost_windows_ >= foreign_windows || lost_windows_ >= own_windows;
  }
  // At the end of a call too short to have had a window judged inside: whether it lost a fifth
  // to another process, if it lasted 10 ms at least.
  bool contended_at_end(WaitClock::time_point now) {
    return !judged_ && now - start_ >= std::chrono::milliseconds(10) && window_loss(now) == Loss::to_other_process;
  }

 private:
  enum class Loss { none, to_this_process, to_other_process };

  Loss window_loss(WaitClock::time_point now) {
    const double window = std::chrono::duration<double>(now - start_).count();
    double lost = waited;
    waited = 0;
    for (std::size_t i = 0; i < threads_.size(); ++i) {
      const double delay = threads_[i].seconds();
      lost = std::max(lost, delay - delay_at_start_[i]);
      delay_at_start_[i] = delay;
    }
    start_ = now;
    if (!(window > 0 && lost > 0.2 * window)) return Loss::none;
    const double others = detail::cpu_of_other_threads(team_ids_);
    const double used_by_others = others - others_at_start_;
    others_at_start_ = others;
    // The threads that kept ours waiting ran meanwhile: if this process's others ran for at least
    // half the time ours waited, they are the cause.
    return used_by_others >= 0.5 * lost ? Loss::to_this_process : Loss::to_other_process;
  }

  std::vector<long> team_ids_;
  std::vector<RunDelay> threads_;
  std::vector<double> delay_at_start_;
  double others_at_start_ = 0;
  WaitClock::time_point start_;
  int lost_windows_ = 0;
  int foreign_lost_windows_ = 0;
  bool judged_ = false;
};

// Whether a network's short predictions should be shared with helper threads (helpers.hpp), judged
// from the calls' times. Helpers pay only when a core is free for them, and not always then: on a
// 2-vCPU virtual machine, calls 1 ms apart of 64 rows of 784-256-256-10 took 0.46 ms with a
// helper and 0.39 ms alone (back to back: 0.20 and 0.34), and right after a NumPy product a woken
// helper can take the caller's own core, or be descheduled in a part while the caller waits for
// it. So the judge keeps the time per sample of the latest call run alone (one call a second at
// least runs alone to renew it), and two calls in a row with helpers slower than 1.1 times that
// send them to rest: 20 ms the first time, twice as long each next time up to 2 s, half as long
// (20 ms at least) after a call they sped up by a fifth. (Two: the first call of a run of calls
// wakes sleeping helpers, tens of µs on a virtual machine, and resting after that call alone lost
// whole runs of calls.)
class HelperJudge {
 public:
  static constexpr std::chrono::milliseconds shortest_rest{20}, longest_rest{2000}, renew_after{1000};

  // Whether the next call may take helpers.
  bool welcome() const {
    const auto now = WaitClock::now().time_since_epoch().count();
    return alone_per_sample_.load(std::memory_order_relaxed) > 0 &&
           now >= resting_until_.load(std::memory_order_relaxed) && now < renew_at_.load(std::memory_order_relaxed);
  }

  // After a call that wanted helpers: whether it had them, its samples and its time.
  void note(bool helped, long long samples, double seconds) {
    const double per_sample = seconds / static_cast<double>(std::max(1LL, samples));
    const auto now = WaitClock::now();
    if (!helped) {
      alone_per_sample_.store(per_sample, std::memory_order_relaxed);
      renew_at_.store((now + renew_after).time_since_epoch().count(), std::memory_order_relaxed);
      return;
    }
    const double alone = alone_per_sample_.load(std::memory_order_relaxed);
    auto rest = WaitClock::duration(rest_.load(std::memory_order_relaxed));
    const bool slower = per_sample > 1.1 * alone;
    if (slower && slower_before_.exchange(false, std::memory_order_relaxed)) {
      resting_until_.store((now + rest).time_since_epoch().count(), std::memory_order_relaxed);
      rest = std::min<WaitClock::duration>(2 * rest, longest_rest);
      rests_.fetch_add(1, std::memory_order_relaxed);
    } else {
      slower_before_.store(slower, std::memory_order_relaxed);
      if (per_sample < 0.8 * alone) rest = std::max<WaitClock::duration>(rest / 2, shortest_rest);
    }
    rest_.store(rest.count(), std::memory_order_relaxed);
  }

  // Calls after which the helpers were sent to rest (for tests and diagnostics).
  long long rests() const { return rests_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> alone_per_sample_{0};
  std::atomic<WaitClock::rep> renew_at_{0}, resting_until_{0};
  std::atomic<WaitClock::rep> rest_{WaitClock::duration(shortest_rest).count()};
  std::atomic<long long> rests_{0};
  std::atomic<bool> slower_before_{false};  // the last call with helpers was slower than alone
};

// An engine's memory of contention across calls: once its team lost its cores, its kernels run
// on one thread for a while, then try the team again. Before a team starts, a look at the
// machine: threads of other processes runnable now hold cores that a team would have to share,
// and a short fit (cross-validation, a small table) ends before the monitor could judge two
// windows, each barrier waiting a scheduler's time slice for a descheduled partner. So the team
// is cut to the cores nobody else wants. A busy process is runnable at every look; a
// passing blip (a kernel worker) rarely at two looks in a row, so a cut needs both.
class ThreadPolicy {
 public:
  static constexpr std::chrono::seconds retry_after{2};
  // How long one look at the machine is trusted: a kernel may be called every few microseconds
  // (an epoch of a tiny data set), and a look costs tens of microseconds.
  static constexpr std::chrono::milliseconds look_lasts{50};

  // The team to start for work cut into `wanted` slices.
  int team(int wanted) const {
    int chosen = wanted;
    if (wanted <= 1 || forked_child()) {
      chosen = 1;
    } else if (WaitClock::now().time_since_epoch().count() < single_until_.load(std::memory_order_relaxed)) {
      chosen = 1;
    } else {
      chosen = std::min(wanted, free_processors());
    }
    last_team_.store(chosen, std::memory_order_relaxed);
    return chosen;
  }
  void note_contention() {
    single_until_.store((WaitClock::now() + retry_after).time_since_epoch().count(), std::memory_order_relaxed);
  }
  bool contended() const {
    return !forked_child() &&
           WaitClock::now().time_since_epoch().count() < single_until_.load(std::memory_order_relaxed);
  }
  // The team chosen last (for tests and diagnostics).
  int last_team() const { return last_team_.load(std::memory_order_relaxed); }

  // Its short predictions' judge of helper threads (mutable: a prediction changes no weight).
  mutable HelperJudge helper_judge;

  // For tests: the sample (or step) at which a team's kernels act as if they had found contention.
  long long switch_at = -1;
  // For tests: rows per block of a long mini-batch step (0: chosen from the network's size).
  long long block_rows = 0;

 private:
  // Processors not wanted by other processes now (at least 1; no limit where that is unknown).
  int free_processors() const {
    const auto now = WaitClock::now();
    if (now.time_since_epoch().count() < look_until_.load(std::memory_order_relaxed))
      return free_seen_.load(std::memory_order_relaxed);
    const int online = detail::processors_online();
    int others = detail::runnable_in_other_processes();
    if (others > 0) {  // a second look, 0.1 ms on, to pass over blips
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      others = std::min(others, detail::runnable_in_other_processes());
    }
    const int free = others < 0 ? std::numeric_limits<int>::max() : std::max(1, online - others);
    free_seen_.store(free, std::memory_order_relaxed);
    look_until_.store((now + look_lasts).time_since_epoch().count(), std::memory_order_relaxed);
    return free;
  }

  std::atomic<WaitClock::rep> single_until_{0};
  mutable std::atomic<WaitClock::rep> look_until_{0};
  mutable std::atomic<int> free_seen_{1};
  mutable std::atomic<int> last_team_{0};
};

}  // namespace fnn
