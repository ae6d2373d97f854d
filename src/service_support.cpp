// The framework-neutral parts of Service: state, labels, diagnostics, tracebacks.
#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

#include <fmt/format.h>

#include "mode/detail/demangle.hpp"
#include "mode/service.hpp"

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

std::string describe_exception(const std::exception_ptr& error) {
  if (!error)
    return "no exception";
  try {
    std::rethrow_exception(error);
  } catch (const ServiceCrashed& e) {
    // Already a chain naming the services it went through.
    return e.what();
  } catch (const std::exception& e) {
    return detail::demangle(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    auto* type = abi::__cxa_current_exception_type();
    return type != nullptr ? detail::demangle(type->name()) : std::string{"unknown exception"};
  }
}

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

// -- labels and logging ------------------------------------------------------------------------

std::string Service::label() const {
  return detail::class_label(typeid(*this));
}

std::string Service::shortlabel() const {
  return label();
}

bool ServiceLog::enabled(spdlog::level::level_enum lvl) const {
  auto& lg = svc_.logger();
  return lg && lg->should_log(lvl);
}

void ServiceLog::write(spdlog::level::level_enum lvl, std::string_view msg) const {
  auto& lg = svc_.logger();
  if (!lg || !lg->should_log(lvl))
    return;
  auto dashes = svc_.depth() > 1 ? static_cast<std::size_t>(svc_.depth() - 1) : 0U;
  lg->log(lvl, "[^{}{}]: {}", std::string(dashes, '-'), svc_.shortlabel(), msg);
}

// -- diagnostics ---------------------------------------------------------------------------------

void Diag::set_flag(std::string_view flag) {
  flags_.emplace(flag);
  last_transition_.insert_or_assign(std::string{flag}, clock::now());
}

void Diag::unset_flag(std::string_view flag) {
  if (auto i = flags_.find(flag); i != flags_.end())
    flags_.erase(i);
  last_transition_.insert_or_assign(std::string{flag}, clock::now());
}

bool Diag::has_flag(std::string_view flag) const {
  return flags_.find(flag) != flags_.end();
}

std::optional<Diag::clock::time_point> Diag::last_transition(std::string_view flag) const {
  if (auto i = last_transition_.find(flag); i != last_transition_.end())
    return i->second;
  return std::nullopt;
}

}  // namespace mode
