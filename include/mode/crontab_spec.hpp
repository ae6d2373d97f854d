// mode::CrontabSpec: the options of a crontab a Service registers (Service::crontab),
// mode's @Service.crontab keyword arguments.
#pragma once

#include <string>

#include "mode/task_error_policy.hpp"

namespace mode {

/// Options of a registered crontab (mode's @Service.crontab keyword arguments).
struct CrontabSpec {
  /// IANA time zone the expression is read in ("Europe/Berlin"). Default "" = UTC
  /// (mode's `timezone=None`; note: UTC, not the machine's local zone).
  std::string timezone{};
  /// Name used in logs and tracebacks. Default: "crontab <expression>".
  std::string name{};
  /// What an exception escaping the callback does. Default: crash the service.
  TaskErrorPolicy on_error = TaskErrorPolicy::crash;
};

}  // namespace mode
