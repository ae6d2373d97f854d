// mode::TaskErrorPolicy: what a timer or crontab of a Service does when its callback throws.
#pragma once

#include <cstdint>

namespace mode {

/// What a timer or crontab does when its callback throws.
enum class TaskErrorPolicy : std::uint8_t {
  crash,             ///< crash the service (mode's behaviour; the default)
  log_and_continue,  ///< log the error with the task's name and keep the schedule
};

}  // namespace mode
