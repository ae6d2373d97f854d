// mode-cpp: mode's Services, supervisors, signals and Worker for C++20 on CAF.
// Include this header for the whole public API (mode/testing.hpp, for tests, is apart).
#pragma once

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "mode/awaitable_service.hpp"
#include "mode/base_signal.hpp"
#include "mode/blocking_detector.hpp"
#include "mode/cron.hpp"
#include "mode/crontab_spec.hpp"
#include "mode/diag.hpp"
#include "mode/errors.hpp"
#include "mode/event.hpp"
#include "mode/flight_recorder.hpp"
#include "mode/graph.hpp"
#include "mode/iter_timer.hpp"
#include "mode/logging.hpp"
#include "mode/rate_limit.hpp"
#include "mode/request.hpp"
#include "mode/restart_limiter.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "mode/service_log.hpp"
#include "mode/service_scope.hpp"
#include "mode/service_state.hpp"
#include "mode/signal.hpp"
#include "mode/signal_stats.hpp"
#include "mode/supervisors.hpp"
#include "mode/sync_signal.hpp"
#include "mode/task.hpp"
#include "mode/task_error_policy.hpp"
#include "mode/timer.hpp"
#include "mode/timer_spec.hpp"
#include "mode/times.hpp"
#include "mode/wait.hpp"
#include "mode/worker.hpp"
