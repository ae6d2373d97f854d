// mode::Service: a unit of a program that starts, stops, restarts and crashes, with
// children, background tasks and timers; the C++ port of Python mode's Service.
//
// Every Service runs on its own CAF actor. Its hooks, background tasks, timers and
// crontabs all run on that actor, one at a time, so a service's own state needs no
// locks. Hooks and tasks are coroutines (mode::task<>); waiting is co_await, never a
// blocking call. Code outside the actor (main, tests, other threads) talks to a
// service through a ServiceHandle (mode/service_handle.hpp).
//
// The hook order, as in mode's ServiceCallbacks (kept true by tests/service_test.cpp):
//
//   start()                                  stop()
//   -------                                  ------
//   on_init_dependencies()  [first start]    stopped flag set: sleep()/wait() return
//   on_first_start()        [first start]    on_stop()
//   on_start()                               children stopped, in reverse order
//   registered tasks launched                wait for set_shutdown() [wait_for_shutdown,
//   children started, in order                  bounded by shutdown_timeout]
//   on_started()                             background tasks given one turn, then
//                                               cancelled and joined
//   restart()                                contexts exited, in reverse order
//   ---------                                on_shutdown()
//   stop() -> service_reset() -> on_restart() -> start()
//
// States (state()): init -> running -> stopping -> shutdown, or crashed once crash()
// ran or an exception escaped a hook or task. A crashed service runs its stop
// sequence, marks its children crashed, and its actor then exits with the crash
// reason, which travels to its parent (and so up to the root) unless a supervisor
// takes charge of it.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "mode/crontab_spec.hpp"
#include "mode/detail/awaiters.hpp"
#include "mode/detail/message_handler.hpp"
#include "mode/diag.hpp"
#include "mode/errors.hpp"
#include "mode/event.hpp"
#include "mode/iter_timer.hpp"
#include "mode/service_log.hpp"
#include "mode/service_state.hpp"
#include "mode/task.hpp"
#include "mode/timer.hpp"
#include "mode/timer_spec.hpp"
#include "mode/times.hpp"
#include "mode/wait.hpp"

namespace mode {

class SupervisorStrategyT;

namespace detail {
struct service_binding;
class service_actor;
class watching_service;
}  // namespace detail

/// What `Service::add_async_context` takes: an object entered by `co_await aenter()` and
/// exited by `co_await aexit()`, Python's __aenter__/__aexit__.
template <class Ctx>
concept AsyncContext = requires(Ctx& ctx) {
  { ctx.aenter() } -> std::same_as<task<void>>;
  { ctx.aexit() } -> std::same_as<task<void>>;
};

/// An asynchronous service that can be started, stopped and restarted. Subclass it,
/// override the hooks you need, register background tasks in the constructor.
class Service : public std::enable_shared_from_this<Service> {
 public:
  using clock = std::chrono::steady_clock;
  using task_factory = std::function<task<void>()>;

  Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;
  virtual ~Service();

  // -- lifecycle hooks (override these) -------------------------------------------
  // The defaults return an empty task, which awaits as a no-op without a coroutine
  // frame; an override may still `co_await Service::on_start();`.

  /// Children to add before the first start (mode's on_init_dependencies).
  virtual std::vector<std::shared_ptr<Service>> on_init_dependencies() { return {}; }
  /// The first start of this instance only (not after restart).
  virtual task<void> on_first_start() { return {}; }
  /// Every start, before tasks and children start.
  virtual task<void> on_start() { return {}; }
  /// Every start, after tasks launched and children started.
  virtual task<void> on_started() { return {}; }
  /// Every stop, first thing after the stopped flag is set.
  virtual task<void> on_stop() { return {}; }
  /// Every stop, last thing.
  virtual task<void> on_shutdown() { return {}; }
  /// On restart(), between the reset and the new start.
  virtual task<void> on_restart() { return {}; }

  // -- lifecycle (call on this service's actor) -------------------------------------

  /// Starts the service (hooks, tasks, children). mode's Service.start().
  task<void> start();
  /// Starts the service if it was not started; returns whether it did.
  task<bool> maybe_start();
  /// Stops the service (idempotent: a second stop does nothing).
  task<void> stop();
  /// stop(), service_reset(), on_restart(), start().
  task<void> restart();
  /// Clears the flags for a new start: restart_count + 1, crash reason cleared,
  /// children reset.
  void service_reset();
  /// Crashes the service with `reason` (logs "Crashed reason=..."), then stops it.
  /// A service without a supervisor takes its parent down with it.
  void crash(std::exception_ptr reason);
  /// Crashes the service with a std::runtime_error carrying `reason`.
  void crash(std::string_view reason);
  /// Sets the shutdown flag that stop() waits for when wait_for_shutdown is set.
  void set_shutdown();

  // -- state --------------------------------------------------------------------------

  /// mode's state: crashed, else init / running / stopping / shutdown. "stopping" while
  /// the stop sequence runs, "shutdown" once it ended. (mode says "stopping" after a
  /// finished stop until someone calls set_shutdown(); a stopped service here reads
  /// "shutdown" either way: the state says whether the stop is over.)
  [[nodiscard]] ServiceState state() const noexcept;
  /// True once start() began (until reset).
  [[nodiscard]] bool started() const noexcept { return started_; }
  /// True once crashed (until reset).
  [[nodiscard]] bool crashed() const noexcept { return crashed_; }
  /// True if the service must stop: it was stopped or it crashed.
  [[nodiscard]] bool should_stop() const noexcept { return stopped_ || crashed_; }
  /// The exception it crashed with, if it crashed.
  [[nodiscard]] std::exception_ptr crash_reason() const noexcept { return crash_reason_; }
  /// Number of times this service was restarted.
  [[nodiscard]] int restart_count() const noexcept { return restart_count_; }

  // -- settings (mode's class attributes) ----------------------------------------------

  /// How long stop() waits for set_shutdown() when wait_for_shutdown is set.
  /// mode's shutdown_timeout; default 60 s.
  std::chrono::duration<double> shutdown_timeout = std::chrono::seconds{60};
  /// stop() waits for set_shutdown(). mode's wait_for_shutdown; default false.
  bool wait_for_shutdown = false;
  /// Level of the "Starting..."/"Stopping..." lines. mode's mundane_level; default info.
  spdlog::level::level_enum mundane_level = spdlog::level::info;

  // -- labels and logging ---------------------------------------------------------------

  /// Label used for graphs; default: the class name. mode's label.
  /// Threads: mode-cpp calls an override on the service's actor, and once on the thread
  /// that spawns the actor, before the actor runs (never while it runs elsewhere). Code
  /// off the service's actor (handles, its parent, its supervisor, error texts) prints the
  /// label read at that spawn, so an override may read state the service changes.
  [[nodiscard]] virtual std::string label() const;
  /// Label used for logging; default: label(). mode's shortlabel.
  [[nodiscard]] virtual std::string shortlabel() const;
  /// Depth in the service tree: 1 for a root.
  [[nodiscard]] int depth() const noexcept { return depth_; }
  /// This service's prefixing logger.
  [[nodiscard]] ServiceLog log() const { return ServiceLog{*this}; }
  /// The spdlog logger behind log(): "mode.services" unless set.
  [[nodiscard]] const std::shared_ptr<spdlog::logger>& logger() const noexcept { return logger_; }
  /// Uses `lg` for this service's log lines.
  void set_logger(std::shared_ptr<spdlog::logger> lg) { logger_ = std::move(lg); }

  // -- children ---------------------------------------------------------------------------

  /// Adds a child, started after this service's on_start and stopped before its
  /// on_shutdown. O(1). Returns the child.
  template <class S>
  std::shared_ptr<S> add_dependency(std::shared_ptr<S> child) {
    add_child(child);
    return child;
  }
  /// Adds a child and starts it if this service already started.
  task<void> add_runtime_dependency(std::shared_ptr<Service> child);
  /// Stops a child and removes it.
  task<void> remove_dependency(std::shared_ptr<Service> child);
  /// The children, in start order.
  [[nodiscard]] const std::vector<std::shared_ptr<Service>>& children() const noexcept {
    return children_;
  }
  /// The parent in the service tree (empty for a root).
  [[nodiscard]] std::shared_ptr<Service> parent() const { return parent_.lock(); }

  /// The supervisor in charge of this service, if any (set by supervisors).
  SupervisorStrategyT* supervisor = nullptr;

  // -- background tasks -------------------------------------------------------------------

  /// Registers a background task (mode's @Service.task): `fn` is called at every start
  /// and its coroutine runs until it returns or the service stops. An exception
  /// escaping it crashes the service.
  void add_task(std::string name, task_factory fn);
  template <class S>
  void add_task(task<void> (S::*fn)(), std::string name = "task") {
    auto* self = static_cast<S*>(this);
    add_task(std::move(name), [self, fn] { return (self->*fn)(); });
  }

  /// Runs `t` as a future of this service (mode's add_future): cancelled at stop; an
  /// exception escaping it crashes the service.
  void add_future(task<void> t, std::string name = "future");

  /// Registers a timer (mode's @Service.timer): `fn` runs every `interval` while the
  /// service runs, the first time one full interval after start (or right away too if
  /// spec.exec_first). Ticks are scheduled at start + i * interval, so lateness never
  /// accumulates; a tick missed because the callback overran is skipped and counted as
  /// an overlap (see mode::Timer). An exception escaping `fn` crashes the service.
  void timer(Seconds interval, task_factory fn, TimerSpec spec = {});
  template <class S>
  void timer(Seconds interval, task<void> (S::*fn)(), TimerSpec spec = {}) {
    auto* self = static_cast<S*>(this);
    timer(
        interval, [self, fn] { return (self->*fn)(); }, std::move(spec));
  }

  /// Registers a crontab (mode's @Service.crontab): `fn` runs each time the 5-field cron
  /// expression `format` fires in spec.timezone (UTC by default), while the service runs.
  /// A malformed expression, one that can never fire, or an unknown time zone throws
  /// mode::cron_error / mode::timezone_error here, naming the field and the input.
  void crontab(std::string_view format, task_factory fn, CrontabSpec spec = {});
  template <class S>
  void crontab(std::string_view format, task<void> (S::*fn)(), CrontabSpec spec = {}) {
    auto* self = static_cast<S*>(this);
    crontab(
        format, [self, fn] { return (self->*fn)(); }, std::move(spec));
  }

  /// The wall clock crontabs read. Default std::chrono::system_clock::now; tests on
  /// virtual time replace it.
  std::function<std::chrono::system_clock::time_point()> wall_clock = [] {
    return std::chrono::system_clock::now();
  };

  /// mode's itertimer: `auto it = itertimer(1s); while (co_await it.next()) {...}`
  /// wakes once per interval (the first after a full interval), with the Timer's drift
  /// correction, until the service stops.
  IterTimer itertimer(Seconds interval, TimerSpec spec = {});

  /// The time now on this service's actor clock (virtual time under CAF's testing
  /// scheduler). Call on the service's actor.
  [[nodiscard]] clock::time_point now() const;
  /// How long the service has run since its last start, while it runs; zero otherwise.
  /// Port addition, for status pages and metrics. Call on the service's actor.
  [[nodiscard]] clock::duration uptime() const;

  // -- messages ---------------------------------------------------------------------------

  /// Registers a handler for the messages whose elements match `fn`'s parameters (in
  /// the constructor, like add_task). `fn` runs on this service's actor, one message at
  /// a time with the hooks and tasks, while the service runs. It is a plain function
  /// (its return value is the reply; void replies with nothing) or a coroutine
  /// returning task<R> (the reply comes when it finishes; it may co_await sleep or
  /// request). A request is always answered:
  ///   - with the result;
  ///   - with RequestError if the handler threw (`<label> <- <type>: <what()>`); the
  ///     service keeps running (the requester waits for the answer, so the exception is
  ///     its to handle);
  ///   - with ServiceNotRunning if the service is not running (not started, stopping,
  ///     stopped or crashed), or stopped before its coroutine handler finished.
  /// A message that no handler takes is answered with CAF's unexpected_message (and
  /// logged at warning). Message types cross actors by value: they must be copyable
  /// and, as for any CAF message, have an `inspect` overload (or be allowed with
  /// CAF_ALLOW_UNSAFE_MESSAGE_TYPE). Tag requests with atoms:
  ///   `add_handler([this](get_atom) { return count_; });`
  template <class F>
  void add_handler(F fn) {
    using traits = detail::callable_traits<F>;
    add_message_handler(
        detail::handler_builder<F, typename traits::result, typename traits::params>::make(
            *this, std::move(fn)));
  }
  /// add_handler for a member function of this service: `add_handler(&Counter::get);`.
  template <class S, class R, class... Ps>
  void add_handler(R (S::*fn)(Ps...)) {
    auto* self = static_cast<S*>(this);
    auto call = [self, fn](Ps... xs) -> R {
      return (self->*fn)(std::forward<Ps>(xs)...);
    };
    add_message_handler(detail::handler_builder<decltype(call), R, std::tuple<Ps...>>::make(
        *this, std::move(call)));
  }

  // -- waiting ----------------------------------------------------------------------------

  /// Sleeps `d`, or less if the service stops first. mode's Service.sleep.
  detail::wait_awaiter sleep(Seconds d,
                             std::source_location where = std::source_location::current());
  /// Waits until `ev` is set, the timeout passes, or the service stops.
  detail::event_awaiter wait_event(Event& ev, std::optional<Seconds> timeout = std::nullopt,
                                   std::source_location where = std::source_location::current());
  /// mode's wait(x, timeout): waits for an Event or a task, or until the service stops.
  task<WaitResult> wait(Waitable what, std::optional<Seconds> timeout = std::nullopt);
  /// mode's wait_for_stopped: true if the service stopped before `what` finished.
  task<bool> wait_for_stopped(Waitable what, std::optional<Seconds> timeout = std::nullopt);
  /// mode's wait_many: waits for all of them (or stop, or the timeout).
  task<WaitResult> wait_many(std::vector<Waitable> what,
                             std::optional<Seconds> timeout = std::nullopt);
  /// mode's wait_first: waits for the first of them to finish (or stop, or the
  /// timeout); the others are cancelled.
  task<WaitResults> wait_first(std::vector<Waitable> what,
                               std::optional<Seconds> timeout = std::nullopt);
  /// Waits until the service stops or crashes.
  detail::event_awaiter wait_until_stopped(
      std::source_location where = std::source_location::current());

  // -- diagnostics -------------------------------------------------------------------------

  /// mode's Service.diag.
  Diag diag;
  /// Runs `t` with diag flag `flag` set (unset even if it throws). mode's transition_with.
  template <class T>
  task<T> transition_with(std::string flag, task<T> t) {
    diag.set_flag(flag);
    struct unset {
      Diag& d;
      std::string& f;
      ~unset() { d.unset_flag(f); }
    } guard{diag, flag};
    co_return co_await std::move(t);
  }

  /// For every pending task: its name -> where it is suspended (file:line, function).
  [[nodiscard]] std::map<std::string, std::string> tracebacks() const;
  /// tracebacks() as text: a header per task underlined with '='.
  [[nodiscard]] std::string human_tracebacks() const;

  // -- contexts ----------------------------------------------------------------------------

  /// Keeps `resource` until stop, then releases it (in reverse order of adding).
  /// mode's add_context, in RAII form: the constructor entered it, the destructor exits.
  /// An object with aenter/aexit is refused at compile time, as mode raises TypeError:
  /// its destructor would run without its aexit.
  template <class T>
  requires(!AsyncContext<T>) T& add_context(std::unique_ptr<T> resource) {
    auto& ref = *resource;
    contexts_.push_back(context{std::shared_ptr<void>(std::move(resource)), {}});
    return ref;
  }
  /// mode's add_async_context: enters `ctx` now (`co_await ctx->aenter()`) and exits it
  /// at stop (`co_await ctx->aexit()`), in reverse order with the other contexts. Ctx
  /// provides `task<void> aenter()` and `task<void> aexit()`, like Python's
  /// __aenter__/__aexit__. Returns the context, owned by the service until stop.
  template <AsyncContext Ctx>
  task<Ctx*> add_async_context(std::unique_ptr<Ctx> ctx) {
    co_await ctx->aenter();
    std::shared_ptr<Ctx> owned{std::move(ctx)};
    push_async_exit([owned] { return owned->aexit(); });
    co_return owned.get();
  }

  // -- internal (used by the actor layer) -------------------------------------------------

  /// The binding to the actor hosting this service (empty until spawned).
  [[nodiscard]] const std::shared_ptr<detail::service_binding>& binding() const noexcept {
    return binding_;
  }

  /// Sets restart_count: a supervisor carries it over to the new instance that replaces
  /// a crashed one (mode keeps one object; a replacement counts on from its predecessor).
  void set_restart_count(int count) noexcept { restart_count_ = count; }

 private:
  void add_message_handler(detail::message_handler handler);
  /// Runs the handler that takes `msg` (the actor's default handler calls this).
  caf::result<caf::message> handle_message(caf::message& msg);
  friend void detail::launch_reply(Service& svc, task<void> t);
  friend class detail::watching_service;
  /// Set by detail::watching_service (supervisors, remote children): its actor hands it
  /// down messages.
  bool monitors_ = false;

  friend class detail::service_actor;

  void add_child(std::shared_ptr<Service> child);
  task<void> start_children();
  task<void> stop_children(bool crashed);
  task<void> join_futures();
  task<void> exit_contexts();
  void mark_crashed(std::exception_ptr reason, std::string text = {});
  void crash_with(std::exception_ptr reason, std::string text);
  /// describe_exception(crash_reason_), worked out once.
  const std::string& crash_text();
  void on_task_done(std::uint64_t id, bool is_future, std::exception_ptr error);
  void push_async_exit(std::function<task<void>()> exit);
  task<void> run_guarded(const task_factory& fn, TaskErrorPolicy policy, const std::string& name);
  detail::coro_host& host();

  // -- state ------------------------------------------------------------------------------
  bool started_ = false;
  bool stopped_ = false;
  bool shutdown_ = false;
  bool crashed_ = false;
  bool stopping_ = false;
  bool first_start_done_ = false;
  int restart_count_ = 0;
  int depth_ = 1;
  clock::time_point started_at_{};
  std::exception_ptr crash_reason_;
  std::string crash_text_;
  Event stopped_event_;
  Event shutdown_event_;
  std::vector<std::pair<std::string, task_factory>> task_factories_;
  std::vector<std::shared_ptr<Service>> children_;
  std::weak_ptr<Service> parent_;
  /// An entered context: a resource released by its destructor (add_context) or an
  /// exit to await (add_async_context).
  struct context {
    std::shared_ptr<void> resource;
    std::function<task<void>()> async_exit;
  };
  std::vector<context> contexts_;                  // in the order entered
  std::vector<detail::message_handler> handlers_;  // add_handler, in the order added
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<detail::service_binding> binding_;
};

/// mode's `@Service.transitions_to(flag)`: wraps the member coroutine `fn` so that every
/// call runs with diag flag `flag` set (unset when it ends, even by an exception).
///   static inline const auto flush = mode::transitions_to("FLUSHING", &Writer::do_flush);
///   ... co_await flush(*this, batch);
template <class S, class T, class... A>
auto transitions_to(std::string flag, task<T> (S::*fn)(A...)) {
  return [flag = std::move(flag), fn](S& self, A... args) -> task<T> {
    return self.transition_with(flag, (self.*fn)(std::forward<A>(args)...));
  };
}

/// mode's label(x): a string as itself, else the service's label.
inline std::string label(const Service& s) {
  return s.label();
}
inline std::string label(std::string_view s) {
  return std::string{s};
}
/// mode's shortlabel(x).
inline std::string shortlabel(const Service& s) {
  return s.shortlabel();
}
inline std::string shortlabel(std::string_view s) {
  return std::string{s};
}

}  // namespace mode
