// mode-cpp: mode's Services, supervisors, signals and Worker for C++20 on CAF.
// Include this header for the whole public API.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "mode/cron.hpp"
#include "mode/event.hpp"
#include "mode/flight_recorder.hpp"
#include "mode/logging.hpp"
#include "mode/restart_limiter.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "mode/signal.hpp"
#include "mode/signals.hpp"
#include "mode/supervisors.hpp"
#include "mode/task.hpp"
#include "mode/timer.hpp"
#include "mode/times.hpp"
#include "mode/worker.hpp"
