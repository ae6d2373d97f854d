// The framework-neutral parts of Service: state, labels, diagnostics, tracebacks.
#include <cstdlib>
#include <memory>
#include <typeinfo>

#include <fmt/format.h>

#include "mode/detail/demangle.hpp"
#include "mode/detail/exception_cast.hpp"
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
  // Read in place: a rethrow to look at it would cost a second unwind per crash.
  if (!error)
    return "no exception";
  if (const auto* chain = detail::exception_ptr_cast<ServiceCrashed>(error))
    return chain->what();  // already a chain naming the services it went through
  const auto* type = detail::exception_type(error);
  if (type == nullptr)
    return "unknown exception";
  std::string text = detail::type_name(*type);
  if (const auto* e = detail::exception_ptr_cast<std::exception>(error)) {
    text += ": ";
    text += e->what();
  }
  return text;
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
