#include "mode/restart_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace mode {

namespace {

// From here on a double no longer counts restarts exactly; no supervisor gets near it.
constexpr double unlimited_from = 9007199254740992.0;  // 2^53

double checked_max_restarts(double max_restarts) {
  if (std::isnan(max_restarts) || max_restarts < 0.0)
    throw std::invalid_argument(
        fmt::format("RestartLimiter: max_restarts must be >= 0, got {}", max_restarts));
  return max_restarts;
}

std::chrono::nanoseconds checked_over(const Seconds& over) {
  if (!(over.count() > 0.0))
    throw std::invalid_argument(
        fmt::format("RestartLimiter: over must be > 0 seconds, got {}", to_string(over)));
  auto ns = to_nanoseconds(over);
  if (ns.count() <= 0)
    throw std::invalid_argument(
        fmt::format("RestartLimiter: over {} rounds to 0 ns", to_string(over)));
  return ns;
}

}  // namespace

RestartLimiter::RestartLimiter(double max_restarts, Seconds over)
    : max_restarts_(checked_max_restarts(max_restarts)), over_(checked_over(over)) {
  if (max_restarts_ >= unlimited_from)
    unlimited_ = true;
  else
    limit_ = static_cast<std::size_t>(std::floor(max_restarts_));
}

RestartLimiter::RestartLimiter(unlimited_tag) noexcept
    : max_restarts_(std::numeric_limits<double>::infinity()), unlimited_(true) {}

RestartLimiter RestartLimiter::unlimited() noexcept {
  return RestartLimiter{unlimited_tag{}};
}

bool RestartLimiter::allow(time_point now) {
  if (unlimited_)
    return true;
  if (!restarts_.empty())
    now = std::max(now, restarts_.back());
  // Erlang's window is (now - over, now]: a restart exactly `over` ago has left it.
  auto horizon = now - over_;
  while (!restarts_.empty() && restarts_.front() <= horizon)
    restarts_.pop_front();
  restarts_.push_back(now);
  bool ok = restarts_.size() <= limit_;
  // Later windows end later, so the newest limit + 1 times decide all of them.
  while (restarts_.size() > limit_ + 1)
    restarts_.pop_front();
  return ok;
}

std::size_t RestartLimiter::restarts_in_window(time_point now) const noexcept {
  auto first = std::upper_bound(restarts_.begin(), restarts_.end(), now - over_);
  auto last = std::upper_bound(first, restarts_.end(), now);
  return static_cast<std::size_t>(last - first);
}

}  // namespace mode
