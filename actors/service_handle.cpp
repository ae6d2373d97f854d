#include "mode/service_handle.hpp"

#include <mutex>
#include <stdexcept>

#include "service_actor.hpp"

namespace mode {

using namespace detail;

struct ServiceHandle::impl {
  caf::actor_system* sys;
  std::shared_ptr<Service> svc;
  mutable std::mutex mtx;
  caf::actor hdl;

  caf::actor current() const {
    std::lock_guard<std::mutex> guard{mtx};
    return hdl;
  }

  /// The live actor, spawning a new one for the same service if the old one exited.
  caf::actor live() {
    std::lock_guard<std::mutex> guard{mtx};
    if (!svc->binding()->get())
      hdl = service_actor::spawn(*sys, svc, 1, {});
    return hdl;
  }
};

namespace {

std::chrono::milliseconds to_ms(const Seconds& s) {
  return std::chrono::ceil<std::chrono::milliseconds>(s.duration());
}

[[noreturn]] void fail(const std::string& what, const caf::error& err) {
  if (err == caf::sec::request_timeout)
    throw std::runtime_error("mode: " + what + " timed out");
  throw ServiceCrashed{error_text(err)};
}

void call(caf::actor_system& sys, const caf::actor& dest, caf::message msg, const Seconds& timeout,
          const std::string& what) {
  caf::scoped_actor self{sys};
  caf::error failure;
  self->request(dest, to_ms(timeout), std::move(msg))
      .receive([] {}, [&](caf::error& err) { failure = std::move(err); });
  if (failure)
    fail(what, failure);
}

}  // namespace

ServiceHandle::ServiceHandle(caf::actor_system& sys, std::shared_ptr<Service> svc)
    : impl_(std::make_shared<impl>()) {
  if (!svc)
    throw std::invalid_argument("mode::ServiceHandle: null service");
  impl_->sys = &sys;
  impl_->svc = std::move(svc);
  impl_->hdl = service_actor::spawn(sys, impl_->svc, 1, {});
}

ServiceHandle::~ServiceHandle() = default;
ServiceHandle::ServiceHandle(const ServiceHandle&) = default;
ServiceHandle& ServiceHandle::operator=(const ServiceHandle&) = default;
ServiceHandle::ServiceHandle(ServiceHandle&&) noexcept = default;
ServiceHandle& ServiceHandle::operator=(ServiceHandle&&) noexcept = default;

void ServiceHandle::start(Seconds timeout) const {
  call(*impl_->sys, impl_->live(), caf::make_message(start_atom::value, true), timeout,
       impl_->svc->label() + ".start()");
}

void ServiceHandle::stop(Seconds timeout) const {
  auto hdl = impl_->current();
  caf::scoped_actor self{*impl_->sys};
  caf::error failure;
  self->request(hdl, to_ms(timeout), stop_atom::value)
      .receive([] {}, [&](caf::error& err) { failure = std::move(err); });
  // A service whose actor already exited (after a crash) is stopped.
  if (failure && failure != caf::sec::request_receiver_down)
    fail(impl_->svc->label() + ".stop()", failure);
}

void ServiceHandle::restart(Seconds timeout) const {
  if (!impl_->svc->binding()->get()) {
    // The actor exited after a crash: a new actor resets the service and starts it.
    start(timeout);
    return;
  }
  call(*impl_->sys, impl_->current(), caf::make_message(restart_atom::value), timeout,
       impl_->svc->label() + ".restart()");
}

void ServiceHandle::crash(std::string reason) const {
  caf::anon_send(impl_->current(), crash_atom::value, std::move(reason));
}

ServiceState ServiceHandle::state(Seconds timeout) const {
  caf::scoped_actor self{*impl_->sys};
  std::optional<ServiceState> result;
  caf::error failure;
  self->request(impl_->current(), to_ms(timeout), state_atom::value)
      .receive([&](std::int32_t st) { result = static_cast<ServiceState>(st); },
               [&](caf::error& err) { failure = std::move(err); });
  if (result)
    return *result;
  if (failure == caf::sec::request_receiver_down && !impl_->svc->binding()->get())
    // Its actor exited (after a crash, or after a stop for good), which makes the
    // object safe to read from here: the exit happened before the binding said so.
    return impl_->svc->state();
  fail(impl_->svc->label() + ".state()", failure);
}

bool ServiceHandle::wait_until_stopped(std::optional<Seconds> timeout) const {
  caf::scoped_actor self{*impl_->sys};
  bool stopped = false;
  caf::error failure;
  auto hdl = impl_->current();
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
  fail(impl_->svc->label() + ".wait_until_stopped()", failure);
}

std::string ServiceHandle::human_tracebacks(Seconds timeout) const {
  caf::scoped_actor self{*impl_->sys};
  std::string result;
  caf::error failure;
  self->request(impl_->current(), to_ms(timeout), traces_atom::value)
      .receive([&](std::string& text) { result = std::move(text); },
               [&](caf::error& err) { failure = std::move(err); });
  if (failure)
    fail(impl_->svc->label() + ".human_tracebacks()", failure);
  return result;
}

void ServiceHandle::send_start() const {
  caf::anon_send(impl_->live(), start_atom::value, true);
}

void ServiceHandle::send_stop() const {
  caf::anon_send(impl_->current(), stop_atom::value);
}

void ServiceHandle::send_restart() const {
  if (!impl_->svc->binding()->get())
    send_start();
  else
    caf::anon_send(impl_->current(), restart_atom::value);
}

task<void> ServiceHandle::async_start() const {
  co_await request_awaiter{running_actor(), impl_->live(),
                           caf::make_message(start_atom::value, true), "ServiceHandle.start",
                           std::source_location::current()};
}

task<void> ServiceHandle::async_stop() const {
  co_await request_awaiter{running_actor(), impl_->current(), caf::make_message(stop_atom::value),
                           "ServiceHandle.stop", std::source_location::current()};
}

const std::shared_ptr<Service>& ServiceHandle::service() const noexcept {
  return impl_->svc;
}

caf::actor ServiceHandle::actor() const {
  return impl_->current();
}

}  // namespace mode
