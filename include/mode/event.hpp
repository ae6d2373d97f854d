// mode::Event: an asyncio.Event for coroutines of one service.
#pragma once

#include <cstdint>
#include <source_location>
#include <vector>

#include "mode/detail/awaiters.hpp"

namespace mode {

/// A flag that coroutines can wait for, like asyncio.Event.
///
/// An Event belongs to the actor of the service that uses it: set(), clear() and
/// waiting happen on that actor (from its hooks and tasks). Waiters resume on a later
/// turn of the actor, not inside set(). To wait with a timeout, or until the service
/// stops, use Service::wait(event, timeout).
class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event();

  // -- observers ----------------------------------------------------------------

  /// True between set() and clear().
  [[nodiscard]] bool is_set() const noexcept { return set_; }

  // -- modifiers ----------------------------------------------------------------

  /// Sets the flag and wakes every waiter.
  void set();

  /// Clears the flag; later waits suspend until the next set().
  void clear() noexcept { set_ = false; }

  // -- awaiting -------------------------------------------------------------------

  /// `co_await event.wait()`: returns once the flag is set.
  detail::event_awaiter wait(std::source_location where = std::source_location::current());

  // -- internal -------------------------------------------------------------------

  /// Adds a waiter; set() posts a wake-up for it.
  void add_waiter(detail::coro_host* host, std::uint64_t id);
  /// Removes a waiter that ended another way (timeout, stop, cancellation).
  void remove_waiter(std::uint64_t id) noexcept;

 private:
  struct waiter {
    detail::coro_host* host;
    std::uint64_t id;
  };
  bool set_ = false;
  std::vector<waiter> waiters_;
};

}  // namespace mode
