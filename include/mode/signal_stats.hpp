// Counts of what mode's signals did, for metrics: sends and receivers that threw, per signal
// label (owner and name), across the whole process. The Worker serves them on /metrics as
// mode_signal_sends_total and mode_signal_receiver_errors_total, and in the console's `stats`.
//
//   SyncSignal<Orders*, int> on_order{"on_order", "Orders"};
//   on_order.send(this, 3);
//   mode::signal_stats();  // {{.owner = "Orders", .name = "on_order", .sends = 1, ...}}
//
// Signals are counted by label, not one by one, because a label is what a dashboard can
// follow: every Orders service has its own on_order signal, and their counts add up. A
// signal's counts outlive it (a service that is built again does not reset them), so the
// totals only grow, as Prometheus counters must. The process keeps one pair of totals per
// label ever used: give owner and name from a fixed set (the declaring class, the member),
// never a per-instance id.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mode {

/// What the signals of one label did since the process started.
struct SignalStats {
  /// The signals' owner (mode: owner), empty for signals without one.
  std::string owner;
  /// The signals' name (mode: name), empty for unnamed signals.
  std::string name;
  /// Sends: send(), send_nowait() and `co_await send()` calls, with or without receivers.
  std::uint64_t sends = 0;
  /// Receivers that threw (each logged on the "mode.signals" logger) or, for the async Signal,
  /// coroutine receivers that were dropped.
  std::uint64_t receiver_errors = 0;
  /// Signals of this label alive now (a signal and its with_default_sender() copies are one).
  std::size_t live = 0;

  friend bool operator==(const SignalStats&, const SignalStats&) = default;
};

/// Every label's counts, sorted by owner then name (thread-safe).
std::vector<SignalStats> signal_stats();

namespace detail {

/// The counts of one signal family (a signal, its with_default_sender() copies and their
/// moves), kept with its receiver registry. Enrolled in the process's census while alive;
/// adds its counts to its label's totals when it goes.
class signal_counters {
 public:
  signal_counters(std::string owner, std::string name);

  signal_counters(const signal_counters&) = delete;
  signal_counters& operator=(const signal_counters&) = delete;

  ~signal_counters();

  void count_send() noexcept { sends_.fetch_add(1, std::memory_order_relaxed); }

  void count_receiver_error() noexcept { receiver_errors_.fetch_add(1, std::memory_order_relaxed); }

  /// This family's counts (owner, name, sends, receiver_errors; live = 1).
  SignalStats stats() const;

  const std::string& owner() const noexcept { return owner_; }
  const std::string& name() const noexcept { return name_; }
  std::uint64_t sends() const noexcept { return sends_.load(std::memory_order_relaxed); }
  std::uint64_t receiver_errors() const noexcept {
    return receiver_errors_.load(std::memory_order_relaxed);
  }

 private:
  const std::string owner_;
  const std::string name_;
  std::atomic<std::uint64_t> sends_{0};
  std::atomic<std::uint64_t> receiver_errors_{0};
};

}  // namespace detail

}  // namespace mode
