#include "mode/detail/awaiters.hpp"

#include "mode/event.hpp"

#include <stdexcept>

namespace mode::detail {

// -- wait_awaiter -------------------------------------------------------------------

void wait_awaiter::await_suspend(std::coroutine_handle<> h) {
  if (host_ == nullptr)
    throw std::logic_error("mode: co_await on a service wait outside of a service's actor");
  auto id = host_->suspend(node_, h);
  if (timeout_)
    host_->driver().schedule_timeout(id, *timeout_);
  on_registered(id);
}

wake_reason wait_awaiter::await_resume() {
  if (ready_)
    return wake_reason::fired;
  on_resumed();
  if (node_.reason == wake_reason::cancelled)
    throw CancelledError{};
  return node_.reason;
}

// -- event_awaiter ------------------------------------------------------------------

event_awaiter::event_awaiter(Event& ev, coro_host* host,
                             std::optional<std::chrono::nanoseconds> timeout, bool wake_on_stop,
                             bool ready, std::source_location where) noexcept
    : wait_awaiter(host, timeout, wake_on_stop, ready, "Event.wait", where), event_(ev) {}

event_awaiter::~event_awaiter() {
  on_resumed();
}

void event_awaiter::on_registered(std::uint64_t id) {
  event_.add_waiter(host_, id);
  registered_id_ = id;
}

void event_awaiter::on_resumed() noexcept {
  if (registered_id_ != 0)
    event_.remove_waiter(std::exchange(registered_id_, 0));
}

}  // namespace mode::detail

namespace mode {

Event::~Event() = default;

void Event::set() {
  set_ = true;
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters)
    w.host->driver().post_wake(w.id);
}

detail::event_awaiter Event::wait(std::source_location where) {
  return detail::event_awaiter{*this, detail::running_host(), std::nullopt, false, set_, where};
}

void Event::add_waiter(detail::coro_host* host, std::uint64_t id) {
  waiters_.push_back({host, id});
}

void Event::remove_waiter(std::uint64_t id) noexcept {
  std::erase_if(waiters_, [id](const waiter& w) { return w.id == id; });
}

}  // namespace mode
