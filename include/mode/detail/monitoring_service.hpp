// The base of services that monitor other actors: supervisors. The actor layer hands
// them their down messages and tells them when their actor exits; a plain Service sees
// neither (those are CAF's concerns, not a mode user's).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "mode/service.hpp"

namespace caf {
struct down_msg;
class error;
}  // namespace caf

namespace mode::detail {

class service_actor;

/// One service a supervisor holds, as its status shows it.
struct held_service_info {
  std::shared_ptr<Service> service;
  caf::actor actor;           ///< empty while it has no actor (down, or not started)
  std::uint64_t crashes = 0;  ///< times its actor went down with an error
  std::string last_crash;     ///< the chain of the last of them ("" if none)
};

/// What a supervisor knows of its services and its restart window.
struct supervision_info {
  std::vector<held_service_info> held;
  std::size_t restarts_in_window = 0;
  double max_restarts = 0;  ///< +inf: unlimited
  double window_s = 0;
};

class monitoring_service : public Service {
 public:
  monitoring_service() noexcept { monitors_ = true; }

  /// The held services and the restart window. Only on this service's actor.
  [[nodiscard]] virtual supervision_info supervision() const = 0;

 protected:
  /// A monitored actor went down.
  virtual void on_down_message(const caf::down_msg& msg) = 0;
  /// This service's actor is exiting: drop every strong reference to other actors it
  /// holds (the actor system waits for every actor still referenced). `failure`: the
  /// exit reason if the actor failed (killed, or crashed), else empty.
  virtual void on_actor_exit(const caf::error& failure) noexcept = 0;

 private:
  friend class service_actor;
};

}  // namespace mode::detail
