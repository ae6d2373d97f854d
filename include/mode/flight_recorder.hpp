// mode's flight_recorder: log lines that are emitted only when a task hangs.
//
// Logging every step of a task that sometimes hangs floods the log and changes
// its timing; a flight recorder buffers the steps instead and replays them only
// when the task outlives its timeout. The owner of a hanging task cannot help
// with that, so the timeout fires on a TimerScheduler's own thread (by default
// one background thread shared by all recorders); tests inject a
// ManualTimerScheduler and a clock and fire the timeout by hand.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <spdlog/logger.h>

#include "mode/logging.hpp"

namespace mode {

namespace detail {

struct timer_queue;
struct flight_recorder_state;

}  // namespace detail

// -- timer scheduling ---------------------------------------------------------

/// Cancels one scheduled callback. Default-constructed: refers to nothing.
class TimerHandle {
 public:
  /// A handle that refers to nothing; cancel() returns false.
  TimerHandle() noexcept = default;

  /// A handle whose cancel() calls `cancel` (once; later calls return false).
  explicit TimerHandle(std::function<bool()> cancel) noexcept : cancel_(std::move(cancel)) {}

  /// Cancels the callback if it has not started; true if this call did. Does
  /// not wait for a callback that is already running.
  bool cancel() {
    auto fn = std::exchange(cancel_, nullptr);
    return fn ? fn() : false;
  }

  /// Whether cancel() still has something to cancel.
  bool valid() const noexcept { return static_cast<bool>(cancel_); }

 private:
  std::function<bool()> cancel_;
};

/// Runs callbacks after a delay on a thread of its own, so that they run even
/// while the code that scheduled them hangs.
class TimerScheduler {
 public:
  /// The delay type.
  using duration = std::chrono::steady_clock::duration;

  /// Destroys the scheduler; what happens to pending callbacks is up to the
  /// implementation.
  virtual ~TimerScheduler();

  /// Runs `fn` once, `delay` from now; the returned handle cancels it.
  virtual TimerHandle schedule(duration delay, std::function<void()> fn) = 0;
};

/// The default TimerScheduler: one background thread that waits for the
/// earliest deadline (a condition variable's wait_until on steady_clock). The
/// thread starts with the first schedule() and is joined by the destructor,
/// which drops callbacks that have not run. A callback that throws is reported
/// on stderr and does not stop the thread.
class ThreadTimerScheduler final : public TimerScheduler {
 public:
  /// A scheduler whose thread starts with the first schedule().
  ThreadTimerScheduler();

  /// Stops and joins the thread; pending callbacks never run.
  ~ThreadTimerScheduler() override;

  /// Not copyable: handles refer to this scheduler's queue.
  ThreadTimerScheduler(const ThreadTimerScheduler&) = delete;
  /// Not copyable.
  ThreadTimerScheduler& operator=(const ThreadTimerScheduler&) = delete;

  /// Runs `fn` on the scheduler's thread once `delay` has passed. After the
  /// destructor started, returns an empty handle and never runs `fn`.
  TimerHandle schedule(duration delay, std::function<void()> fn) override;

  /// How many callbacks wait for their deadline.
  std::size_t pending() const;

 private:
  std::shared_ptr<detail::timer_queue> queue_;
};

/// The process-wide ThreadTimerScheduler that flight recorders use unless
/// given another; created on first use, joined at static destruction.
TimerScheduler& default_timer_scheduler();

/// A TimerScheduler on virtual time for tests: nothing runs until advance()
/// moves the time on; then due callbacks run on the calling thread, earliest
/// deadline first (ties in scheduling order). Thread-safe.
class ManualTimerScheduler final : public TimerScheduler {
 public:
  /// A scheduler at virtual time zero with nothing pending.
  ManualTimerScheduler();

  /// Drops pending callbacks without running them.
  ~ManualTimerScheduler() override;

  /// Not copyable: handles refer to this scheduler's queue.
  ManualTimerScheduler(const ManualTimerScheduler&) = delete;
  /// Not copyable.
  ManualTimerScheduler& operator=(const ManualTimerScheduler&) = delete;

  /// Schedules `fn` at now() + `delay`.
  TimerHandle schedule(duration delay, std::function<void()> fn) override;

  /// Moves virtual time on by `delta` and runs every callback due by then,
  /// including ones that those callbacks schedule. Returns how many ran.
  std::size_t advance(duration delta);

  /// How many callbacks wait for their deadline.
  std::size_t pending() const;

  /// The virtual time: the sum of all advance() calls.
  duration now() const;

 private:
  std::shared_ptr<detail::timer_queue> queue_;
};

// -- flight_recorder ----------------------------------------------------------

/// Python's time.asctime in local time, which mode's flight_recorder prints:
/// "Thu Apr 19 09:43:45 2018" (day padded with a space, English names).
std::string asctime(std::chrono::system_clock::time_point when);

/// mode's `flight_recorder(logger, timeout=...)`.
///
/// Construct it, then activate() it where Python enters the `with` block; the
/// destructor cancels it, as leaving the block does (or call cancel()):
///
/// ~~~
/// mode::flight_recorder on_timeout{logger, 10s};
/// on_timeout.activate();
/// on_timeout.info("+redis_client.get({})", key);
/// co_await redis.get(key);
/// on_timeout.info("-redis_client.get({})", key);
/// ~~~
///
/// While active, log() and the severity helpers buffer each message with the
/// clock's time; cancel() (or destruction) drops them. If the timeout passes
/// first, the scheduler's thread logs to `logger`:
///
/// ~~~
/// WARNING  Warning: Task timed out!
/// WARNING  Please make sure it's hanging before restart.
/// INFO     [Flight Recorder-1] (started at Thu Apr 19 09:43:45 2018) Replaying logs...
/// <sev>    [Flight Recorder-1] (Thu Apr 19 09:43:45 2018) <message> key='value', ...
/// INFO     [Flight Recorder-1] -End of log-
/// INFO     [Flight Recorder-1] Task traceback
/// INFO     [Flight Recorder-1] Enabled by <enabled_by>      (if set)
/// INFO     <task_traceback()>                               (if set)
/// INFO     [Flight Recorder-1] -missing-: not enabled by task   (if neither is set)
/// ~~~
///
/// each replayed line at its own severity, followed by the extra_context.
/// Afterwards, log calls go straight to the logger (**fix**: mode kept
/// buffering them and dropped them at exit). When not active, log calls go
/// straight to the logger too, unchanged. All members are thread-safe.
class flight_recorder {
 public:
  /// Where timestamps come from; default std::chrono::system_clock::now.
  using clock_function = std::function<std::chrono::system_clock::time_point()>;

  /// mode's `timeout` (seconds as a float in mode).
  using timeout_type = std::chrono::duration<double>;

  /// A recorder for `logger` that fires `timeout` after activate(), on
  /// default_timer_scheduler(). Not active yet. Throws std::invalid_argument
  /// for a null logger or a negative, non-finite or absurd (> 10^9 s) timeout.
  flight_recorder(std::shared_ptr<spdlog::logger> logger, timeout_type timeout);

  /// As above with an injected scheduler (which must outlive the recorder)
  /// and clock (default system_clock::now).
  flight_recorder(std::shared_ptr<spdlog::logger> logger, timeout_type timeout,
                  TimerScheduler& scheduler, clock_function clock = {});

  /// Cancels (mode's `__exit__`): buffered lines are dropped unless the
  /// timeout already replayed them.
  ~flight_recorder();

  /// Takes over `other`'s recording, pending timeout included; `other` may
  /// only be destroyed or assigned to afterwards.
  flight_recorder(flight_recorder&& other) noexcept;
  /// Cancels this recorder, then takes over `other`'s recording.
  flight_recorder& operator=(flight_recorder&& other) noexcept;
  /// Not copyable: one recording has one owner.
  flight_recorder(const flight_recorder&) = delete;
  /// Not copyable.
  flight_recorder& operator=(const flight_recorder&) = delete;

  // -- nesting ----------------------------------------------------------------

  /// A recorder nested in this one: same logger, scheduler, clock, enabled_by
  /// and task_traceback; on activate() it takes every extra_context entry of
  /// this recorder that it has not set itself (mode: the current recorder's
  /// context is inherited). Nesting is explicit rather than mode's
  /// context-local stack, since coroutines move between threads.
  flight_recorder nested(timeout_type timeout) const;

  // -- lifecycle --------------------------------------------------------------

  /// Starts buffering and the timeout (mode's `activate`, `__enter__`).
  /// Throws std::logic_error if already active or timed out and not yet
  /// cancelled.
  void activate();

  /// Stops: drops buffered lines, cancels a pending timeout, and makes the
  /// recorder ready for another activate() (mode's `cancel`, `__exit__`).
  void cancel() noexcept;

  // -- logging ----------------------------------------------------------------

  /// Buffers `message` at `severity` while active, logs it otherwise.
  void log(Severity severity, std::string_view message);

  /// log() with an fmt format string, formatted now.
  template <class... Ts>
  requires(sizeof...(Ts) > 0) void log(Severity severity, fmt::format_string<Ts...> format,
                                       Ts&&... args) {
    log(severity, std::string_view{fmt::format(format, std::forward<Ts>(args)...)});
  }

  /// log() at DEBUG.
  void debug(std::string_view message) { log(Severity::debug, message); }

  /// log() at INFO.
  void info(std::string_view message) { log(Severity::info, message); }

  /// log() at WARNING (mode's `warn`).
  void warn(std::string_view message) { log(Severity::warning, message); }

  /// log() at WARNING.
  void warning(std::string_view message) { log(Severity::warning, message); }

  /// log() at ERROR.
  void error(std::string_view message) { log(Severity::error, message); }

  /// log() at CRITICAL (mode's `crit`).
  void crit(std::string_view message) { log(Severity::critical, message); }

  /// log() at CRITICAL.
  void critical(std::string_view message) { log(Severity::critical, message); }

  /// debug() with an fmt format string.
  template <class... Ts>
  requires(sizeof...(Ts) > 0) void debug(fmt::format_string<Ts...> format, Ts&&... args) {
    log(Severity::debug, format, std::forward<Ts>(args)...);
  }

  /// info() with an fmt format string.
  template <class... Ts>
  requires(sizeof...(Ts) > 0) void info(fmt::format_string<Ts...> format, Ts&&... args) {
    log(Severity::info, format, std::forward<Ts>(args)...);
  }

  /// warn() with an fmt format string.
  template <class... Ts>
  requires(sizeof...(Ts) > 0) void warn(fmt::format_string<Ts...> format, Ts&&... args) {
    log(Severity::warning, format, std::forward<Ts>(args)...);
  }

  /// error() with an fmt format string.
  template <class... Ts>
  requires(sizeof...(Ts) > 0) void error(fmt::format_string<Ts...> format, Ts&&... args) {
    log(Severity::error, format, std::forward<Ts>(args)...);
  }

  /// critical() with an fmt format string.
  template <class... Ts>
  requires(sizeof...(Ts) > 0) void critical(fmt::format_string<Ts...> format, Ts&&... args) {
    log(Severity::critical, format, std::forward<Ts>(args)...);
  }

  /// A function that logs through this recorder (buffering while active);
  /// it stays valid after the recorder is moved or destroyed.
  mode::log_function log_function() const;

  // -- wrapping ---------------------------------------------------------------

  /// mode's `wrap`: calls made through the result are logged through this
  /// recorder at `severity` (see Logwrapped).
  template <class T>
  Logwrapped<T> wrap(Severity severity, T& obj) const {
    return Logwrapped<T>(obj, log_function(), severity);
  }

  /// wrap() at DEBUG.
  template <class T>
  Logwrapped<T> wrap_debug(T& obj) const {
    return wrap(Severity::debug, obj);
  }

  /// wrap() at INFO.
  template <class T>
  Logwrapped<T> wrap_info(T& obj) const {
    return wrap(Severity::info, obj);
  }

  /// wrap() at WARNING.
  template <class T>
  Logwrapped<T> wrap_warn(T& obj) const {
    return wrap(Severity::warning, obj);
  }

  /// wrap() at ERROR.
  template <class T>
  Logwrapped<T> wrap_error(T& obj) const {
    return wrap(Severity::error, obj);
  }

  // -- context ----------------------------------------------------------------

  /// Names what enabled the recorder (mode's `enabled_by`, the current task):
  /// the service or task; printed after a timeout. Default empty.
  void enabled_by(std::string what);

  /// What enabled_by(std::string) set.
  std::string enabled_by() const;

  /// Says where the task is stuck (mode prints the task's stack); called on
  /// the scheduler's thread after a timeout, so it must be thread-safe.
  /// Default none.
  void task_traceback(std::function<std::string()> fn);

  /// Adds `key`='`value`' to every replayed line (mode's `extra_context`).
  void extra_context(std::string key, std::string value);

  /// The extra context, including entries inherited on activate().
  std::map<std::string, std::string> extra_context() const;

  // -- observers --------------------------------------------------------------

  /// This recorder's number: 1 for the first one in the process, and so on.
  std::uint64_t id() const noexcept;

  /// "Flight Recorder-<id>", the prefix of replayed lines (mode's `_ident`).
  std::string ident() const;

  /// Whether activate() ran and neither cancel() nor the timeout did since.
  bool active() const;

  /// Whether the timeout fired and cancel() has not run since.
  bool timed_out() const;

  /// The timeout.
  timeout_type timeout() const noexcept;

  /// The logger.
  const std::shared_ptr<spdlog::logger>& logger() const noexcept;

 private:
  explicit flight_recorder(std::shared_ptr<detail::flight_recorder_state> state);

  std::shared_ptr<detail::flight_recorder_state> state_;
};

}  // namespace mode
