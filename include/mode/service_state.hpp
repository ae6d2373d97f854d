// mode::ServiceState: where a service is in its lifecycle, as mode's Service.state strings.
#pragma once

#include <cstdint>
#include <string_view>

namespace mode {

/// A service's state, as mode's `Service.state` strings.
enum class ServiceState : std::uint8_t {
  init,      ///< not started
  running,   ///< started, not stopped
  stopping,  ///< stop() in progress
  shutdown,  ///< stopped
  crashed,   ///< crashed (a hook or task threw, or crash() was called)
};

/// mode's state string: "init", "running", "stopping", "shutdown" or "crashed".
std::string_view to_string(ServiceState state) noexcept;

}  // namespace mode
