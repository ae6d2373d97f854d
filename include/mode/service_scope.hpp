// mode::ServiceScope: mode's `async with service:` for a C++ scope. What it holds is
// stopped when the scope ends, on every way out (return, exception, a failed REQUIRE),
// so that the caf::actor_system's destructor, which waits for every actor, never hangs
// on a service that is still running.
//
//   caf::actor_system sys{cfg};
//   mode::ServiceScope scope{sys};          // after the system: it ends first
//   auto poller = scope.spawn<Poller>();    // a ServiceHandle, stopped by ~ServiceScope
//   poller.start();
//   ...                                     // throw, return: poller stops either way
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "mode/service_handle.hpp"
#include "mode/times.hpp"

namespace caf {
class actor_system;
}  // namespace caf

namespace mode {

/// Stops the services it holds when it is destroyed, in the reverse order of adding
/// them, each bounded: a service that has not stopped within its bound is killed
/// (exit_reason::kill, which takes its children and the services its supervisors hold
/// with it) and logged at error on the "mode.scope" logger. The bound is the service's
/// shutdown_timeout (read when it is added) unless the scope sets one. The destructor
/// never throws; stop_all() does the same work and reports what failed.
///
/// Declare it after the actor system (so it is destroyed first) and make and destroy it
/// on a plain thread: made on an actor's thread it throws std::logic_error, as
/// ServiceHandle's blocking calls do. Not for CAF's test coordinator either (nothing
/// runs while it waits): there, the testing fixture's stop() is the way.
class ServiceScope {
 public:
  /// A scope on `sys`. `stop_timeout`: the bound for every service it holds (default:
  /// each service's own shutdown_timeout).
  explicit ServiceScope(caf::actor_system& sys, std::optional<Seconds> stop_timeout = std::nullopt);
  /// Stops what it holds (see the class comment). Never throws.
  ~ServiceScope();
  ServiceScope(const ServiceScope&) = delete;
  ServiceScope& operator=(const ServiceScope&) = delete;

  /// Hosts a new `S{args...}` on the scope's system (not started) and holds it.
  template <class S, class... Args>
  ServiceHandle spawn(Args&&... args) {
    return add(ServiceHandle{sys_, std::make_shared<S>(std::forward<Args>(args)...)});
  }
  /// Holds `handle` (a service made elsewhere, on the scope's system): it is stopped
  /// with the scope. Returns it. Throws std::invalid_argument for an empty handle.
  ServiceHandle add(ServiceHandle handle);

  /// Stops everything held now, as the destructor would, and lets go of it. Returns
  /// how many services had to be killed (0: each stopped in time).
  std::size_t stop_all() noexcept;

  /// The services held, in the order added.
  [[nodiscard]] const std::vector<ServiceHandle>& services() const noexcept { return held_; }

 private:
  caf::actor_system& sys_;
  std::optional<Seconds> stop_timeout_;
  std::vector<ServiceHandle> held_;
  std::vector<Seconds> bounds_;  // each held service's stop bound
};

}  // namespace mode
