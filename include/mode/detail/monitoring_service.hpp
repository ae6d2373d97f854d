// The base of supervisors: services that hold other services on actors they monitor,
// and tell status pages and metrics what they hold.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "mode/detail/watching_service.hpp"
#include "mode/service.hpp"

namespace mode::detail {

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

class monitoring_service : public watching_service {
 public:
  /// The held services and the restart window. Only on this service's actor.
  [[nodiscard]] virtual supervision_info supervision() const = 0;
};

}  // namespace mode::detail
