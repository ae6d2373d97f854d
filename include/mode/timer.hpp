// mode::Timer: the drift-correcting schedule behind mode's itertimer/timer (mode/timers.py).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/common.h>

#include "mode/times.hpp"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace mode {

/// Settings of a Timer. Every field has a default, so `TimerOptions{}` is valid and
/// designated initializers read well: `TimerOptions{.name = "flush", .logger = log}`.
struct TimerOptions {
  /// The name in log lines (mode: `name`). Default: "".
  std::string name{};

  /// The most one tick corrects the schedule by, in either direction (mode:
  /// `max_drift_correction`). Default: 0.1 s. Only used when the interval is greater
  /// than it; 0 means no correction (each tick starts one interval after the last one
  /// really started, as mode's uncorrected sleep). Negative values throw.
  Seconds max_drift_correction{0.1};

  /// |drift| from which a wake-up counts as drifting and is logged (mode: `max_drift`).
  /// Default: unset, meaning min(interval * 0.30, 1.2 s) (mode's MAX_DRIFT_PERCENT and
  /// MAX_DRIFT_CEILING). Negative values throw.
  std::optional<Seconds> max_drift{};

  /// Timers with a shorter interval never count or log drift (mode hard-codes 1.0).
  /// Default: 1 s.
  Seconds drift_min_interval{1.0};

  /// Level of the "woke up too early/late" lines (mode: info). Default: info.
  spdlog::level::level_enum drift_log_level = spdlog::level::info;

  /// Level of the "is overlapping" lines (mode: warning). Default: warn.
  spdlog::level::level_enum overlap_log_level = spdlog::level::warn;

  /// The clock (mode: `clock`, perf_counter). Default (empty): steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> clock{};

  /// Where the timer logs. Default: null, which logs nothing.
  std::shared_ptr<spdlog::logger> logger{};
};

/// Computes how long a periodic task sleeps between ticks, so that its ticks stay on
/// schedule however late the sleeps return and however long the callback runs.
///
/// Timer only does the arithmetic; the caller sleeps and runs the callback:
///
/// ~~~
/// auto sleep = timer.first_sleep();      // epoch = now; a full interval
/// loop:
///   sleep_for(sleep)                     // e.g. a delayed message to self
///   timer.on_wakeup();                   // drift of this wake-up, skips stale ticks
///   callback();
///   timer.on_callback_done();            // runtime, overlap detection
///   sleep = timer.next_sleep();          // until the next due tick
/// ~~~
///
/// **Schedule (fix vs mode).** Tick i is due at `epoch + i * interval`, kept in integer
/// nanoseconds, and every sleep aims at the next due tick measured from the clock, so
/// the time the callback ran and the lateness of earlier wake-ups never add up (mode
/// sleeps `interval + correction` after the callback, so both accumulate, and it does
/// not correct at all when interval <= max_drift_correction).
///
/// **max_drift_correction (mode's clamp).** When interval > max_drift_correction, the
/// instant a tick starts is kept within `interval +- max_drift_correction` of the
/// instant the previous tick started, as mode clamps its sleep to that range. So a
/// wake-up that was L late is made up over several ticks, at most
/// max_drift_correction per tick, instead of firing the next tick L early; ordinary
/// lateness (well below 0.1 s) is made up entirely at the next tick.
///
/// **Missed ticks (fix vs mode).** A tick whose start has passed when the callback
/// finishes (the callback overran) is not run late and not bunched: it is skipped,
/// counted in overlaps() (one per overrunning callback, with mode's warning) and
/// skipped(), and the timer sleeps until the next due tick. Likewise a wake-up that
/// comes after the next tick was already due (the process stalled while asleep) serves
/// the latest due tick and counts the ones before it in skipped().
///
/// **Drift** is measured against the instant the timer asked to be woken: positive
/// when the wake-up came early, negative when late (mode's sign). It is counted and
/// logged (mode's lines) when interval >= drift_min_interval and |drift| >= max_drift.
///
/// A Timer is not thread-safe: it belongs to the one actor that runs the callback.
class Timer {
 public:
  /// The clock type; the clock is TimerOptions::clock.
  using clock_type = std::chrono::steady_clock;
  /// A point on the timer's clock.
  using time_point = clock_type::time_point;

  // -- constructors -------------------------------------------------------------

  /// A timer ticking every `interval` (mode: `Timer(interval, ...)`). Throws
  /// std::invalid_argument naming the value when interval is not > 0 (or rounds to
  /// 0 ns), when max_drift_correction or max_drift is negative; std::out_of_range
  /// when interval does not fit in nanoseconds.
  explicit Timer(Seconds interval, TimerOptions opts = {});

  // -- scheduling -----------------------------------------------------------------

  /// Starts (or restarts) the schedule: sets the epoch to now and returns the first
  /// sleep, a full interval (mode: the first yield comes after one interval). Counters
  /// are kept across restarts.
  seconds_f first_sleep();

  /// Call when a sleep returned, before the callback. Records the wake-up, skips the
  /// ticks whose slot has already passed, counts and logs drift, and returns the drift
  /// (positive: early, negative: late). Throws std::logic_error when no sleep is
  /// pending (first_sleep()/next_sleep() not called).
  seconds_f on_wakeup();

  /// Call when the callback returned. Counts the iteration, picks the next tick and,
  /// when the callback ran past that tick's start, counts an overlap, logs mode's
  /// warning and skips the missed ticks. Throws std::logic_error when not called
  /// between on_wakeup() and next_sleep().
  void on_callback_done();

  /// Returns how long to sleep until the next due tick (0 if it is already due).
  /// Calls on_callback_done() first if the caller did not. Throws std::logic_error
  /// before first_sleep() or twice without an on_wakeup() in between.
  seconds_f next_sleep();

  // -- observers ----------------------------------------------------------------

  /// The name in log lines (mode: `name`).
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  /// The interval (mode: `interval_s`).
  [[nodiscard]] seconds_f interval() const noexcept { return seconds_f{interval_}; }

  /// The drift threshold in use (mode: `max_drift`).
  [[nodiscard]] seconds_f max_drift() const noexcept { return seconds_f{max_drift_}; }

  /// The per-tick correction bound (mode: `max_drift_correction`).
  [[nodiscard]] seconds_f max_drift_correction() const noexcept {
    return seconds_f{max_drift_correction_};
  }

  /// Wake-ups that drifted by max_drift or more (mode: `drifting`).
  [[nodiscard]] std::uint64_t drifting() const noexcept { return drifting_; }

  /// Drifting wake-ups that came early (mode: `drifting_early`).
  [[nodiscard]] std::uint64_t drifting_early() const noexcept { return drifting_early_; }

  /// Drifting wake-ups that came late (mode: `drifting_late`).
  [[nodiscard]] std::uint64_t drifting_late() const noexcept { return drifting_late_; }

  /// Callbacks that ran past the start of the next tick (mode: `overlaps`).
  [[nodiscard]] std::uint64_t overlaps() const noexcept { return overlaps_; }

  /// Ticks skipped because their start passed during a callback or a sleep (new).
  [[nodiscard]] std::uint64_t skipped() const noexcept { return skipped_; }

  /// Callbacks completed (mode: `iteration`).
  [[nodiscard]] std::uint64_t iteration() const noexcept { return iteration_; }

  /// The drift of the last wake-up (positive: early); 0 before the first one.
  [[nodiscard]] seconds_f last_drift() const noexcept { return seconds_f{last_drift_}; }

  /// How long the last callback ran; 0 before the first one.
  [[nodiscard]] seconds_f last_runtime() const noexcept { return seconds_f{last_runtime_}; }

  /// The instant of first_sleep() (mode: `epoch`).
  [[nodiscard]] time_point epoch() const noexcept { return epoch_; }

  /// Index of the tick being slept for or run (1 is the first); 0 before first_sleep().
  [[nodiscard]] std::uint64_t tick() const noexcept { return tick_; }

  /// When tick i is due: epoch() + i * interval().
  [[nodiscard]] time_point due(std::uint64_t i) const noexcept {
    return epoch_ + static_cast<std::int64_t>(i) * interval_;
  }

  /// The instant the timer asked (or will ask) to be woken for tick(): due(tick())
  /// unless max_drift_correction spreads a correction over several ticks.
  [[nodiscard]] time_point scheduled_at() const noexcept { return scheduled_; }

 private:
  enum class phase { idle, sleeping, running, done };

  time_point now() const { return clock_(); }

  std::string name_;
  std::chrono::nanoseconds interval_;
  std::chrono::nanoseconds max_drift_;
  std::chrono::nanoseconds max_drift_correction_;
  bool count_drift_;  // interval >= drift_min_interval
  spdlog::level::level_enum drift_log_level_;
  spdlog::level::level_enum overlap_log_level_;
  std::function<time_point()> clock_;
  std::shared_ptr<spdlog::logger> logger_;

  phase phase_ = phase::idle;
  time_point epoch_{};
  time_point scheduled_{};      // requested wake-up for tick_
  time_point sleep_started_{};  // when the pending sleep began
  time_point woke_at_{};        // when tick_'s callback started
  std::uint64_t tick_ = 0;
  std::chrono::nanoseconds last_drift_{0};
  std::chrono::nanoseconds last_runtime_{0};

  std::uint64_t drifting_ = 0;
  std::uint64_t drifting_early_ = 0;
  std::uint64_t drifting_late_ = 0;
  std::uint64_t overlaps_ = 0;
  std::uint64_t skipped_ = 0;
  std::uint64_t iteration_ = 0;
};

}  // namespace mode
