// The framework-neutral parts of Service: state, labels, diagnostics, tracebacks.
#include <algorithm>
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

namespace {

template <class Entries>
auto find_flag(Entries& entries, std::string_view flag) {
  auto i = std::lower_bound(entries.begin(), entries.end(), flag,
                            [](const auto& e, std::string_view f) { return e.flag < f; });
  return i != entries.end() && i->flag == flag ? i : entries.end();
}

}  // namespace

Diag::entry& Diag::at(std::string_view flag) {
  auto i = std::lower_bound(entries_.begin(), entries_.end(), flag,
                            [](const entry& e, std::string_view f) { return e.flag < f; });
  if (i == entries_.end() || i->flag != flag)
    i = entries_.insert(i, entry{std::string{flag}, {}, false});
  return *i;
}

void Diag::set_flag(std::string_view flag) {
  auto& e = at(flag);
  e.set = true;
  e.last_transition = clock::now();
}

void Diag::unset_flag(std::string_view flag) {
  auto& e = at(flag);
  e.set = false;
  e.last_transition = clock::now();
}

bool Diag::has_flag(std::string_view flag) const {
  auto i = find_flag(entries_, flag);
  return i != entries_.end() && i->set;
}

std::vector<std::string> Diag::flags() const {
  std::vector<std::string> result;
  for (const auto& e : entries_)
    if (e.set)
      result.push_back(e.flag);
  return result;
}

std::optional<Diag::clock::time_point> Diag::last_transition(std::string_view flag) const {
  if (auto i = find_flag(entries_, flag); i != entries_.end())
    return i->last_transition;
  return std::nullopt;
}

}  // namespace mode
