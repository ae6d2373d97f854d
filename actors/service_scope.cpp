// ServiceScope: stops what it holds at the end of a scope, killing what does not stop
// within its bound, so that the actor system's destructor has nothing left to wait for.
#include "mode/service_scope.hpp"

#include <stdexcept>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "mode/errors.hpp"
#include "mode/logging.hpp"
#include "service_actor.hpp"

namespace mode {

namespace {

/// How long a killed service's actor gets to go: it goes at its next message unless
/// user code blocks its thread.
constexpr std::chrono::seconds kill_grace{5};

}  // namespace

ServiceScope::ServiceScope(caf::actor_system& sys, std::optional<Seconds> stop_timeout)
    : sys_(sys), stop_timeout_(stop_timeout) {
  if (detail::on_scheduler_thread(sys))
    throw std::logic_error(
        "mode::ServiceScope was made on an actor's thread (or on CAF's test coordinator), "
        "where its blocking stop would wait for nothing; make it on a plain thread (on "
        "virtual time, stop services with the testing fixture's stop())");
  if (stop_timeout && stop_timeout->count() < 0)
    throw std::invalid_argument("mode::ServiceScope: a negative stop_timeout: " +
                                to_string(*stop_timeout));
}

ServiceScope::~ServiceScope() {
  stop_all();
}

ServiceHandle ServiceScope::add(ServiceHandle handle) {
  if (!handle)
    throw std::invalid_argument("mode::ServiceScope::add: an empty ServiceHandle");
  if (auto a = handle.actor(); a && &a->home_system() != &sys_)
    throw std::invalid_argument("mode::ServiceScope::add: " + handle.label() +
                                " runs on another actor system than the scope's");
  bounds_.reserve(bounds_.size() + 1);
  held_.push_back(handle);
  bounds_.push_back(stop_timeout_.value_or(Seconds{handle.service()->shutdown_timeout}));
  return handle;
}

std::size_t ServiceScope::stop_all() noexcept {
  std::size_t killed = 0;
  while (!held_.empty()) {
    auto handle = std::move(held_.back());
    auto bound = bounds_.back();
    held_.pop_back();
    bounds_.pop_back();
    try {
      try {
        handle.stop(bound);
        continue;
      } catch (const TimeoutError&) {
        get_logger("mode.scope")
            ->error("Timed out stopping {} after {}: killing it", handle.label(), to_string(bound));
      } catch (const std::exception& e) {
        get_logger("mode.scope")
            ->error("Error stopping {}: {}: killing it", handle.label(), e.what());
      }
      ++killed;
      if (auto a = handle.actor())
        caf::anon_send_exit(a, caf::exit_reason::kill);
      if (!handle.wait_until_stopped(kill_grace))
        get_logger("mode.scope")
            ->error(
                "{} is still running {} after it was killed (its thread is blocked?): the "
                "actor system's destructor will wait for it",
                handle.label(), to_string(Seconds{kill_grace}));
    } catch (...) {
      // Logging or a last wait failed: nothing more can be done from a destructor.
    }
  }
  return killed;
}

}  // namespace mode
