// mode's BlockingDetector: notices a service that keeps its actor's thread too long.
//
// A service's hooks and tasks share a thread with other actors; one that blocks it
// (a sleep, a blocking read, a busy loop) stalls everyone scheduled there. mode arms
// SIGALRM and raises inside the stuck code; with many actor threads there is no one
// "loop" to interrupt, so the port watches instead: every service actor owns an
// ActivitySlot that it marks at the start and end of each message it handles (a
// generation counter and a "busy" bit, a few relaxed atomic stores), and a
// BlockingDetector scans the slots from its own thread. A slot that stays busy in the
// same generation for `timeout` is reported as "Blocking detected (timeout=...)",
// naming the service, the kind of message it is handling and, when it resumed a
// suspended task, where that task had been waiting.
//
// Reports go to a reporter function (default: a warning on the "mode.debug" logger),
// at most `max_reports_per_minute` of them (Seastar's stall detector does the same);
// the clock is a parameter too, so tests drive the detector on fake time with check().
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <typeinfo>

#include "mode/times.hpp"

namespace mode {

class ActivityRegistry;

/// What one actor's thread is doing, written by that thread around each message it
/// handles and read by BlockingDetector from another thread. Registered in an
/// ActivityRegistry for its whole life.
class ActivitySlot {
 public:
  /// What enter() returns, for the matching leave() (handlers may nest).
  using token = std::uint64_t;

  /// Registers a slot for a service of dynamic type `type`, labelled `label`. An empty
  /// label is filled in when a report needs it: from the demangled type name.
  explicit ActivitySlot(const std::type_info& type, std::string label = {},
                        ActivityRegistry* registry = nullptr);
  /// Tag for a slot that no registry lists.
  struct unlisted_t {};
  static constexpr unlisted_t unlisted{};
  /// A slot that no registry lists, so no detector sees it: what a service actor gets
  /// while no detector watches (registering costs a process-wide lock per spawn, on
  /// the restart path). Start a detector before the services it is to watch, as the
  /// Worker does.
  ActivitySlot(const std::type_info& type, unlisted_t) noexcept;
  /// Unregisters the slot (waits while a detector is scanning).
  ~ActivitySlot();
  ActivitySlot(const ActivitySlot&) = delete;
  ActivitySlot& operator=(const ActivitySlot&) = delete;

  // -- written by the owning thread -------------------------------------------------

  /// A message handler begins. `handler` must be a string with static storage (it is
  /// kept as a pointer). `where`: where the task being resumed had been waiting, if
  /// known. Costs three relaxed stores and one release store.
  token enter(const char* handler, std::source_location where = {}) noexcept {
    auto previous = state_.load(std::memory_order_relaxed);
    handler_.store(handler, std::memory_order_relaxed);
    where_.store(where, std::memory_order_relaxed);
    // The generation changes with every message, so a busy slot seen twice with the
    // same generation has not finished the message in between.
    state_.store(((previous >> 1) + 1) << 1 | 1, std::memory_order_release);
    return previous;
  }

  /// The handler that enter() returned `previous` for has ended.
  void leave(token previous) noexcept {
    if ((previous & 1) != 0)  // nested: the outer handler is still running
      state_.store(previous, std::memory_order_release);
    else
      state_.store(state_.load(std::memory_order_relaxed) & ~token{1}, std::memory_order_release);
  }

  // -- read by the detector -----------------------------------------------------------

  /// A consistent reading of the slot.
  struct sample {
    std::uint64_t generation = 0;  ///< changes with every message handled
    bool busy = false;             ///< a handler is running now
    const char* handler = "";      ///< its kind ("begin", "resume", "start", ...)
    std::source_location where;    ///< where the resumed task had waited; empty if unknown
  };

  /// Reads the slot (from any thread).
  [[nodiscard]] sample read() const noexcept;

  /// The label given at construction, or the demangled type name if none was.
  [[nodiscard]] std::string label() const;

  /// A number unique to this slot in this process (addresses get reused).
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

 private:
  friend class ActivityRegistry;

  std::atomic<std::uint64_t> state_{0};  // generation << 1 | busy
  std::atomic<const char*> handler_{""};
  std::atomic<std::source_location> where_{};
  const std::type_info* type_;
  /// Given only for watched slots: every service actor has a slot, and most never
  /// need a label, so it costs a pointer rather than a string.
  std::unique_ptr<const std::string> label_;
  ActivityRegistry* registry_;
  std::uint64_t id_ = 0;
  ActivitySlot* prev_ = nullptr;  // intrusive list, guarded by the registry's mutex
  ActivitySlot* next_ = nullptr;
};

/// The set of live ActivitySlots. One process-wide registry (global()) holds the
/// slots of every service actor; tests make their own.
class ActivityRegistry {
 public:
  /// An empty registry (tests make their own; services use global()).
  ActivityRegistry() = default;
  ActivityRegistry(const ActivityRegistry&) = delete;
  ActivityRegistry& operator=(const ActivityRegistry&) = delete;
  /// Slots must be gone before their registry.
  ~ActivityRegistry() = default;

  /// The process-wide registry that service actors register in.
  static ActivityRegistry& global();

  /// Calls `fn` for every registered slot, under the registry's lock (slots cannot
  /// go away meanwhile; `fn` must not create or destroy slots).
  void for_each(const std::function<void(const ActivitySlot&)>& fn) const;

  /// Number of registered slots.
  [[nodiscard]] std::size_t size() const;

  /// True while a BlockingDetector watches this registry. Service actors then spend
  /// the time to compute their label when they register (else it is computed only if
  /// a report needs it, from the type name).
  [[nodiscard]] bool watched() const noexcept {
    return watchers_.load(std::memory_order_relaxed) > 0;
  }

 private:
  friend class ActivitySlot;
  friend class BlockingDetector;

  void add(ActivitySlot& slot);
  void remove(ActivitySlot& slot) noexcept;

  mutable std::mutex mtx_;
  ActivitySlot* head_ = nullptr;
  std::size_t size_ = 0;
  std::uint64_t next_id_ = 1;
  std::atomic<int> watchers_{0};
};

/// One "Blocking detected" finding.
struct BlockingReport {
  /// Label of the service whose actor is blocked.
  std::string service;
  /// Kind of message it is handling: "begin" (a task's first step), "resume" (a task
  /// woken up), "timeout", "response", "start", "stop", "exit_msg", ...
  std::string handler;
  /// Where the resumed task had been waiting ("file:line in function"); empty if the
  /// handler did not resume a known wait.
  std::string where;
  /// How long the handler has been running, at least (as far as the detector saw).
  std::chrono::duration<double> blocked_for{0};
  /// The detector's timeout.
  std::chrono::duration<double> timeout{0};
  /// Reports dropped by the rate limit since the previous report.
  std::size_t suppressed = 0;

  /// "Blocking detected (timeout=10s): service Foo blocked its thread for 10.2s in
  /// handler 'resume' (task waited at file.cpp:12 in task<void> Foo::run())".
  [[nodiscard]] std::string message() const;
};

/// Settings of a BlockingDetector.
struct BlockingDetectorOptions {
  /// The clock type.
  using clock_type = std::chrono::steady_clock;

  /// How long a handler may keep its thread before it is reported. mode's
  /// BlockingDetector `timeout` (the Worker's blocking_timeout); default 10 s.
  Seconds timeout{10.0};
  /// Receives each report. Default (empty): a warning with report.message() on the
  /// "mode.debug" logger.
  std::function<void(const BlockingReport&)> reporter;
  /// At most this many reports in any 60 s; the rest are counted in the next report's
  /// `suppressed`. Default 6.
  std::size_t max_reports_per_minute = 6;
  /// The time now. Default (empty): steady_clock::now.
  std::function<clock_type::time_point()> clock;
  /// The slots to watch. Default (nullptr): ActivityRegistry::global().
  ActivityRegistry* registry = nullptr;
};

/// Watches the actors' ActivitySlots and reports those stuck in one handler longer
/// than the timeout: once when the timeout passes, and again every further timeout
/// while the same handler keeps running. start() runs the checks on a thread of its
/// own (every timeout / 4); tests call check() themselves.
class BlockingDetector {
 public:
  /// The clock type.
  using clock_type = BlockingDetectorOptions::clock_type;

  /// A detector that has not started. Throws std::invalid_argument quoting the value
  /// if the timeout is not positive.
  explicit BlockingDetector(BlockingDetectorOptions options = {});
  /// Stops the thread (if started).
  ~BlockingDetector();
  BlockingDetector(const BlockingDetector&) = delete;
  BlockingDetector& operator=(const BlockingDetector&) = delete;

  /// Starts checking on a background thread. Idempotent.
  void start();
  /// Stops and joins the background thread. Idempotent.
  void stop();

  /// Scans every slot once at clock() and returns how many reports it made.
  std::size_t check();

  /// The timeout.
  [[nodiscard]] std::chrono::duration<double> timeout() const noexcept { return timeout_; }

 private:
  struct impl;
  std::chrono::duration<double> timeout_;
  std::unique_ptr<impl> impl_;
};

}  // namespace mode
