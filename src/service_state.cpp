// mode's state strings for ServiceState.
#include "mode/service_state.hpp"

namespace mode {

std::string_view to_string(ServiceState state) noexcept {
  switch (state) {
    case ServiceState::init:
      return "init";
    case ServiceState::running:
      return "running";
    case ServiceState::stopping:
      return "stopping";
    case ServiceState::shutdown:
      return "shutdown";
    case ServiceState::crashed:
      return "crashed";
  }
  return "unknown";
}

}  // namespace mode
