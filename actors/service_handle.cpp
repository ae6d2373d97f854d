#include "mode/service_handle.hpp"

#include <mutex>
#include <stdexcept>

#include <fmt/format.h>
#include <caf/others.hpp>

#include "held_slot.hpp"
#include "service_actor.hpp"

namespace mode {

using namespace detail;

struct ServiceHandle::impl {
  /// An owning handle's system; an attached one reads its actor's.
  caf::actor_system* sys = nullptr;
  /// The service (a handle on a supervisor's slot: the object it was made for).
  std::shared_ptr<Service> svc;
  /// Set for a handle on a supervisor's slot: the object the slot holds now.
  std::shared_ptr<held_slot> slot;
  /// Follows a service that another one runs (a child, a held service): never spawns
  /// an actor for it, since that one would run unwatched by its parent or supervisor.
  bool attached = false;
  std::string label;  // read once, before the service's actor runs
  mutable std::mutex mtx;
  caf::actor hdl;  // an owning handle's: the actor it spawned last

  /// The service object now (throws ServiceNotRunning once its slot is gone).
  std::shared_ptr<Service> object() const { return slot ? slot->current(label) : svc; }

  /// The service's actor now; an attached handle's is empty while it has none.
  caf::actor current() const {
    if (attached)
      return object()->binding()->get();
    std::lock_guard<std::mutex> guard{mtx};
    return hdl;
  }

  /// The actor to send a call to: an attached handle throws ServiceNotRunning if its
  /// service has none now; an owning handle's (perhaps exited) last one.
  caf::actor existing() const {
    auto a = current();
    if (!a)
      throw ServiceNotRunning(fmt::format(
          "mode: {} has no actor now: the service that holds it (its parent or supervisor) "
          "starts it",
          label));
    return a;
  }

  /// The live actor: as existing(), but an owning handle spawns a new one for the same
  /// service if the old one exited.
  caf::actor live() {
    if (attached)
      return existing();
    std::lock_guard<std::mutex> guard{mtx};
    if (!svc->binding()->get())
      hdl = service_actor::spawn(*sys, svc, 1, {});
    return hdl;
  }

  /// A blocking call may not run on a scheduler thread: it would block that thread.
  void require_plain_thread(const char* call, const char* instead) const {
    bool blocked = running_actor() != nullptr;
    if (!blocked) {
      auto a = attached ? current() : caf::actor{};
      if (auto* system = attached ? (a ? &a->home_system() : nullptr) : sys)
        blocked = on_scheduler_thread(*system);
    }
    if (blocked)
      throw std::logic_error(fmt::format(
          "mode: ServiceHandle::{} on {} was called on an actor's thread, where it would block "
          "the scheduler; use {} instead",
          call, label, instead));
  }

  std::string call_name(const char* call) const { return fmt::format("{}.{}()", label, call); }
};

namespace {

std::chrono::milliseconds to_ms(const Seconds& s) {
  return std::chrono::ceil<std::chrono::milliseconds>(s.duration());
}

[[noreturn]] void fail(const std::string& what, const caf::error& err,
                       std::optional<Seconds> timeout) {
  std::optional<std::chrono::nanoseconds> ns;
  if (timeout)
    ns = std::chrono::ceil<std::chrono::nanoseconds>(timeout->duration());
  throw_request_error(err, what, ns);
}

void call(caf::actor_system& sys, const caf::actor& dest, caf::message msg, const Seconds& timeout,
          const std::string& what) {
  caf::scoped_actor self{sys};
  caf::error failure;
  self->request(dest, to_ms(timeout), std::move(msg))
      .receive([] {}, [&](caf::error& err) { failure = std::move(err); });
  if (failure)
    fail(what, failure, timeout);
}

}  // namespace

ServiceHandle::ServiceHandle(caf::actor_system& sys, std::shared_ptr<Service> svc)
    : impl_(std::make_shared<impl>()) {
  if (!svc)
    throw std::invalid_argument("mode::ServiceHandle: null service");
  impl_->sys = &sys;
  impl_->svc = std::move(svc);
  impl_->hdl = service_actor::spawn(sys, impl_->svc, 1, {});
  impl_->label = detail::label_of(*impl_->svc);
}

ServiceHandle::~ServiceHandle() = default;
ServiceHandle::ServiceHandle(const ServiceHandle&) = default;
ServiceHandle& ServiceHandle::operator=(const ServiceHandle&) = default;
ServiceHandle::ServiceHandle(ServiceHandle&&) noexcept = default;
ServiceHandle& ServiceHandle::operator=(ServiceHandle&&) noexcept = default;

ServiceHandle detail::handle_access::attach(std::shared_ptr<Service> svc,
                                            std::shared_ptr<held_slot> slot) {
  ServiceHandle h;
  h.impl_ = std::make_shared<ServiceHandle::impl>();
  h.impl_->label = detail::label_of(*svc);
  h.impl_->svc = std::move(svc);
  h.impl_->slot = std::move(slot);
  h.impl_->attached = true;
  return h;
}

ServiceHandle handle_of(const std::shared_ptr<Service>& service) {
  if (!service)
    throw std::invalid_argument("mode::handle_of(nullptr)");
  return detail::handle_access::attach(service, nullptr);
}

namespace {

/// A copy of parent.children(), read under the lock their writer takes.
std::vector<std::shared_ptr<Service>> children_of(const Service& parent) {
  std::lock_guard<std::mutex> guard{parent.binding()->mtx};
  return parent.children();
}

}  // namespace

ServiceHandle child_handle(const Service& parent, std::size_t index) {
  auto children = children_of(parent);
  if (index >= children.size())
    throw std::out_of_range(fmt::format("mode::child_handle: {} has no child #{} (it has {})",
                                        detail::label_of(parent), index, children.size()));
  return handle_of(children[index]);
}

ServiceHandle child_handle(const Service& parent, std::string_view label) {
  for (auto& child : children_of(parent))
    if (detail::label_of(*child) == label)
      return handle_of(child);
  throw std::out_of_range(fmt::format("mode::child_handle: {} has no child labelled \"{}\"",
                                      detail::label_of(parent), label));
}

void ServiceHandle::start(Seconds timeout) const {
  impl_->require_plain_thread("start()", "co_await async_start() or send_start()");
  auto hdl = impl_->live();
  call(hdl->home_system(), hdl, caf::make_message(start_atom::value, true), timeout,
       impl_->call_name("start"));
}

void ServiceHandle::stop(Seconds timeout) const {
  impl_->require_plain_thread("stop()", "co_await async_stop() or send_stop()");
  auto hdl = impl_->current();
  if (!hdl)
    return;  // attached, and no actor: stopped
  caf::scoped_actor self{hdl->home_system()};
  caf::error failure;
  self->request(hdl, to_ms(timeout), stop_atom::value)
      .receive([] {}, [&](caf::error& err) { failure = std::move(err); });
  // A service whose actor already exited (after a crash) is stopped.
  if (failure && failure != caf::sec::request_receiver_down)
    fail(impl_->call_name("stop"), failure, timeout);
}

void ServiceHandle::restart(Seconds timeout) const {
  impl_->require_plain_thread("restart()", "send_restart()");
  if (!impl_->attached && !impl_->svc->binding()->get()) {
    // The actor exited after a crash: a new actor resets the service and starts it.
    start(timeout);
    return;
  }
  auto hdl = impl_->existing();
  call(hdl->home_system(), hdl, caf::make_message(restart_atom::value), timeout,
       impl_->call_name("restart"));
}

void ServiceHandle::crash(std::string reason) const {
  // No actor (between a crash and its restart): nothing runs that could crash.
  if (auto hdl = impl_->current())
    caf::anon_send(hdl, crash_atom::value, std::move(reason));
}

ServiceState ServiceHandle::state(Seconds timeout) const {
  impl_->require_plain_thread("state()", "the service's own state() on its actor");
  auto object = impl_->object();
  auto hdl = impl_->current();
  if (!hdl)
    return object->state();  // attached, no actor: nothing else touches the object
  caf::scoped_actor self{hdl->home_system()};
  std::optional<ServiceState> result;
  caf::error failure;
  self->request(hdl, to_ms(timeout), state_atom::value)
      .receive([&](std::int32_t st) { result = static_cast<ServiceState>(st); },
               [&](caf::error& err) { failure = std::move(err); });
  if (result)
    return *result;
  if (failure == caf::sec::request_receiver_down && !object->binding()->get())
    // Its actor exited (after a crash, or after a stop for good), which makes the
    // object safe to read from here: the exit happened before the binding said so.
    return object->state();
  fail(impl_->call_name("state"), failure, timeout);
}

bool ServiceHandle::wait_until_stopped(std::optional<Seconds> timeout) const {
  impl_->require_plain_thread("wait_until_stopped()",
                              "co_await wait_until_stopped() in the service's coroutine");
  auto hdl = impl_->current();
  if (!hdl)
    return true;  // attached, and no actor: stopped
  caf::scoped_actor self{hdl->home_system()};
  bool stopped = false;
  caf::error failure;
  auto on_done = [&] {
    stopped = true;
  };
  auto on_error = [&](caf::error& err) {
    failure = std::move(err);
  };
  if (timeout)
    self->request(hdl, to_ms(*timeout), stopped_atom::value).receive(on_done, on_error);
  else
    self->request(hdl, caf::infinite, stopped_atom::value).receive(on_done, on_error);
  if (stopped || failure == caf::sec::request_receiver_down)
    return true;
  if (failure == caf::sec::request_timeout)
    return false;
  fail(impl_->call_name("wait_until_stopped"), failure, timeout);
}

std::string ServiceHandle::human_tracebacks(Seconds timeout) const {
  impl_->require_plain_thread("human_tracebacks()", "the service's own human_tracebacks()");
  auto hdl = impl_->existing();
  caf::scoped_actor self{hdl->home_system()};
  std::string result;
  caf::error failure;
  self->request(hdl, to_ms(timeout), traces_atom::value)
      .receive([&](std::string& text) { result = std::move(text); },
               [&](caf::error& err) { failure = std::move(err); });
  if (failure)
    fail(impl_->call_name("human_tracebacks"), failure, timeout);
  return result;
}

void ServiceHandle::send_start() const {
  caf::anon_send(impl_->live(), start_atom::value, true);
}

void ServiceHandle::send_stop() const {
  if (auto hdl = impl_->current())
    caf::anon_send(hdl, stop_atom::value);
}

void ServiceHandle::send_restart() const {
  if (!impl_->attached && !impl_->svc->binding()->get())
    send_start();
  else
    caf::anon_send(impl_->existing(), restart_atom::value);
}

namespace {

service_actor* require_service_actor(const char* call) {
  auto* self = running_actor();
  if (self == nullptr)
    throw std::logic_error(fmt::format(
        "mode: ServiceHandle::{} is awaited on a service's actor only; from a plain thread "
        "call the blocking form",
        call));
  return self;
}

}  // namespace

task<void> ServiceHandle::async_start() const {
  co_await request_awaiter{require_service_actor("async_start()"), impl_->live(),
                           caf::make_message(start_atom::value, true), "ServiceHandle.start",
                           std::source_location::current()};
}

task<void> ServiceHandle::async_stop() const {
  auto hdl = impl_->current();
  if (!hdl)
    co_return;  // attached, and no actor: stopped
  co_await request_awaiter{require_service_actor("async_stop()"), hdl,
                           caf::make_message(stop_atom::value), "ServiceHandle.stop",
                           std::source_location::current()};
}

std::shared_ptr<Service> ServiceHandle::service() const {
  return impl_->object();
}

const std::string& ServiceHandle::label() const noexcept {
  return impl_->label;
}

caf::message ServiceHandle::request_message(caf::message msg, Seconds timeout) const {
  impl_->require_plain_thread("request()", "co_await mode::request(...)");
  auto hdl = impl_->existing();
  caf::scoped_actor self{hdl->home_system()};
  caf::message reply;
  caf::error failure;
  self->request(hdl, to_ms(timeout), std::move(msg))
      .receive([&](caf::error& err) { failure = std::move(err); },
               caf::others >> [&](caf::message_view& xs) -> caf::result<caf::message> {
                 reply = xs.move_content_to_message();
                 return caf::message{};
               });
  if (failure)
    fail(impl_->call_name("request"), failure, timeout);
  return reply;
}

caf::actor ServiceHandle::actor() const {
  return impl_->current();
}

}  // namespace mode
