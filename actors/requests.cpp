// Requests made by code that waits for the reply: `co_await mode::request(...)` from a
// service's coroutine, and the typed errors every waiting call throws.
#include <fmt/format.h>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "mode/detail/demangle.hpp"
#include "mode/request.hpp"
#include "service_actor.hpp"

namespace mode::detail {

namespace {

template <class Policy>
bool is_worker_thread(caf::scheduler::abstract_coordinator& sched) {
  auto* coord = dynamic_cast<caf::scheduler::coordinator<Policy>*>(&sched);
  if (coord == nullptr)
    return false;
  auto me = std::this_thread::get_id();
  for (std::size_t i = 0; i < coord->num_workers(); ++i)
    if (coord->worker_by_id(i)->get_thread().get_id() == me)
      return true;
  return false;
}

}  // namespace

bool on_scheduler_thread(caf::actor_system& sys) noexcept {
  if (running_actor() != nullptr)
    return true;  // a service's actor (any scheduler, the testing one included)
  auto& sched = sys.scheduler();
  // CAF's test coordinator runs every actor on the test's thread, only when the test
  // says so: a blocking wait there would wait for nothing.
  if (dynamic_cast<caf::scheduler::test_coordinator*>(&sched) != nullptr)
    return true;
  return is_worker_thread<caf::policy::work_stealing>(sched) ||
         is_worker_thread<caf::policy::work_sharing>(sched);
}

[[noreturn]] void throw_request_error(const caf::error& err, std::string_view call,
                                      std::optional<std::chrono::nanoseconds> timeout) {
  if (err == caf::sec::request_timeout) {
    if (timeout)
      throw TimeoutError(fmt::format("mode: {} timed out after {}", call,
                                     to_string(Seconds{std::chrono::duration<double>(*timeout)})));
    throw TimeoutError(fmt::format("mode: {} timed out", call));
  }
  if (err == caf::sec::request_receiver_down)
    throw ServiceNotRunning(fmt::format("mode: {}: its actor is gone (stopped or crashed)", call));
  if (err == caf::sec::unexpected_message)
    throw RequestError(fmt::format("mode: {}: the receiver has no handler for this message", call));
  if (err.category() == error_category) {
    switch (static_cast<errc>(err.code())) {
      case errc::crashed:
        throw ServiceCrashed{error_text(err)};
      case errc::not_running:
        throw ServiceNotRunning(fmt::format("mode: {}: {}", call, error_text(err)));
      case errc::handler_failed:
        throw RequestError(fmt::format("mode: {}: {}", call, error_text(err)));
    }
  }
  throw RequestError(fmt::format("mode: {}: {}", call, caf::to_string(err)));
}

[[noreturn]] void throw_unexpected_reply(const caf::message& reply, const std::type_info& expected,
                                         std::string_view call) {
  throw RequestError(fmt::format("mode: {}: the reply {} is not a {}", call, caf::to_string(reply),
                                 type_name(expected)));
}

coro_host& require_service_host(const char* call) {
  auto* self = running_actor();
  if (self == nullptr)
    throw std::logic_error(
        fmt::format("mode: {} is awaited on a service's actor only (from its hooks, tasks and "
                    "handlers); from a plain thread use ServiceHandle::request",
                    call));
  return self->host();
}

message_request::message_request(caf::actor dest, caf::message msg, Seconds timeout,
                                 std::source_location where)
    : wait_awaiter(&require_service_host("mode::request"), std::nullopt, false, false,
                   "mode::request", where),
      dest_(std::move(dest)),
      msg_(std::move(msg)),
      timeout_(std::chrono::ceil<std::chrono::nanoseconds>(timeout.duration())) {
  if (!dest_)
    throw ServiceNotRunning("mode::request: the destination is an empty handle (no actor)");
  node_.context = this;
}

caf::event_based_actor& message_request::requester() const noexcept {
  return *static_cast<service_actor*>(host_->owner());
}

void message_request::finish(coro_host* host, std::uint64_t id, caf::error error) noexcept {
  if (auto* node = host->find(id)) {
    static_cast<message_request*>(node->context)->error_ = std::move(error);
    host->resume(id, wake_reason::fired);
  }
}

void message_request::throw_if_failed() {
  if (error_)
    throw_request_error(
        error_, fmt::format("request {} to actor #{}", caf::to_string(msg_), dest_.id()), timeout_);
}

}  // namespace mode::detail

namespace mode {

caf::actor actor_of(const Service& svc) {
  return svc.binding()->get();
}

}  // namespace mode
