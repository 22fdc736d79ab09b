// Asking Python whether to stop (a pending Ctrl-C) takes the GIL: a training loop asks at most
// every few tens of milliseconds, timed by the steady clock, whose read costs far less than a step.
// The same timer paces other periodic work of thread 0 (watching for contention).
#pragma once

#include <chrono>

namespace fnn {

template <class StopCheck>
class StopPoller {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds interval{50};

  explicit StopPoller(StopCheck& should_stop) : should_stop_(should_stop), next_(clock::now() + interval) {}

  // True when the interval has passed; the next one then starts `next_in` from `now`.
  bool due(clock::time_point now, std::chrono::milliseconds next_in = interval) {
    if (now < next_) return false;
    next_ = now + next_in;
    return true;
  }

  // Asks whether to stop, now.
  bool stop_requested() { return static_cast<bool>(should_stop_()); }

  // Asks whether to stop when the interval has passed, otherwise answers no without asking.
  bool poll(std::chrono::milliseconds next_in = interval) { return due(clock::now(), next_in) && stop_requested(); }

 private:
  StopCheck& should_stop_;
  clock::time_point next_;
};

template <class StopCheck>
StopPoller(StopCheck&) -> StopPoller<StopCheck>;

}  // namespace fnn
