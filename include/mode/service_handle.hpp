// mode::ServiceHandle: how code outside a service's actor (main, tests, other
// threads) starts, stops, restarts, crashes, inspects and waits for a service.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <caf/message.hpp>

#include "mode/detail/reply.hpp"
#include "mode/service.hpp"
#include "mode/times.hpp"

namespace caf {
class actor;
class actor_system;
}  // namespace caf

namespace mode {

namespace detail {
class held_slot;
struct handle_access;
}  // namespace detail

/// A thread-safe handle on a Service hosted by its own actor. Every call is a message
/// to that actor; the blocking calls wait for its answer (up to a timeout).
///
/// Blocking calls are for plain threads (main, tests, your own threads). Made on a
/// thread of the actor system's scheduler (a service's hook or task, a plain CAF
/// actor's handler) they would block that thread, and with it other actors: they
/// throw std::logic_error at once instead, naming the call and its awaitable or
/// asynchronous form (async_start, async_stop, send_*, mode::request).
///
/// Errors (mode/errors.hpp): TimeoutError when the answer did not come within the
/// timeout; ServiceCrashed when start or restart crashed; RequestError and
/// ServiceNotRunning from request().
///
/// A service whose actor exited (after a crash or a stop for good) is spawned again
/// (same object, reset) by start() and restart().
///
/// A handle does not stop its service when it is destroyed (copies share it, and a
/// service may outlive them all). Stop it before its caf::actor_system is destroyed:
/// that destructor waits for every actor, so a service still running there (after an
/// exception, a failed test assertion) hangs the process. A mode::ServiceScope
/// (mode/service_scope.hpp) stops the handles it holds on every way out of a scope.
class ServiceHandle {
 public:
  /// How long a blocking call waits for the service's answer by default.
  static constexpr std::chrono::seconds default_timeout{60};

  ServiceHandle() = default;
  /// Hosts `svc` on a new actor of `sys`; the service is not started.
  ServiceHandle(caf::actor_system& sys, std::shared_ptr<Service> svc);
  ~ServiceHandle();
  ServiceHandle(const ServiceHandle&);
  ServiceHandle& operator=(const ServiceHandle&);
  ServiceHandle(ServiceHandle&&) noexcept;
  ServiceHandle& operator=(ServiceHandle&&) noexcept;

  // -- blocking calls (not from an actor) -------------------------------------------

  /// Starts the service (on a fresh actor if its actor is gone); throws ServiceCrashed
  /// if it crashed while starting, TimeoutError if it did not start within `timeout`.
  /// Returns when the start sequence ended: for a service made with from_awaitable,
  /// once its whole coroutine ended (use send_start() to go on at once).
  void start(Seconds timeout = default_timeout) const;
  /// Stops the service and waits until its stop sequence finished. A service whose
  /// actor is gone (crashed, or stopped for good) counts as stopped. Throws
  /// TimeoutError.
  void stop(Seconds timeout = default_timeout) const;
  /// Restarts the service (stop, reset, on_restart, start), on a fresh actor if its
  /// actor is gone. Throws ServiceCrashed if the new start crashed, TimeoutError.
  void restart(Seconds timeout = default_timeout) const;
  /// Crashes the service with a std::runtime_error-like reason (asynchronous).
  void crash(std::string reason) const;
  /// The service's state (crashed after its actor exited with a crash; read from the
  /// object once its actor is gone). Throws TimeoutError.
  [[nodiscard]] ServiceState state(Seconds timeout = default_timeout) const;
  /// Waits until the service's stop sequence finished (after stop or a crash);
  /// returns false if `timeout` passed first (no exception). No timeout: waits as long
  /// as it takes.
  bool wait_until_stopped(std::optional<Seconds> timeout = std::nullopt) const;
  /// The service's human_tracebacks(), fetched from its actor. Throws TimeoutError,
  /// ServiceNotRunning if its actor is gone.
  [[nodiscard]] std::string human_tracebacks(Seconds timeout = default_timeout) const;
  /// Sends `xs...` to the service's message handlers (Service::add_handler) and waits
  /// for the reply, read as R (void: an empty reply, as a void handler gives;
  /// caf::message: whole; std::tuple: several elements). Throws TimeoutError, ServiceNotRunning
  /// (not running, or its actor gone), RequestError (the handler threw, no handler takes the
  /// message, or the reply is not an R).
  template <class R = void, class... Ts>
  R request(Seconds timeout, Ts&&... xs) const {
    static_assert(sizeof...(Ts) > 0, "mode::ServiceHandle::request: no message to send");
    auto reply = request_message(caf::make_message(std::forward<Ts>(xs)...), timeout);
    return detail::reply_as<R>(reply, "ServiceHandle::request");
  }
  /// request() with the message already built; returns the reply as it came.
  caf::message request_message(caf::message msg, Seconds timeout = default_timeout) const;

  // -- asynchronous calls (from anywhere; nothing waits for the answer) ----------------

  /// Asks the service to start (spawning a new actor if its actor exited).
  void send_start() const;
  /// Asks the service to stop.
  void send_stop() const;
  /// Asks the service to restart.
  void send_restart() const;

  // -- awaitable calls (from another service's coroutine) -----------------------------

  /// Starts the service and resumes when it started.
  task<void> async_start() const;
  /// Stops the service and resumes when it stopped.
  task<void> async_stop() const;

  // -- observers ---------------------------------------------------------------------

  /// The service object (for a handle on a supervisor's slot, the one the slot holds
  /// now). Touch its state only from its own actor. Throws ServiceNotRunning once the
  /// slot is gone.
  [[nodiscard]] std::shared_ptr<Service> service() const;
  /// The service's label(), read when its actor was spawned, before it ran (so safe from
  /// any thread; Service::label() itself may read state the service's actor writes).
  [[nodiscard]] const std::string& label() const noexcept;
  /// The actor hosting the service now.
  [[nodiscard]] caf::actor actor() const;
  /// True if this handle refers to a service.
  explicit operator bool() const noexcept { return static_cast<bool>(impl_); }

 private:
  friend struct detail::handle_access;
  struct impl;
  std::shared_ptr<impl> impl_;
};

/// A handle on a service that another one runs: a child (add_dependency) or a service
/// a supervisor holds, for the calls above from any thread. It follows the object
/// across restarts on fresh actors. It never spawns an actor of its own (that one
/// would run unwatched): while the service has no actor (before its parent starts it,
/// between a crash and its restart, after a stop for good), stop() and
/// wait_until_stopped() return at once, state() reads the object, crash() does
/// nothing, and start(), restart(), request() and human_tracebacks() throw
/// ServiceNotRunning. Throws std::invalid_argument for nullptr. For a supervisor's
/// slot, whose object a factory or replacement may change, use the supervisor's
/// handle(index) or handle(label).
[[nodiscard]] ServiceHandle handle_of(const std::shared_ptr<Service>& service);

/// handle_of() for child number `index` of `parent` (in the order added, as
/// parent.children()), from any thread. Throws std::out_of_range naming the index and
/// how many children `parent` has.
[[nodiscard]] ServiceHandle child_handle(const Service& parent, std::size_t index);
/// handle_of() for the first child of `parent` whose label is `label` (as ServiceHandle's
/// label(): read at its spawn). Throws std::out_of_range if none has it.
[[nodiscard]] ServiceHandle child_handle(const Service& parent, std::string_view label);

/// Hosts a new `S{args...}` on its own actor in `sys` and returns its handle.
template <class S, class... Args>
ServiceHandle spawn(caf::actor_system& sys, Args&&... args) {
  return ServiceHandle{sys, std::make_shared<S>(std::forward<Args>(args)...)};
}

}  // namespace mode
