// The base of services that monitor other actors (supervisors, a remote child): the
// actor layer hands them their down messages and tells them when their actor exits; a
// plain Service sees neither (those are CAF's concerns, not a mode user's).
#pragma once

#include "mode/service.hpp"

namespace caf {
struct down_msg;
class error;
}  // namespace caf

namespace mode::detail {

class service_actor;

class watching_service : public Service {
 public:
  watching_service() noexcept { monitors_ = true; }

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
