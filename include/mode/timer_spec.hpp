// mode::TimerSpec: the options of a timer a Service registers (Service::timer, itertimer),
// mode's @Service.timer keyword arguments.
#pragma once

#include <string>

#include "mode/task_error_policy.hpp"
#include "mode/times.hpp"

namespace mode {

/// Options of a registered timer (mode's @Service.timer keyword arguments).
struct TimerSpec {
  /// Run the callback once right at start, before the first interval. Default false.
  bool exec_first = false;
  /// Name used in logs and tracebacks. Default: the task name given to timer().
  std::string name{};
  /// mode's max_drift_correction. Default 0.1 s.
  Seconds max_drift_correction{0.1};
  /// What an exception escaping the callback does. Default: crash the service.
  TaskErrorPolicy on_error = TaskErrorPolicy::crash;
};

}  // namespace mode
