// mode::RestartLimiter: a supervisor's max_restarts-within-`over` check, as Erlang/OTP.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>

#include "mode/times.hpp"

namespace mode {

/// Decides whether a supervisor may restart once more: more than `max_restarts`
/// restarts within any window of `over` seconds is a failure (mode: the supervisor's
/// `max_restarts` and `over`).
///
/// **Fix vs mode.** mode takes a token from a bucket of capacity `over` refilled at
/// `max_restarts` tokens per second, so max_restarts=3, over=60 allowed 60 quick
/// restarts. RestartLimiter enforces what the names say, as Erlang/OTP's supervisor
/// intensity/period does: a restart at time t is allowed while the restarts in
/// (t - over, t], this one included, number at most max_restarts.
///
/// Only the latest max_restarts + 1 restart times are kept (enough to decide every
/// later window), so memory stays bounded however many restarts are recorded.
/// Time comes from the caller (`allow(now)`), so tests use fake time points.
class RestartLimiter {
 public:
  /// The clock of the time points passed in.
  using clock_type = std::chrono::steady_clock;
  /// A point on that clock.
  using time_point = clock_type::time_point;

  // -- constructors -------------------------------------------------------------

  /// Allows at most `max_restarts` restarts within any `over` seconds. Defaults are
  /// mode's: max_restarts=100.0, over=1.0. A fractional max_restarts allows its floor
  /// (2.5 allows 2); +infinity (or >= 2^53) means unlimited. Throws
  /// std::invalid_argument naming the value for a negative or NaN max_restarts or a
  /// non-positive `over`, std::out_of_range when `over` does not fit in nanoseconds.
  explicit RestartLimiter(double max_restarts = 100.0, Seconds over = 1.0);

  /// A limiter that allows every restart and records nothing.
  [[nodiscard]] static RestartLimiter unlimited() noexcept;

  // -- modifiers ----------------------------------------------------------------

  /// Records one restart at `now` and returns false if that makes more than
  /// max_restarts() restarts within (now - over, now]. A refused restart is recorded
  /// too (Erlang counts it), so asking again at once is refused as well. `now` should
  /// not decrease; an earlier `now` is taken as the latest recorded time.
  bool allow(time_point now);

  /// Forgets every recorded restart.
  void reset() noexcept { restarts_.clear(); }

  // -- observers ----------------------------------------------------------------

  /// True for a limiter that never refuses (unlimited(), or max_restarts = +inf).
  [[nodiscard]] bool is_unlimited() const noexcept { return unlimited_; }

  /// The configured maximum (mode: `max_restarts`); +inf when unlimited.
  [[nodiscard]] double max_restarts() const noexcept { return max_restarts_; }

  /// The window length (mode: `over`); 0 when unlimited.
  [[nodiscard]] seconds_f over() const noexcept { return seconds_f{over_}; }

  /// Recorded restarts within (now - over, now], counting at most max_restarts + 1
  /// (the ones kept); always 0 when unlimited (nothing is recorded).
  [[nodiscard]] std::size_t restarts_in_window(time_point now) const noexcept;

  /// Restart times currently kept; never more than max_restarts + 1.
  [[nodiscard]] std::size_t stored() const noexcept { return restarts_.size(); }

 private:
  struct unlimited_tag {};
  explicit RestartLimiter(unlimited_tag) noexcept;

  double max_restarts_;
  std::size_t limit_ = 0;  // floor(max_restarts)
  std::chrono::nanoseconds over_{0};
  bool unlimited_ = false;
  std::deque<time_point> restarts_;  // ascending
};

}  // namespace mode
