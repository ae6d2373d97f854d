// mode::SystemdNotifier: systemd's service notification protocol (sd_notify(3)), which a
// Worker speaks on its own when NOTIFY_SOCKET is set (a unit with Type=notify):
//
//   READY=1       once every service started
//   STOPPING=1    when the stop begins
//   WATCHDOG=1    every WatchdogSec/2 while the actor system answers (WatchdogSec= in
//                 the unit), so that systemd restarts a wedged process
//   STATUS=...    a line for `systemctl status`
//
// Without NOTIFY_SOCKET every call does nothing, at the cost of one branch.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace mode {

/// Sends notifications to the service manager named by NOTIFY_SOCKET.
class SystemdNotifier {
 public:
  /// Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment now.
  SystemdNotifier();

  /// True if a service manager listens (NOTIFY_SOCKET is set).
  [[nodiscard]] bool enabled() const noexcept { return enabled_; }
  /// The watchdog timeout systemd enforces on this process (WATCHDOG_USEC, when
  /// WATCHDOG_PID is unset or names this process); none without a watchdog.
  [[nodiscard]] std::optional<std::chrono::microseconds> watchdog_timeout() const noexcept {
    return watchdog_;
  }

  /// `READY=1` and `STATUS=<status>`.
  void ready(std::string_view status) const;
  /// `STOPPING=1` and `STATUS=<status>`.
  void stopping(std::string_view status) const;
  /// `STATUS=<status>`.
  void status(std::string_view status) const;
  /// `WATCHDOG=1`.
  void watchdog() const;

  /// Sends `state` (newline-separated assignments) as is. Returns false if the manager
  /// could not be told (the error is logged on "mode.worker" once).
  bool notify(const std::string& state) const;

 private:
  bool enabled_ = false;
  std::optional<std::chrono::microseconds> watchdog_;
  mutable bool warned_ = false;
};

/// Pings `WATCHDOG=1` every half watchdog timeout on a thread of its own, each time
/// `alive(bound)` returned true within `bound` (half the timeout): a process whose
/// actors no longer answer stops pinging, and systemd restarts it. Joins on
/// destruction.
class SystemdWatchdog {
 public:
  SystemdWatchdog(const SystemdNotifier& notifier,
                  std::function<bool(std::chrono::microseconds)> alive);
  ~SystemdWatchdog();
  SystemdWatchdog(const SystemdWatchdog&) = delete;
  SystemdWatchdog& operator=(const SystemdWatchdog&) = delete;

 private:
  void run(std::chrono::microseconds period);

  const SystemdNotifier& notifier_;
  std::function<bool(std::chrono::microseconds)> alive_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mode
