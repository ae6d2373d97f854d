// What Service::wait, wait_many and wait_first take (Waitable) and return (WaitResult,
// WaitResults): mode's Service.wait family.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "mode/event.hpp"
#include "mode/task.hpp"

namespace mode {

/// Result of Service::wait: `stopped` is true if the service stopped (or crashed)
/// before what was awaited finished; `timed_out` if the timeout passed first.
struct WaitResult {
  bool stopped = false;
  bool timed_out = false;
  /// True if what was awaited finished.
  [[nodiscard]] bool done() const noexcept { return !stopped && !timed_out; }
};

/// Result of Service::wait_first: the indexes (into the list passed in) of those that
/// finished; all empty when the service stopped first or the timeout passed.
struct WaitResults {
  std::vector<std::size_t> done;
  bool stopped = false;
};

/// Something Service::wait, wait_first and wait_many can wait for: an Event or a
/// task<void>. Copyable, so a brace list `{ev1, ev2}` works; a task is shared by the
/// copies and runs once. Inside a coroutine, name the list before co_await (g++ 12
/// rejects a braced list that must live across a suspension: "array used as initializer").
class Waitable {
 public:
  Waitable(Event& ev) : event_(&ev) {}  // NOLINT(google-explicit-constructor)
  Waitable(task<void> t)                // NOLINT(google-explicit-constructor)
      : task_(std::make_shared<task<void>>(std::move(t))) {}
  /// The event, or nullptr for a task.
  [[nodiscard]] Event* event() const noexcept { return event_; }
  /// Takes the task out (empty for an event, or once taken).
  [[nodiscard]] task<void> take_task() const { return task_ ? std::move(*task_) : task<void>{}; }

 private:
  Event* event_ = nullptr;
  std::shared_ptr<task<void>> task_;
};

}  // namespace mode
