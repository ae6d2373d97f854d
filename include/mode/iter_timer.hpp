// mode::IterTimer: what Service::itertimer returns, an iterator that wakes once per interval
// with a Timer's drift correction (mode's Service.itertimer).
#pragma once

#include "mode/task.hpp"
#include "mode/timer.hpp"

namespace mode {

class Service;

/// The iterator behind Service::itertimer.
class IterTimer {
 public:
  IterTimer(Service& svc, Timer timer) : svc_(svc), timer_(std::move(timer)) {}
  /// Sleeps until the next tick; returns false once the service stopped.
  task<bool> next();
  /// The drift-correcting timer (counters: drifting, overlaps, ...).
  [[nodiscard]] const Timer& timer() const noexcept { return timer_; }

 private:
  Service& svc_;
  Timer timer_;
  bool first_ = true;
};

}  // namespace mode
