// The awaiters behind Service::sleep, Service::wait and Event::wait.
#pragma once

#include <chrono>
#include <coroutine>
#include <optional>
#include <source_location>

#include "mode/detail/coro_host.hpp"

namespace mode {
class Event;
}

namespace mode::detail {

/// The coroutine host running on this thread right now (set while an actor resumes
/// or begins one of its service's coroutines), or nullptr.
coro_host* running_host() noexcept;

/// Suspends until woken, with an optional timeout and an optional early return on
/// stop. Returns why it resumed; throws CancelledError when cancelled.
class wait_awaiter {
 public:
  wait_awaiter(coro_host* host, std::optional<std::chrono::nanoseconds> timeout, bool wake_on_stop,
               bool ready, const char* what, std::source_location where) noexcept
      : host_(host), timeout_(timeout), ready_(ready) {
    node_.wake_on_stop = wake_on_stop;
    node_.what = what;
    node_.where = where;
  }
  wait_awaiter(const wait_awaiter&) = delete;
  wait_awaiter& operator=(const wait_awaiter&) = delete;
  ~wait_awaiter() {
    if (host_ != nullptr)
      host_->forget(node_);
  }

  bool await_ready() const noexcept { return ready_; }
  void await_suspend(std::coroutine_handle<> h);
  wake_reason await_resume();

 protected:
  /// Called once registered: whatever must wake this wait learns its id here.
  virtual void on_registered(std::uint64_t) {}
  /// Called once resumed: undo what on_registered did, if needed.
  virtual void on_resumed() noexcept {}

  coro_host* host_;
  std::optional<std::chrono::nanoseconds> timeout_;
  bool ready_;
  wait_node node_;
};

/// `co_await event.wait()` and Service::wait(event, ...).
class event_awaiter : public wait_awaiter {
 public:
  event_awaiter(Event& ev, coro_host* host, std::optional<std::chrono::nanoseconds> timeout,
                bool wake_on_stop, bool ready, std::source_location where) noexcept;
  ~event_awaiter();

 protected:
  void on_registered(std::uint64_t id) override;
  void on_resumed() noexcept override;

 private:
  Event& event_;
  std::uint64_t registered_id_ = 0;
};

}  // namespace mode::detail
