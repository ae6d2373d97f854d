// systemd's notify protocol over libsystemd's sd_notify (mode/systemd_notify.hpp).
#include "mode/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mode/logging.hpp"

namespace mode {

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
  std::uint64_t usec = 0;
  // > 0: enabled for this process; 0: none; < 0: WATCHDOG_USEC or _PID does not parse.
  int rc = sd_watchdog_enabled(0, &usec);
  if (rc > 0 && usec > 0)
    watchdog_ = std::chrono::microseconds{usec};
  else if (rc < 0)
    get_logger("mode.worker")
        ->warn("systemd: ignoring the watchdog settings (WATCHDOG_USEC='{}'): {}",
               std::getenv("WATCHDOG_USEC") != nullptr ? std::getenv("WATCHDOG_USEC") : "",
               std::strerror(-rc));
}

bool SystemdNotifier::notify(const std::string& state) const {
  if (!enabled_)
    return false;
  int rc = sd_notify(0, state.c_str());
  if (rc > 0)
    return true;
  if (!warned_) {
    warned_ = true;
    get_logger("mode.worker")
        ->warn("systemd: cannot notify NOTIFY_SOCKET='{}': {}", std::getenv("NOTIFY_SOCKET"),
               rc < 0 ? std::strerror(-rc) : "not sent");
  }
  return false;
}

namespace {

/// A STATUS= value on one line: the protocol separates assignments by newlines.
std::string one_line(std::string_view text) {
  std::string line{text};
  for (auto& c : line)
    if (c == '\n' || c == '\r')
      c = ' ';
  return line;
}

}  // namespace

void SystemdNotifier::ready(std::string_view status) const {
  if (enabled_)
    notify("READY=1\nSTATUS=" + one_line(status));
}

void SystemdNotifier::stopping(std::string_view status) const {
  if (enabled_)
    notify("STOPPING=1\nSTATUS=" + one_line(status));
}

void SystemdNotifier::status(std::string_view status) const {
  if (enabled_)
    notify("STATUS=" + one_line(status));
}

void SystemdNotifier::watchdog() const {
  if (enabled_)
    notify("WATCHDOG=1");
}

// -- SystemdWatchdog ----------------------------------------------------------------------

SystemdWatchdog::SystemdWatchdog(const SystemdNotifier& notifier,
                                 std::function<bool(std::chrono::microseconds)> alive)
    : notifier_(notifier), alive_(std::move(alive)) {
  if (auto timeout = notifier_.watchdog_timeout(); timeout && notifier_.enabled())
    thread_ = std::thread{[this, period = *timeout / 2] {
      run(period);
    }};
}

SystemdWatchdog::~SystemdWatchdog() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void SystemdWatchdog::run(std::chrono::microseconds period) {
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    // The probe is bounded by the period, so a wedged system costs one missed ping per
    // period and the thread still notices a stop.
    if (alive_(period))
      notifier_.watchdog();
    next += period;
    std::unique_lock<std::mutex> guard{mtx_};
    if (cv_.wait_until(guard, next, [this] { return stop_; }))
      return;
    next = std::max(next, std::chrono::steady_clock::now());
  }
}

}  // namespace mode
