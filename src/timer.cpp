#include "mode/timer.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/logger.h>

namespace mode {

namespace {

using std::chrono::nanoseconds;

// Mode's drift threshold heuristic (MAX_DRIFT_PERCENT, MAX_DRIFT_CEILING).
constexpr double max_drift_percent = 0.30;
constexpr double max_drift_ceiling = 1.2;

// Seconds as mode's %r of a float prints them: the shortest text that reads back.
double secs(nanoseconds d) {
  return std::chrono::duration<double>{d}.count();
}

std::string timer_label(const std::string& name) {
  return name.empty() ? std::string{"Timer"} : fmt::format("Timer \"{}\"", name);
}

nanoseconds checked_interval(const Seconds& interval, const std::string& name) {
  if (!(interval.count() > 0.0))
    throw std::invalid_argument(fmt::format("{}: interval must be > 0 seconds, got {}",
                                            timer_label(name), to_string(interval)));
  auto ns = to_nanoseconds(interval);
  if (ns.count() <= 0)
    throw std::invalid_argument(
        fmt::format("{}: interval {} rounds to 0 ns", timer_label(name), to_string(interval)));
  return ns;
}

nanoseconds checked_non_negative(const Seconds& value, const char* what, const std::string& name) {
  if (value.count() < 0.0)
    throw std::invalid_argument(fmt::format("{}: {} must be >= 0 seconds, got {}",
                                            timer_label(name), what, to_string(value)));
  return to_nanoseconds(value);
}

// The index of the first tick due at or after `elapsed` since the epoch.
std::uint64_t first_due_at_or_after(nanoseconds elapsed, nanoseconds interval) {
  if (elapsed.count() <= 0)
    return 0;
  return static_cast<std::uint64_t>((elapsed.count() + interval.count() - 1) / interval.count());
}

}  // namespace

Timer::Timer(Seconds interval, TimerOptions opts)
    : name_(std::move(opts.name)),
      interval_(checked_interval(interval, name_)),
      max_drift_correction_(
          checked_non_negative(opts.max_drift_correction, "max_drift_correction", name_)),
      count_drift_(interval.count() >= opts.drift_min_interval.count()),
      drift_log_level_(opts.drift_log_level),
      overlap_log_level_(opts.overlap_log_level),
      clock_(opts.clock ? std::move(opts.clock) : [] { return clock_type::now(); }),
      logger_(std::move(opts.logger)) {
  if (opts.max_drift)
    max_drift_ = checked_non_negative(*opts.max_drift, "max_drift", name_);
  else
    max_drift_ =
        to_nanoseconds(Seconds{std::min(interval.count() * max_drift_percent, max_drift_ceiling)});
}

seconds_f Timer::first_sleep() {
  epoch_ = now();
  tick_ = 1;
  scheduled_ = due(1);
  sleep_started_ = epoch_;
  phase_ = phase::sleeping;
  return interval();
}

seconds_f Timer::on_wakeup() {
  if (phase_ != phase::sleeping)
    throw std::logic_error(fmt::format(
        "{}: on_wakeup() without a pending sleep (call first_sleep() or next_sleep() first)",
        timer_label(name_)));
  auto woke = now();
  auto sleeptime = woke - sleep_started_;
  woke_at_ = woke;
  last_drift_ = scheduled_ - woke;
  phase_ = phase::running;
  // The slot of tick_ ends where the next tick is due: waking later than that means
  // the ticks in between can no longer run on time, so serve the latest due one.
  std::uint64_t missed = 0;
  if (woke >= due(tick_ + 1)) {
    auto latest = static_cast<std::uint64_t>((woke - epoch_) / interval_);
    missed = latest - tick_;
    skipped_ += missed;
    tick_ = latest;
  }
  auto drift = last_drift_;
  auto magnitude = drift < nanoseconds::zero() ? -drift : drift;
  if (count_drift_ && magnitude >= max_drift_) {
    ++drifting_;
    if (drift < nanoseconds::zero()) {
      ++drifting_late_;
      if (logger_)
        logger_->log(drift_log_level_,
                     "Timer {} woke up too late, with a drift of +{} runtime={} sleeptime={}",
                     name_, secs(magnitude), secs(last_runtime_), secs(sleeptime));
    } else {
      ++drifting_early_;
      if (logger_)
        logger_->log(drift_log_level_,
                     "Timer {} woke up too early, with a drift of -{} runtime={} sleeptime={}",
                     name_, secs(magnitude), secs(last_runtime_), secs(sleeptime));
    }
  }
  if (missed > 0 && logger_)
    logger_->log(overlap_log_level_, "Timer {} woke up {} late and skipped {} missed tick(s)",
                 name_, secs(-drift), missed);
  return seconds_f{drift};
}

void Timer::on_callback_done() {
  if (phase_ != phase::running)
    throw std::logic_error(
        fmt::format("{}: on_callback_done() without a running callback (call on_wakeup() first)",
                    timer_label(name_)));
  auto done = now();
  last_runtime_ = done - woke_at_;
  ++iteration_;
  auto next = tick_ + 1;
  auto start = due(next);
  if (interval_ > max_drift_correction_) {
    // Mode's clamp, applied to the start-to-start period: correct by at most
    // max_drift_correction per tick, so a late tick is not followed by an early one.
    start = std::clamp(start, woke_at_ + interval_ - max_drift_correction_,
                       woke_at_ + interval_ + max_drift_correction_);
  }
  if (done > start) {
    // The callback ran past the next start: that tick (and any after it that are due)
    // cannot run on time. Skip them rather than run them back to back.
    auto first_free = std::max(next, first_due_at_or_after(done - epoch_, interval_));
    if (first_free > next) {
      auto missed = first_free - next;
      ++overlaps_;
      skipped_ += missed;
      if (logger_)
        logger_->log(overlap_log_level_,
                     "Timer {} is overlapping (interval={} runtime={}), skipping {} tick(s)", name_,
                     secs(interval_), secs(last_runtime_), missed);
    }
    next = first_free;
    start = due(next);
  }
  tick_ = next;
  scheduled_ = start;
  phase_ = phase::done;
  if (logger_ && logger_->should_log(spdlog::level::debug))
    logger_->debug(
        "Timer {} woke up - iteration={} time_spent_sleeping={} drift={} new_interval={} "
        "since_epoch={}",
        name_, iteration_, secs(woke_at_ - sleep_started_), secs(last_drift_), secs(start - done),
        secs(done - epoch_));
}

seconds_f Timer::next_sleep() {
  if (phase_ == phase::running)
    on_callback_done();
  if (phase_ != phase::done)
    throw std::logic_error(fmt::format(
        "{}: next_sleep() {}", timer_label(name_),
        phase_ == phase::idle ? "before first_sleep()" : "twice without on_wakeup() in between"));
  auto n = now();
  sleep_started_ = n;
  phase_ = phase::sleeping;
  return seconds_f{std::max(nanoseconds::zero(), scheduled_ - n)};
}

}  // namespace mode
