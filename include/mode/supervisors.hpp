// mode's supervisors: services that hold other services and restart them when they
// crash (mode/supervisors.py, naming from Erlang/OTP).
//
// A supervisor is a Service on its own actor. Every service it holds runs on an actor
// of its own that the supervisor spawns and MONITORS (not links): a crash of a held
// service ends that actor, the supervisor receives the down message at once (no
// polling) and applies its strategy:
//
//   strategy                   on a crash of one held service
//   -------------------------  ------------------------------------------------------
//   OneForOneSupervisor        restart the crashed one
//   OneForAllSupervisor        stop all (at once), then restart all, in order
//   ForfeitOneForOneSupervisor stop the crashed one and give up on it
//   ForfeitOneForAllSupervisor stop all and give up on all of them
//   CrashingSupervisor         do not contain it: the supervisor crashes with the same
//                              reason, which travels to whoever is above
//
// A held service is a slot with a spec: by default the same Service object, reset and
// started again on a fresh actor after a crash; or a factory (add(ServiceFactory))
// that builds a new object for every restart; or, for one restart, the supervisor's
// `replacement(service, index)` (mode's). restart_count carries over either way.
//
// Restarts are limited as Erlang/OTP limits them: more than max_restarts restarts
// within any window of `over` seconds (on the actor clock, so virtual time in tests)
// fail the supervisor with MaxRestartsExceeded (or what `raises` makes); the failure
// is a crash of the supervisor, which travels to its parent or its own supervisor,
// and at the top makes the Worker exit non-zero. (Fix vs mode, whose token bucket
// swapped the two numbers: see mode/restart_limiter.hpp.)
//
// Log lines (logger "mode.supervisors", prefixed with the supervisor's shortlabel):
//   info      Restarting dead <service>! Last crash reason: <service <- child <- what()>
//   warning   Max restarts exceeded: <message>
//   critical  Giving up on crashed services: <service>, ...
//   critical  Giving up on all services in group because <service>, ... crashed
//
// Threading: configure (add, discard, insert, settings) before start, from any one
// thread; once started, call the supervisor only from its own actor (its hooks and
// tasks, or a subclass's). wakeup() may be called from any thread.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mode/detail/monitoring_service.hpp"
#include "mode/errors.hpp"
#include "mode/restart_limiter.hpp"
#include "mode/service.hpp"
#include "mode/service_handle.hpp"
#include "mode/task.hpp"
#include "mode/times.hpp"

namespace mode {

/// mode.exceptions.MaxRestartsExceeded: a supervisor restarted its services more than
/// max_restarts times within `over` seconds. what() names the limit and the last
/// crash, e.g. `more than 3 restarts within 1s; last crash: Z <- std::runtime_error:
/// boom`.
class MaxRestartsExceeded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Builds the service for a slot: called at add() and again for every restart.
using ServiceFactory = std::function<std::shared_ptr<Service>()>;

/// mode's `replacement(service, index)`: builds the service that replaces a crashed
/// `service` at slot `index`; runs on the supervisor's actor and may co_await.
using ReplacementFn = std::function<task<std::shared_ptr<Service>>(std::shared_ptr<Service> service,
                                                                   std::size_t index)>;

/// A supervisor's settings (mode's keyword arguments).
struct SupervisorOptions {
  /// mode's max_restarts: at most this many restarts within any `over` seconds
  /// (Erlang's intensity). Default 100.0. A fraction allows its floor. std::nullopt
  /// turns the limit off.
  std::optional<Seconds> max_restarts = Seconds{100.0};
  /// mode's over: the window of the limit (Erlang's period). Default 1.0 s; must be
  /// > 0.
  Seconds over = Seconds{1.0};
  /// mode's raises: what the supervisor fails with when the limit is exceeded.
  /// Default (empty): MaxRestartsExceeded.
  RaisesFactory raises{};
  /// mode's replacement: when set, a crashed service is replaced by what this returns
  /// instead of being restarted. Default: none.
  ReplacementFn replacement{};
  /// How long the supervisor waits for one held service to stop (at its own stop,
  /// and in stop_services) before it kills that service's actor. Default 60 s
  /// (mode waits forever).
  Seconds stop_timeout = Seconds{60.0};
};

/// mode's SupervisorStrategyT: the interface of every supervisor.
class SupervisorStrategyT : public detail::monitoring_service {
 public:
  // -- settings -------------------------------------------------------------------------

  /// mode's max_restarts (+inf when the limit is off).
  [[nodiscard]] virtual double max_restarts() const noexcept = 0;
  /// mode's over, in seconds (0 when the limit is off).
  [[nodiscard]] virtual double over() const noexcept = 0;

  // -- held services --------------------------------------------------------------------

  /// Holds `service` in a new slot (index = position); starts it at once if the
  /// supervisor runs.
  virtual void add(std::shared_ptr<Service> service) = 0;
  /// Stops holding `service` (stopping it if it runs).
  virtual void discard(const std::shared_ptr<Service>& service) = 0;
  /// mode's service_operational: whether a held service whose actor went down without
  /// an error counts as still fine (then it is not restarted).
  [[nodiscard]] virtual bool service_operational(const Service& service) const = 0;
  /// Restarts one held service (or replaces it); resumes once it started.
  virtual task<void> restart_service(std::shared_ptr<Service> service) = 0;
  /// Makes the supervisor look at its services now: restart crashed ones, start
  /// those not started. Thread-safe.
  virtual void wakeup() = 0;
};

/// mode's SupervisorStrategy: the base of the strategies. By itself it restarts each
/// crashed service (as OneForOneSupervisor). Subclasses change restart_services().
class SupervisorStrategy : public SupervisorStrategyT {
 public:
  /// A supervisor holding nothing yet. Throws std::invalid_argument for a negative or
  /// NaN max_restarts or a non-positive `over` (naming the value).
  explicit SupervisorStrategy(SupervisorOptions options = {});
  /// A supervisor holding `services` (mode's `*services`).
  explicit SupervisorStrategy(std::vector<std::shared_ptr<Service>> services,
                              SupervisorOptions options = {});
  /// If the services it started still run (its stop never ran: its actor was killed),
  /// asks each of them to exit.
  ~SupervisorStrategy() override;

  // -- settings -------------------------------------------------------------------------

  /// mode's max_restarts (SupervisorOptions::max_restarts); +inf when the limit is off.
  [[nodiscard]] double max_restarts() const noexcept override;
  /// mode's over in seconds (SupervisorOptions::over); 0 when the limit is off.
  [[nodiscard]] double over() const noexcept override;
  /// mode's raises (never empty: MaxRestartsExceeded unless set).
  [[nodiscard]] const RaisesFactory& raises() const noexcept { return raises_; }
  /// mode's replacement (see SupervisorOptions). Default: none.
  ReplacementFn replacement;
  /// Deadline for one held service to stop (see SupervisorOptions). Default 60 s.
  Seconds stop_timeout{60.0};

  // -- held services --------------------------------------------------------------------

  /// Holds `service` in a new slot (its index is the position) and sets its
  /// `supervisor` (not in CrashingSupervisor); starts it at once if the supervisor
  /// runs. Throws std::invalid_argument for nullptr, a service already held, or one
  /// that another supervisor holds.
  void add(std::shared_ptr<Service> service) override;
  /// A handle on the service in slot `index`, for ServiceHandle's calls from any thread
  /// (see mode::handle_of for what they do while it has no actor). It names the slot:
  /// it follows restarts onto fresh actors and onto the fresh objects a factory or
  /// `replacement` makes, and throws ServiceNotRunning once the slot is discarded or the
  /// supervisor is gone. Thread-safe. Throws std::out_of_range for an index not held.
  [[nodiscard]] ServiceHandle handle(std::size_t index) const;
  /// handle() for the first held service whose label is `label` (as ServiceHandle's
  /// label(): read at its spawn). Throws std::out_of_range if none has it.
  [[nodiscard]] ServiceHandle handle(std::string_view label) const;
  /// Holds every one of `services`, in order (mode's add(*services)).
  template <class... Ss>
  void add(std::shared_ptr<Ss>... services) {
    (add(std::shared_ptr<Service>{std::move(services)}), ...);
  }
  /// Holds a service built by `factory` now and rebuilt by it for every restart
  /// (restart_count carried over). The Erlang-style child spec.
  void add(ServiceFactory factory);
  /// Stops holding `service`: clears its `supervisor` and, if it runs, stops it (only
  /// the supervisor knows its actor). Not held: does nothing.
  void discard(const std::shared_ptr<Service>& service) override;
  /// Stops holding every one of `services`, in order (mode's discard(*services)).
  template <class... Ss>
  requires(sizeof...(Ss) > 1) void discard(const std::shared_ptr<Ss>&... services) {
    (discard(std::shared_ptr<Service>{services}), ...);
  }
  /// Replaces the service at slot `index` (stopping the old one if it runs). Throws
  /// std::out_of_range naming the index if there is no such slot, and
  /// std::invalid_argument as add() does.
  void insert(std::size_t index, std::shared_ptr<Service> service);
  /// The held services, by slot index.
  [[nodiscard]] std::vector<std::shared_ptr<Service>> services() const;
  /// The slot index of `service`, if held.
  [[nodiscard]] std::optional<std::size_t> index_of(const Service& service) const noexcept;
  /// Default: `!service.crashed()`.
  [[nodiscard]] bool service_operational(const Service& service) const override;

  // -- strategy (mode's coroutines; run on the supervisor's actor) ----------------------

  /// Starts each service (spawning its actor if needed), in order, each after the
  /// previous one started. A service that fails to start has crashed: its restart
  /// follows from its down message.
  virtual task<void> start_services(std::vector<std::shared_ptr<Service>> services);
  /// Starts one held service and resumes once it started (mode's start_service).
  task<void> start_service(std::shared_ptr<Service> service);
  /// The strategy: what to do about these crashed services. Default: restart each, one
  /// after another (mode's), resuming once the last one started.
  virtual task<void> restart_services(std::vector<std::shared_ptr<Service>> services);
  /// Stops the services at once and resumes when all stopped; one that does not stop
  /// within stop_timeout has its actor killed (logged).
  virtual task<void> stop_services(std::vector<std::shared_ptr<Service>> services);
  /// Logs "Restarting dead ...", takes a token from the restart limit (failing the
  /// supervisor when there is none), then restarts `service` on its actor, or on a
  /// fresh one if it crashed, or replaces it (replacement or factory); resumes once it
  /// started.
  task<void> restart_service(std::shared_ptr<Service> service) override;
  /// mode's run_until_complete: start(), then stop(); resumes once stopped. Await it
  /// from this supervisor's own coroutines, or from another service's coroutine (the
  /// supervisor then runs on its own actor, spawned below that service if it has none).
  /// Throws ServiceCrashed if the supervisor failed to start.
  task<void> run_until_complete();
  /// mode's wakeup(): look at the services now (restart crashed ones, start those not
  /// started). Thread-safe: from another thread it is a message to the supervisor.
  void wakeup() override;

  // -- labels ----------------------------------------------------------------------------

  /// mode's label: `<Class>: (<number of services>@<address>)`.
  [[nodiscard]] std::string label() const override;
  /// mode's shortlabel (log prefix): the class name.
  [[nodiscard]] std::string shortlabel() const override;

  // -- lifecycle hooks -------------------------------------------------------------------

  /// Resets the restart history and starts every held service.
  task<void> on_start() override;
  /// Stops every held service, in reverse order, each within stop_timeout.
  task<void> on_stop() override;

 protected:
  // -- the actor layer's hooks (detail::monitoring_service) -------------------------------

  /// Reacts to a held service's actor going down: matched to the slot's current actor
  /// (a stale message is ignored), then the strategy runs.
  void on_down_message(const caf::down_msg& msg) override;
  /// Lets go of the held services' actors: the supervisor object may outlive its actor
  /// (a Worker holds it), and the actor system waits for every referenced actor.
  void on_actor_exit(const caf::error& failure) noexcept override;

 public:
  /// The held services and the restart window, for status pages and metrics. Only on
  /// this supervisor's actor (the actor layer's introspection asks it there).
  [[nodiscard]] detail::supervision_info supervision() const override;

 protected:
  /// Selects the constructor of CrashingSupervisor.
  struct crashing_tag {};
  /// For CrashingSupervisor: held services keep `supervisor` unset.
  SupervisorStrategy(crashing_tag, std::vector<std::shared_ptr<Service>> services,
                     SupervisorOptions options);

  /// True for CrashingSupervisor: a crash of a held service crashes the supervisor.
  [[nodiscard]] bool propagates_crashes() const noexcept { return !contain_; }

  /// Gives up on `services`: they are not restarted (nor started by wakeup()) until
  /// the supervisor itself starts again. For Forfeit-style strategies.
  void forfeit(const std::vector<std::shared_ptr<Service>>& services);

  /// Like stop_services, for services that restart_service restarts right after: their
  /// actors stay (a stop for good would end them, and the restart spawn new ones).
  task<void> stop_for_restart(std::vector<std::shared_ptr<Service>> services);

 private:
  struct impl;
  task<void> stop_slots(std::vector<std::shared_ptr<Service>> services, bool for_good);
  task<void> supervise();
  void wake_loop(bool now);
  void fail_max_restarts(const std::string& last_crash);

  bool contain_ = true;
  RaisesFactory raises_;
  std::unique_ptr<impl> state_;
};

/// mode's OneForOneSupervisor: restarts the crashed service.
class OneForOneSupervisor : public SupervisorStrategy {
 public:
  using SupervisorStrategy::SupervisorStrategy;
};

/// mode's OneForAllSupervisor: when any service crashed, stops all of them (at once),
/// then restarts all, in order.
class OneForAllSupervisor : public SupervisorStrategy {
 public:
  using SupervisorStrategy::SupervisorStrategy;
  /// The strategy (see the class comment); nothing to do for an empty list.
  task<void> restart_services(std::vector<std::shared_ptr<Service>> services) override;
};

/// mode's ForfeitOneForOneSupervisor: stops the crashed service and never restarts it.
class ForfeitOneForOneSupervisor : public SupervisorStrategy {
 public:
  using SupervisorStrategy::SupervisorStrategy;
  /// The strategy (see the class comment); nothing to do for an empty list.
  task<void> restart_services(std::vector<std::shared_ptr<Service>> services) override;
};

/// mode's ForfeitOneForAllSupervisor: when one service crashed, stops all and gives
/// up on all of them.
class ForfeitOneForAllSupervisor : public SupervisorStrategy {
 public:
  using SupervisorStrategy::SupervisorStrategy;
  /// The strategy (see the class comment); nothing to do for an empty list.
  task<void> restart_services(std::vector<std::shared_ptr<Service>> services) override;
};

/// mode's CrashingSupervisor: contains nothing. Held services keep `supervisor` unset;
/// a crash of one crashes the supervisor with that reason (the chain grows by the
/// supervisor's label), which travels on to the supervisor's parent or supervisor.
class CrashingSupervisor : public SupervisorStrategy {
 public:
  explicit CrashingSupervisor(SupervisorOptions options = {})
      : SupervisorStrategy(crashing_tag{}, {}, std::move(options)) {}
  explicit CrashingSupervisor(std::vector<std::shared_ptr<Service>> services,
                              SupervisorOptions options = {})
      : SupervisorStrategy(crashing_tag{}, std::move(services), std::move(options)) {}
};

}  // namespace mode
