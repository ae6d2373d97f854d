// mode's metrics in Prometheus' text exposition format (version 0.0.4), as the Worker
// serves them on /metrics (--web-port) and prints them for the console's `stats`.
//
//   mode_service_up{service="Fetcher",path="0.0.1"} 1
//   mode_service_restarts_total{service="Fetcher",path="0.0.1"} 3
//   mode_supervisor_restarts_in_window{service="OneForOneSupervisor",path="0.0"} 3
//   mode_signal_sends_total{owner="Orders",signal="on_order"} 12
//
// Every service of the tree is one set of series named by its shortlabel() and told
// apart by `path`: the child indexes from the root ("0" is the root, "0.2" its third
// child), since labels repeat.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mode/graph.hpp"
#include "mode/signal_stats.hpp"

namespace mode {

/// What the process reports beside the tree.
struct ProcessStats {
  /// Resident memory (/proc/self/statm), in bytes.
  std::uint64_t resident_bytes = 0;
  /// Threads of the process (/proc/self/status).
  std::uint64_t threads = 0;
  /// Actors running in the actor system, and its scheduler's threads, when known.
  std::optional<std::uint64_t> running_actors;
  std::optional<std::uint64_t> scheduler_threads;
};

/// Reads resident memory and thread count of this process from /proc (the actor
/// system's fields are left empty).
ProcessStats process_stats();

/// The tree, the signals and the process as Prometheus text: per service mode_service_up,
/// mode_service_answered, mode_service_state{state=...}, mode_service_restarts_total,
/// mode_service_uptime_seconds; per held service mode_service_crashes_total; per
/// supervisor mode_supervisor_restarts_in_window, mode_supervisor_max_restarts (+Inf:
/// unlimited) and mode_supervisor_window_seconds; mode_process_resident_memory_bytes,
/// mode_process_threads, mode_actors_running, mode_scheduler_threads; per signal label
/// (`owner`, `signal`) mode_signal_sends_total, mode_signal_receiver_errors_total and
/// mode_signals (alive now).
std::string render_metrics(const ServiceNode& root, const ProcessStats& process,
                           const std::vector<SignalStats>& signals = {});

}  // namespace mode
