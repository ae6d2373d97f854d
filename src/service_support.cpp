// The framework-neutral parts of Service: its state and its default labels.
#include <typeinfo>

#include "mode/detail/demangle.hpp"
#include "mode/service.hpp"

namespace mode {

ServiceState Service::state() const noexcept {
  if (crashed_)
    return ServiceState::crashed;
  if (!started_)
    return ServiceState::init;
  if (!stopped_)
    return ServiceState::running;
  if (!shutdown_)
    return ServiceState::stopping;
  return ServiceState::shutdown;
}

// -- labels ------------------------------------------------------------------------------------

std::string Service::label() const {
  return detail::class_label(typeid(*this));
}

std::string Service::shortlabel() const {
  return label();
}

}  // namespace mode
